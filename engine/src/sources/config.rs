//! `[[sources.import]]` entries of `revintel.toml`, and how each becomes a
//! mapping and a list of entities.
//!
//! An entry names a `kind` — a transport plus a built-in mapping — and where
//! to read. `mapping = "file.toml"` lays a mapping file over the kind's
//! built-in one, and the format keys (`encoding`, `delimiter`,
//! `date_format`, `decimal`, `currency`) written on the entry itself are laid
//! over both. PostgreSQL settings come from the entry or the environment;
//! a password is never needed in the file (see [`super::postgres`]).

use super::mapping::Mapping;
use super::{Entity, SourceError};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// A Salesforce Opportunity report export (CSV): deals.
    Salesforce,
    /// A Salesforce OpportunityHistory export (CSV): stage history.
    SalesforceHistory,
    /// A HubSpot deals export (CSV): deals, and stage history from its
    /// `Date entered/exited` columns.
    Hubspot,
    /// Any CSV, through a mapping file (or in canonical layout).
    Csv,
    /// A Parquet file.
    Parquet,
    /// A PostgreSQL table or query.
    Postgres,
}

impl ImportKind {
    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Salesforce => "salesforce",
            ImportKind::SalesforceHistory => "salesforce_history",
            ImportKind::Hubspot => "hubspot",
            ImportKind::Csv => "csv",
            ImportKind::Parquet => "parquet",
            ImportKind::Postgres => "postgres",
        }
    }

    fn preset(self) -> Option<&'static str> {
        match self {
            ImportKind::Salesforce => Some(include_str!("presets/salesforce.toml")),
            ImportKind::SalesforceHistory => Some(include_str!("presets/salesforce_history.toml")),
            ImportKind::Hubspot => Some(include_str!("presets/hubspot.toml")),
            _ => None,
        }
    }
}

/// One `[[sources.import]]` entry, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSpec {
    /// How `revintel import NAME` and the load report call it (default: the
    /// file stem or table name).
    pub name: Option<String>,
    pub kind: ImportKind,
    /// The file (CSV kinds, Parquet), relative to the config's folder.
    pub path: Option<PathBuf>,
    /// The entity the source holds (`deals`, `accounts`, `reps`, `products`,
    /// `stage_history`), for kinds that hold any.
    pub entity: Option<String>,
    /// A mapping file laid over the kind's built-in mapping.
    pub mapping: Option<PathBuf>,
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    pub date_format: Option<String>,
    pub decimal: Option<String>,
    /// A locale (`de-DE`, `en-US`) for its decimal separator.
    pub locale: Option<String>,
    pub currency: Option<String>,
    /// PostgreSQL: a table (optionally `schema.table`) …
    pub table: Option<String>,
    /// … or a query.
    pub query: Option<String>,
    /// PostgreSQL connection string; else `$DATABASE_URL`, else the `PG*` variables.
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    /// The environment variable holding the password (default `PGPASSWORD`).
    pub password_env: Option<String>,
    /// Time zone in which PostgreSQL timestamps are cut to days (default UTC).
    pub timezone: Option<String>,
    /// A `path` with wildcards reads the newest match: by `name` (default)
    /// or by time `modified` (see [`super::drops`]).
    pub newest: Option<String>,
    /// Seconds a matched file must hold still before it is read (default 1).
    pub settle_seconds: Option<f64>,
    /// PostgreSQL: how often `watch` and `serve` check for changes
    /// (`"30s"`, `"5m"`, `"1h"`).
    pub refresh: Option<String>,
    /// PostgreSQL: a cheap query whose result changes when the rows do
    /// (`SELECT max(last_modified), count(*) FROM crm.opportunities`);
    /// without it a refresh reads the rows and compares their hash.
    pub change_query: Option<String>,
}

