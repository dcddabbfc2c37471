//! Mapping files: how an export's columns, formats and stages become the
//! canonical entities.
//!
//! A mapping is TOML. `[format]` declares the encoding, delimiter, date
//! pattern, decimal separator and default currency; `[stages]` maps each CRM
//! stage onto revintel's funnel (four open stages in order, then won or
//! lost); one section per entity (`[deals]`, `[accounts]`, `[reps]`,
//! `[products]`, `[stage_history]`) maps canonical fields to columns. The
//! built-in importers are mappings too (`presets/*.toml`), and a user's
//! mapping or an import's options are laid over them, key by key. See the
//! README's "Sources" section for the full vocabulary.
//!
//! A field not named in its section is looked for under its canonical name,
//! so a file that already uses canonical headers needs no mapping at all.

use super::encoding::TextEncoding;
use super::values::{DateFormat, NumberFormat};
use super::Entity;
use ml::stages::{LOST, OPEN_STAGES, WON};
use std::collections::{BTreeMap, HashMap};

/// Whether a stage leaves a deal open, won or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Open,
    Won,
    Lost,
}

impl Outcome {
    /// The canonical `deals.outcome` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Won => "won",
            Outcome::Lost => "lost",
        }
    }

    /// Reads `open`, `won` or `lost` (any case).
    pub fn parse(s: &str) -> Option<Outcome> {
        // Read for every deal row: compared in place, nothing allocated.
        let s = s.trim();
        [Outcome::Open, Outcome::Won, Outcome::Lost]
            .into_iter()
            .find(|o| s.eq_ignore_ascii_case(o.as_str()))
    }
}

/// One of revintel's stages: the four open ones in funnel order, won, lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanonicalStage {
    pub name: &'static str,
    pub outcome: Outcome,
    /// Funnel position for open stages.
    pub order: Option<usize>,
}

impl CanonicalStage {
    /// Every canonical stage.
    pub fn all() -> Vec<CanonicalStage> {
        let mut all: Vec<CanonicalStage> = OPEN_STAGES
            .iter()
            .enumerate()
            .map(|(i, name)| CanonicalStage {
                name,
                outcome: Outcome::Open,
                order: Some(i),
            })
            .collect();
        all.push(CanonicalStage {
            name: WON,
            outcome: Outcome::Won,
            order: None,
        });
        all.push(CanonicalStage {
            name: LOST,
            outcome: Outcome::Lost,
            order: None,
        });
        all
    }

    fn by_name(name: &str) -> Option<CanonicalStage> {
        let key = name.trim().to_ascii_lowercase();
        match key.as_str() {
            "won" => return Self::all().into_iter().find(|s| s.outcome == Outcome::Won),
            "lost" => return Self::all().into_iter().find(|s| s.outcome == Outcome::Lost),
            _ => {}
        }
        Self::all()
            .into_iter()
            .find(|s| s.name.to_ascii_lowercase() == key)
    }

    /// The forecast category the stage implies when the source gives none.
    pub fn forecast_category(self) -> &'static str {
        ml::stages::forecast_category(self.name)
    }
}

/// CRM stage names (any case) to canonical stages. Canonical names always map
/// to themselves unless a mapping says otherwise.
#[derive(Debug, Clone, Default)]
pub struct StageMap {
    entries: HashMap<String, CanonicalStage>,
}

/// A name as matched: runs of whitespace as one space, lower case.
pub(super) fn stage_key(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl StageMap {
    /// The stage `raw` maps to; with a pipeline, `"<stage> (<pipeline>)"` is
    /// looked up first.
    pub fn resolve(&self, raw: &str, pipeline: Option<&str>) -> Option<CanonicalStage> {
        if let Some(p) = pipeline.filter(|p| !p.trim().is_empty()) {
            if let Some(s) = self.entries.get(&stage_key(&format!("{raw} ({p})"))) {
                return Some(*s);
            }
        }
        self.entries
            .get(&stage_key(raw))
            .copied()
            .or_else(|| CanonicalStage::by_name(raw))
    }

    /// The stage names this map knows, for messages.
    pub fn known(&self) -> String {
        let mut names: Vec<String> = self.entries.keys().cloned().collect();
        names.extend(CanonicalStage::all().iter().map(|s| s.name.to_lowercase()));
        names.sort();
        names.dedup();
        names.join(", ")
    }

    fn insert(&mut self, name: &str, stage: CanonicalStage) {
        self.entries.insert(stage_key(name), stage);
    }
}

/// What to put in a field whose value is blank.
#[derive(Debug, Clone, PartialEq)]
pub enum Blank {
    /// The project's as-of date: "seen in the export taken then".
    AsOf,
    Value(String),
}

/// A value computed from other loaded data instead of read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derivation {
    /// `deals.amount`: the deal's product's `list_price`.
    ProductListPrice,
    /// `accounts.segment`: SMB under 200 employees, Mid-Market under 2,000,
    /// else Enterprise (the bands the demo data uses).
    SegmentFromEmployees,
}

/// Where a field's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldSource {
    /// The first of these headers present in the file (any case).
    Columns(Vec<String>),
    /// A constant.
    Value(String),
    Derived(Derivation),
    /// Not mapped: looked for under its canonical name.
    Default,
}

/// How one field is read.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRule {
    pub source: FieldSource,
    /// Whole-value replacements applied before parsing (`GTXPro` → `GTX Pro`).
    pub replace: HashMap<String, String>,
    pub if_blank: Option<Blank>,
    /// A date pattern for this field only.
    pub date_format: Option<DateFormat>,
    /// Multiply numbers by this (`revenue` in millions → `scale = 1000000`).
    pub scale: Option<f64>,
}

impl Default for FieldRule {
    fn default() -> Self {
        FieldRule {
            source: FieldSource::Default,
            replace: HashMap::new(),
            if_blank: None,
            date_format: None,
            scale: None,
        }
    }
}

/// Fields a mapping may read besides an entity's columns.
pub fn side_fields(entity: Entity) -> &'static [&'static str] {
    match entity {
        // `account_name` names derived accounts; `pipeline` qualifies stage names.
        Entity::Deals => &["account_name", "pipeline"],
        _ => &[],
    }
}

/// The declared formats of a text source.
#[derive(Debug, Clone)]
pub struct Formats {
    pub encoding: TextEncoding,
    /// `None`: sniffed from the header line (`,`, `;` or tab).
    pub delimiter: Option<u8>,
    pub date: DateFormat,
    pub number: NumberFormat,
    /// Currency of deals without a currency column or value.
    pub currency: Option<String>,
}

impl Formats {
    /// Canonical files: UTF-8, commas, ISO dates, plain numbers.
    pub fn canonical() -> Formats {
        Formats {
            encoding: TextEncoding::Auto,
            delimiter: Some(b','),
            date: DateFormat::iso(),
            number: NumberFormat::canonical(),
            currency: None,
        }
    }
}

/// A complete mapping: formats, stages and per-entity field rules.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub formats: Formats,
    pub stages: StageMap,
    /// For synthesized stage history: the stage a deal is in from its
    /// created date (default: the first open stage).
    pub created_stage: Option<CanonicalStage>,
    pub entities: BTreeMap<Entity, BTreeMap<String, FieldRule>>,
}

impl Mapping {
    /// The identity mapping of canonical files.
    pub fn canonical() -> Mapping {
        Mapping {
            formats: Formats::canonical(),
            stages: StageMap::default(),
            created_stage: None,
            entities: BTreeMap::new(),
        }
    }

    /// The entities this mapping has a section for.
    pub fn sections(&self) -> Vec<Entity> {
        self.entities.keys().copied().collect()
    }

    /// The rule for `field` of `entity` (the default rule if unmapped).
    pub fn rule(&self, entity: Entity, field: &str) -> FieldRule {
        self.entities
            .get(&entity)
            .and_then(|f| f.get(field))
            .cloned()
            .unwrap_or_default()
    }