/// `"90s"`, `"5m"`, `"1h"`, `"1d"` (or bare seconds) as a duration.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as \"30s\", \"5m\" or \"1h\""))?;
    let seconds = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return Err(format!("`{text}`: the unit must be ms, s, m, h or d")),
    };
    if !(0.1..=7.0 * 86400.0).contains(&seconds) {
        return Err(format!("`{text}`: use 100ms to 7d"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// An import ready to run: its mapping resolved and paths absolute.
#[derive(Debug, Clone)]
pub struct ResolvedImport {
    pub name: String,
    pub spec: ImportSpec,
    /// The file, for file kinds.
    pub path: Option<PathBuf>,
    pub mapping: Mapping,
    /// The entity its rows are read as.
    pub entity: Entity,
    /// For a path with wildcards: which file it chose, out of how many.
    pub chosen: Option<String>,
}

impl ImportSpec {
    /// Resolves paths against `root` and builds the mapping.
    pub fn resolve(&self, root: &Path, config: &Path) -> Result<ResolvedImport, SourceError> {
        let bad = |message: String| SourceError::Config {
            path: config.to_path_buf(),
            message: format!("[[sources.import]] {}: {message}", self.label()),
        };
        let is_file = !matches!(self.kind, ImportKind::Postgres);
        if is_file && self.path.is_none() {
            return Err(bad(format!("a {} import needs `path`", self.kind.as_str())));
        }
        if !is_file && self.path.is_some() {
            return Err(bad(
                "a postgres import reads `table` or `query`, not `path`".into(),
            ));
        }
        let pg_keys = [
            self.table.is_some(),
            self.query.is_some(),
            self.url.is_some(),
            self.host.is_some(),
            self.port.is_some(),
            self.user.is_some(),
            self.dbname.is_some(),
            self.password_env.is_some(),
            self.timezone.is_some(),
        ];
        if is_file && pg_keys.iter().any(|k| *k) {
            return Err(bad(format!(
                "table, query and connection settings belong to postgres imports, not {}",
                self.kind.as_str()
            )));
        }
        if is_file && (self.refresh.is_some() || self.change_query.is_some()) {
            return Err(bad(format!(
                "`refresh` and `change_query` belong to postgres imports; a {} import is watched as a file",
                self.kind.as_str()
            )));
        }
        if self.change_query.is_some() && self.refresh.is_none() {
            return Err(bad("`change_query` needs a `refresh` interval".into()));
        }
        if let Some(r) = &self.refresh {
            parse_duration(r).map_err(|e| bad(format!("refresh: {e}")))?;
        }
        if !is_file && self.table.is_some() == self.query.is_some() {
            return Err(bad(
                "a postgres import needs exactly one of `table` and `query`".into(),
            ));
        }
        let mut mapping = Mapping::canonical();
        if let Some(preset) = self.kind.preset() {
            mapping
                .overlay_toml(preset)
                .expect("built-in mappings are valid");
        }
        if let Some(file) = &self.mapping {
            let file = root.join(file);
            let text = std::fs::read_to_string(&file).map_err(|source| SourceError::Io {
                path: file.clone(),
                source,
            })?;
            mapping
                .overlay_toml(&text)
                .map_err(|message| SourceError::Config {
                    path: file.clone(),
                    message,
                })?;
        }
        for (key, value) in [
            ("encoding", &self.encoding),
            ("delimiter", &self.delimiter),
            ("date_format", &self.date_format),
            ("decimal", &self.decimal),
            ("locale", &self.locale),
            ("currency", &self.currency),
        ] {
            if let Some(v) = value {
                mapping
                    .set_format(key, v)
                    .map_err(|e| bad(format!("{key}: {e}")))?;
            }
        }
        let entity = match self.kind {
            ImportKind::Salesforce | ImportKind::Hubspot => Entity::Deals,
            ImportKind::SalesforceHistory => Entity::StageHistory,
            _ => match (&self.entity, mapping.sections().as_slice()) {
                (Some(e), _) => Entity::from_table(e).ok_or_else(|| {
                    bad(format!(
                        "entity `{e}` is not one of deals, accounts, reps, products, stage_history"
                    ))
                })?,
                (None, [only]) => *only,
                (None, _) => {
                    return Err(bad(
                        "say which entity it holds: entity = \"deals\" (or accounts, reps, products, stage_history)"
                            .into(),
                    ))
                }
            },
        };
        if let (
            Some(e),
            ImportKind::Salesforce | ImportKind::Hubspot | ImportKind::SalesforceHistory,
        ) = (&self.entity, self.kind)
        {
            if Entity::from_table(e) != Some(entity) {
                return Err(bad(format!(
                    "a {} import holds {}, not `{e}`",
                    self.kind.as_str(),
                    entity.table()
                )));
            }
        }
        let mut path = self.path.as_ref().map(|p| root.join(p));
        let mut chosen = None;
        if (self.newest.is_some() || self.settle_seconds.is_some())
            && !path.as_deref().is_some_and(super::drops::is_pattern)
        {
            return Err(bad(
                "`newest` and `settle_seconds` go with a `path` that has wildcards".into(),
            ));
        }
        if let Some(pattern) = path.clone().filter(|p| super::drops::is_pattern(p)) {
            let newest = match self.newest.as_deref() {
                None | Some("name") => super::drops::Newest::ByName,
                Some("modified") => super::drops::Newest::ByModified,
                Some(other) => {
                    return Err(bad(format!(
                        "newest = {other:?}: use \"name\" or \"modified\""
                    )))
                }
            };
            let settle = match self.settle_seconds {
                None => std::time::Duration::from_secs(1),
                Some(s) if (0.0..=600.0).contains(&s) => std::time::Duration::from_secs_f64(s),
                Some(s) => return Err(bad(format!("settle_seconds = {s}: use 0 to 600"))),
            };
            let (file, count) = super::drops::pick(&pattern, newest, settle, config)?;
            chosen = Some(format!(
                "newest of {count} file(s) matching {}",
                self.path
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            ));
            path = Some(file);
        }
        Ok(ResolvedImport {
            name: self.label(),
            path,
            spec: self.clone(),
            mapping,
            entity,
            chosen,
        })
    }

    /// The import's name: `name`, else the file stem or table, else the kind.
    pub fn label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        if let Some(stem) = self.path.as_ref().and_then(|p| p.file_stem()) {
            // `opportunities-*` reads as `opportunities`.
            let stem = stem.to_string_lossy();
            let plain = stem
                .split(['*', '?', '['])
                .next()
                .unwrap_or_default()
                .trim_end_matches(['-', '_', '.', ' ']);
            return if plain.is_empty() {
                stem.into_owned()
            } else {
                plain.to_string()
            };
        }
        if let Some(t) = &self.table {
            return t.clone();
        }
        self.kind.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_intervals_read_as_durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("8d").is_err());
    }

    fn spec(toml_text: &str) -> ImportSpec {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn kinds_resolve_to_their_entity_and_options_override_the_preset() {
        let dir = Path::new("/project");
        let cfg = dir.join("revintel.toml");
        let r = spec("kind = \"salesforce\"\npath = \"opps.csv\"\ndate_format = \"%d.%m.%Y\"\ndecimal = \",\"\n")
            .resolve(dir, &cfg)
            .unwrap();
        assert_eq!(r.entity, Entity::Deals);
        assert_eq!(r.name, "opps");
        assert_eq!(r.path.as_deref(), Some(Path::new("/project/opps.csv")));
        assert_eq!(r.mapping.formats.date.pattern(), "%d.%m.%Y");
        assert_eq!(r.mapping.formats.number.decimal, ',');
        assert_eq!(
            r.mapping
                .stages
                .resolve("Negotiation/Review", None)
                .unwrap()
                .name,
            "Negotiation"
        );
    }

    #[test]
    fn incomplete_entries_are_refused_with_the_reason() {
        let dir = Path::new("/p");
        let cfg = dir.join("revintel.toml");
        let err = spec("kind = \"csv\"\npath = \"x.csv\"\n")
            .resolve(dir, &cfg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("entity = \"deals\""), "{err}");
        let err = spec("kind = \"postgres\"\n")
            .resolve(dir, &cfg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("exactly one of `table` and `query`"), "{err}");
        let err = spec("kind = \"parquet\"\npath = \"x\"\ntable = \"t\"\n")
            .resolve(dir, &cfg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("belong to postgres"), "{err}");
        assert!(toml::from_str::<ImportSpec>("kind = \"excel\"\npath = \"x\"\n").is_err());
        assert!(toml::from_str::<ImportSpec>("kind = \"csv\"\npassword = \"x\"\n").is_err());
    }
}