    /// Lays the TOML text of a mapping over this one.
    pub fn overlay_toml(&mut self, text: &str) -> Result<(), String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        self.overlay(&table)
    }

    /// Lays a parsed mapping table over this one.
    pub fn overlay(&mut self, table: &toml::Table) -> Result<(), String> {
        // Stages first: `[history]` names a stage by the mapping's names.
        let rank = |k: &str| match k {
            "format" => 0,
            "stages" => 1,
            "history" => 2,
            _ => 3,
        };
        let mut entries: Vec<(&String, &toml::Value)> = table.iter().collect();
        entries.sort_by_key(|(k, _)| rank(k));
        for (key, value) in entries {
            match key.as_str() {
                "format" => self.overlay_format(as_table(value, "[format]")?, "[format]")?,
                "stages" => self.overlay_stages(as_table(value, "[stages]")?)?,
                "history" => {
                    for (k, v) in as_table(value, "[history]")? {
                        match k.as_str() {
                            "created_stage" => {
                                let name = as_str(v, "[history] created_stage")?;
                                self.created_stage = Some(self.stages.resolve(name, None).ok_or_else(
                                    || format!("[history] created_stage: unknown stage `{name}`; known: {}", self.stages.known()),
                                )?);
                            }
                            other => {
                                return Err(format!(
                                    "[history]: unknown key `{other}` (expected created_stage)"
                                ))
                            }
                        }
                    }
                }
                section => {
                    let entity = Entity::from_table(section).ok_or_else(|| {
                        format!(
                            "unknown section `[{section}]`; expected format, stages, history, deals, accounts, reps, products or stage_history"
                        )
                    })?;
                    let fields = self.entities.entry(entity).or_default();
                    for (field, spec) in as_table(value, &format!("[{section}]"))? {
                        let known = entity.columns().iter().any(|c| c.name == field)
                            || side_fields(entity).contains(&field.as_str());
                        if !known {
                            let mut names: Vec<&str> =
                                entity.columns().iter().map(|c| c.name).collect();
                            names.extend(side_fields(entity));
                            return Err(format!(
                                "[{section}]: unknown field `{field}`; {section} has {}",
                                names.join(", ")
                            ));
                        }
                        let rule = field_rule(spec, &format!("[{section}] {field}"))?;
                        fields.insert(field.clone(), rule);
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies format keys (`encoding`, `delimiter`, `date_format`,
    /// `decimal`, `currency`); `context` names where they came from.
    pub fn overlay_format(&mut self, table: &toml::Table, context: &str) -> Result<(), String> {
        for (key, value) in table {
            let at = format!("{context} {key}");
            let text = as_str(value, &at)?;
            self.set_format(key, text)
                .map_err(|e| format!("{at}: {e}"))?;
        }
        Ok(())
    }

    /// Sets one format option.
    pub fn set_format(&mut self, key: &str, text: &str) -> Result<(), String> {
        let f = &mut self.formats;
        match key {
            "encoding" => f.encoding = TextEncoding::from_label(text)?,
            "delimiter" => {
                f.delimiter = match text {
                    "auto" => None,
                    "\\t" | "\t" | "tab" => Some(b'\t'),
                    t if t.len() == 1 && t.is_ascii() => Some(t.as_bytes()[0]),
                    t => return Err(format!("delimiter `{t}` must be one character, `tab` or `auto`")),
                }
            }
            "date_format" => f.date = DateFormat::new(text)?,
            "decimal" => {
                f.number = match text {
                    "." => NumberFormat::export('.'),
                    "," => NumberFormat::export(','),
                    t => return Err(format!("decimal `{t}` must be `.` (1,234.56) or `,` (1.234,56)")),
                }
            }
            "currency" => f.currency = Some(text.trim().to_string()),
            // A locale names the decimal separator its numbers use.
            "locale" => {
                let lang = text
                    .split(['-', '_'])
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let comma = [
                    "de", "fr", "es", "it", "pt", "nl", "da", "sv", "nb", "nn", "no", "fi", "pl",
                    "cs", "sk", "ru", "uk", "tr", "el", "hu", "ro", "bg", "hr", "sl", "id", "vi",
                    "lt", "lv", "et",
                ];
                let point = ["en", "ja", "zh", "ko", "he", "th", "hi", "ms", "fil", "ga"];
                f.number = if comma.contains(&lang.as_str()) {
                    NumberFormat::export(',')
                } else if point.contains(&lang.as_str()) {
                    NumberFormat::export('.')
                } else {
                    return Err(format!(
                        "locale `{text}` is not one revintel knows the numbers of; set decimal = \".\" or \",\" instead"
                    ));
                }
            }
            other => {
                return Err(format!(
                    "unknown format key `{other}` (expected encoding, delimiter, date_format, decimal, locale, currency)"
                ))
            }
        }
        Ok(())
    }

    fn overlay_stages(&mut self, table: &toml::Table) -> Result<(), String> {
        for (name, spec) in table {
            let at = format!("[stages] {name:?}");
            let stage = match spec {
                toml::Value::String(target) => CanonicalStage::by_name(target).ok_or_else(|| {
                    format!(
                        "{at}: `{target}` is not a revintel stage; use one of Prospecting, Qualification, Proposal, Negotiation, Closed Won, Closed Lost (or won, lost), or {{ outcome = \"open\", order = N }}"
                    )
                })?,
                toml::Value::Table(t) => {
                    let mut outcome = None;
                    let mut order = None;
                    for (k, v) in t {
                        match k.as_str() {
                            "outcome" => {
                                let o = as_str(v, &at)?;
                                outcome = Some(Outcome::parse(o).ok_or_else(|| {
                                    format!("{at}: outcome `{o}` must be open, won or lost")
                                })?);
                            }
                            "order" => {
                                let n = v
                                    .as_integer()
                                    .filter(|n| (0..OPEN_STAGES.len() as i64).contains(n))
                                    .ok_or_else(|| {
                                        format!(
                                            "{at}: order must be 0 to {} (revintel's open stages are {})",
                                            OPEN_STAGES.len() - 1,
                                            OPEN_STAGES.join(", ")
                                        )
                                    })?;
                                order = Some(n as usize);
                            }
                            other => {
                                return Err(format!(
                                    "{at}: unknown key `{other}` (expected outcome, order)"
                                ))
                            }
                        }
                    }
                    match (outcome.unwrap_or(Outcome::Open), order) {
                        (Outcome::Open, Some(i)) => CanonicalStage::all()[i],
                        (Outcome::Open, None) => {
                            return Err(format!("{at}: an open stage needs its order (0 = first)"))
                        }
                        (o, _) => CanonicalStage::all()
                            .into_iter()
                            .find(|s| s.outcome == o)
                            .expect("won and lost are canonical stages"),
                    }
                }
                _ => return Err(format!("{at}: expected a stage name or {{ outcome, order }}")),
            };
            self.stages.insert(name, stage);
        }
        Ok(())
    }
}

fn as_table<'a>(v: &'a toml::Value, at: &str) -> Result<&'a toml::Table, String> {
    v.as_table()
        .ok_or_else(|| format!("{at}: expected a table"))
}

fn as_str<'a>(v: &'a toml::Value, at: &str) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| format!("{at}: expected a string"))
}

fn columns(v: &toml::Value, at: &str) -> Result<Vec<String>, String> {
    match v {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| as_str(i, at).map(str::to_string))
            .collect(),
        _ => Err(format!("{at}: expected a column name or a list of them")),
    }
}

fn field_rule(spec: &toml::Value, at: &str) -> Result<FieldRule, String> {
    let mut rule = FieldRule::default();
    let table = match spec {
        toml::Value::String(_) | toml::Value::Array(_) => {
            rule.source = FieldSource::Columns(columns(spec, at)?);
            return Ok(rule);
        }
        toml::Value::Table(t) => t,
        _ => {
            return Err(format!(
                "{at}: expected a column name, a list of them, or a table"
            ))
        }
    };
    for (key, v) in table {
        let here = format!("{at}.{key}");
        match key.as_str() {
            "column" => rule.source = FieldSource::Columns(columns(v, &here)?),
            "value" => rule.source = FieldSource::Value(as_str(v, &here)?.to_string()),
            "derive" => {
                rule.source = FieldSource::Derived(match as_str(v, &here)? {
                    "product_list_price" => Derivation::ProductListPrice,
                    "segment_from_employees" => Derivation::SegmentFromEmployees,
                    other => {
                        return Err(format!(
                            "{here}: unknown derivation `{other}` (expected product_list_price or segment_from_employees)"
                        ))
                    }
                })
            }
            "replace" => {
                for (from, to) in as_table(v, &here)? {
                    rule.replace
                        .insert(from.clone(), as_str(to, &here)?.to_string());
                }
            }
            "if_blank" => {
                let s = as_str(v, &here)?;
                rule.if_blank = Some(if s == "as_of" {
                    Blank::AsOf
                } else {
                    Blank::Value(s.to_string())
                });
            }
            "date_format" => rule.date_format = Some(DateFormat::new(as_str(v, &here)?)
                .map_err(|e| format!("{here}: {e}"))?),
            "scale" => {
                rule.scale = Some(
                    v.as_float()
                        .or_else(|| v.as_integer().map(|i| i as f64))
                        .ok_or_else(|| format!("{here}: expected a number"))?,
                )
            }
            other => {
                return Err(format!(
                    "{at}: unknown key `{other}` (expected column, value, derive, replace, if_blank, date_format, scale)"
                ))
            }
        }
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_map_by_name_or_outcome_and_order() {
        let mut m = Mapping::canonical();
        m.overlay_toml(
            "[stages]\nEngaging = { outcome = \"open\", order = 1 }\nWon = \"won\"\n\"Closed Lost\" = \"Closed Lost\"\n",
        )
        .unwrap();
        assert_eq!(
            m.stages.resolve("engaging", None).unwrap().name,
            "Qualification"
        );
        assert_eq!(
            m.stages.resolve(" Won ", None).unwrap().outcome,
            Outcome::Won
        );
        assert_eq!(
            m.stages.resolve("Prospecting", None).unwrap().order,
            Some(0)
        );
        assert!(m.stages.resolve("Signed", None).is_none());
    }

    #[test]
    fn bad_mappings_say_where() {
        let mut m = Mapping::canonical();
        let err = m.overlay_toml("[deals]\nvalue_usd = \"x\"\n").unwrap_err();
        assert!(
            err.contains("unknown field `value_usd`") && err.contains("amount"),
            "{err}"
        );
        let err = m
            .overlay_toml("[deals]\namount = { column = \"a\", sclae = 2 }\n")
            .unwrap_err();
        assert!(
            err.contains("[deals] amount") && err.contains("sclae"),
            "{err}"
        );
        let err = m
            .overlay_toml("[stages]\nX = { outcome = \"open\" }\n")
            .unwrap_err();
        assert!(err.contains("order"), "{err}");
        let err = m.overlay_toml("[format]\ndecimal = \";\"\n").unwrap_err();
        assert!(err.contains("decimal"), "{err}");
        let err = m
            .overlay_toml("[format]\nlocale = \"xx-YY\"\n")
            .unwrap_err();
        assert!(err.contains("decimal"), "{err}");
        m.overlay_toml("[format]\nlocale = \"de-DE\"\n").unwrap();
        assert_eq!(m.formats.number.parse("1.200,50 €"), Some(1200.5));
        m.overlay_toml("[format]\nlocale = \"en_US\"\n").unwrap();
        assert_eq!(m.formats.number.parse("$1,200.50"), Some(1200.5));
    }

    #[test]
    fn field_rules_parse() {
        let mut m = Mapping::canonical();
        m.overlay_toml(
            "[deals]\nproduct_id = { column = \"product\", replace = { GTXPro = \"GTX Pro\" } }\ncreated_date = { column = [\"engage_date\", \"created\"], if_blank = \"as_of\" }\namount = { derive = \"product_list_price\" }\ncurrency = { value = \"USD\" }\n",
        )
        .unwrap();
        let r = m.rule(Entity::Deals, "product_id");
        assert_eq!(r.replace.get("GTXPro").map(String::as_str), Some("GTX Pro"));
        assert_eq!(
            m.rule(Entity::Deals, "created_date").if_blank,
            Some(Blank::AsOf)
        );
        assert_eq!(
            m.rule(Entity::Deals, "amount").source,
            FieldSource::Derived(Derivation::ProductListPrice)
        );
        assert_eq!(m.rule(Entity::Deals, "name").source, FieldSource::Default);
    }
}
