//! Where a project's data, models and outputs live, and its as-of date.
//!
//! A project is a folder, optionally with a `revintel.toml`. Without one the
//! bundled demo data in `seeds/` is used (generated on first use), so every
//! command works on a fresh clone.

use chrono::NaiveDate;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The config file looked for in the working folder and its parents.
pub const CONFIG_FILE: &str = "revintel.toml";

/// `revintel.toml`, as written by users. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The date the pipeline is described as of (`YYYY-MM-DD`).
    pub as_of: Option<String>,
    /// Refuse to run when any row is rejected, instead of reporting it.
    pub strict: Option<bool>,
    #[serde(default)]
    pub sources: SourcesConfig,
    #[serde(default)]
    pub paths: PathsConfig,
    /// The query engine's memory limit and spill folder.
    #[serde(default)]
    pub engine: crate::settings::EngineConfig,
    #[serde(default)]
    pub serve: ServeConfig,
    #[serde(default)]
    pub models: ModelsConfig,
    /// `[[deliveries]]`: reports mailed on a schedule.
    #[serde(default)]
    pub deliveries: Vec<crate::delivery_config::DeliverySpec>,
}

/// `[models]`: what the models may use.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    /// Features the leak guard flagged that the user accepts by name: the
    /// model's scores are published, with a warning on every report.
    #[serde(default)]
    pub accept_leaks: Vec<String>,
}

/// `[serve]`: the report server.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Host names, besides loopback names and the bound address, that
    /// requests may be addressed to (e.g. a name in front of a proxy).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    /// A folder holding `deals.csv`, `accounts.csv`, `reps.csv`,
    /// `products.csv` and `stage_history.csv`.
    pub folder: Option<PathBuf>,
    /// Exports and databases to import (`[[sources.import]]`); they take
    /// precedence over the folder for the entities they hold.
    #[serde(default)]
    pub import: Vec<crate::sources::ImportSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    pub models: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub templates: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{}: cannot read the config: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: `as_of = \"{value}\"` is not a date from 1970-01-01 to 2099-12-31 (YYYY-MM-DD)", path.display())]
    AsOf { path: PathBuf, value: String },
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
}

/// A resolved project: absolute folders and settings.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    /// The config file used, if any.
    pub config: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub models_dir: PathBuf,
    pub out_dir: PathBuf,
    /// Report templates (`revintel build`).
    pub templates_dir: PathBuf,
    /// The as-of date from the config; when absent the data's own is used.
    pub as_of: Option<NaiveDate>,
    pub strict: bool,
    /// True when no source is configured and the bundled demo data is used.
    pub is_demo: bool,
    /// Where the data comes from: the folder and the imports.
    pub sources: crate::sources::SourceSet,
    /// The query engine's memory limit and spill folder.
    pub engine: crate::settings::EngineSettings,
    /// Host names `serve` answers besides loopback and the bound address.
    pub allowed_hosts: Vec<String>,
    /// Leak-guard flags accepted by feature name (`[models] accept_leaks`,
    /// or `train --accept-leak`).
    pub accept_leaks: Vec<String>,
    /// Reports mailed on a schedule (`revintel deliver`, `schedule`).
    pub deliveries: Vec<crate::delivery_config::Delivery>,
}

impl Project {
    /// Resolves the project from an explicit config path, or by looking for
    /// [`CONFIG_FILE`] from `cwd` upwards, or else as the demo project in `cwd`.
    pub fn discover(cwd: &Path, explicit: Option<&Path>) -> Result<Project, ProjectError> {
        let config = match explicit {
            Some(p) => Some(cwd.join(p)),
            None => cwd
                .ancestors()
                .map(|d| d.join(CONFIG_FILE))
                .find(|p| p.is_file()),
        };
        match config {
            Some(path) => Self::from_config(&path),
            None => {
                let mut project = Self::demo(cwd);
                project.engine = crate::settings::EngineSettings::resolve(
                    &crate::settings::EngineConfig::default(),
                    CONFIG_FILE,
                )?;
                Ok(project)
            }
        }
    }

    /// The demo project rooted at `root`: data in `seeds/`.
    pub fn demo(root: &Path) -> Project {
        Project {
            root: root.to_path_buf(),
            config: None,
            data_dir: root.join("seeds"),
            models_dir: root.join("models"),
            out_dir: root.join("out"),
            templates_dir: root.join("templates"),
            as_of: None,
            strict: false,
            is_demo: true,
            sources: crate::sources::SourceSet {
                root: root.to_path_buf(),
                config: root.join(CONFIG_FILE),
                folder: Some(root.join("seeds")),
                imports: Vec::new(),
            },
            engine: crate::settings::EngineSettings::default(),
            allowed_hosts: Vec::new(),
            accept_leaks: Vec::new(),
            deliveries: Vec::new(),
        }
    }

    fn from_config(path: &Path) -> Result<Project, ProjectError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProjectError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| ProjectError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let root = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let as_of = match file.as_of {
            Some(value) => Some(
                crate::sources::csv_file::parse_iso_date(&value)
                    .and_then(|d| crate::sources::values::plausible_date(d).ok())
                    .ok_or(ProjectError::AsOf {
                        path: path.to_path_buf(),
                        value,
                    })?,
            ),
            None => None,
        };
        let is_demo = file.sources.folder.is_none() && file.sources.import.is_empty();
        let folder = match (&file.sources.folder, is_demo) {
            (Some(f), _) => Some(root.join(f)),
            (None, true) => Some(root.join("seeds")),
            (None, false) => None,
        };
        let data_dir = folder.clone().unwrap_or_else(|| root.join("seeds"));
        let engine =
            crate::settings::EngineSettings::resolve(&file.engine, &path.display().to_string())?;
        let sources = crate::sources::SourceSet {
            root: root.clone(),
            config: path.to_path_buf(),
            folder,
            imports: file.sources.import,
        };
        let accept_leaks = file.models.accept_leaks;
        for name in &accept_leaks {
            ml::leaks::check_acceptable(name).map_err(|message| ProjectError::Parse {
                path: path.to_path_buf(),
                message: format!("[models] accept_leaks: {message}"),
            })?;
        }
        let deliveries =
            crate::delivery_config::check(file.deliveries, &root).map_err(|message| {
                ProjectError::Parse {
                    path: path.to_path_buf(),
                    message,
                }
            })?;
        Ok(Project {
            deliveries,
            config: Some(path.to_path_buf()),
            data_dir,
            models_dir: root.join(file.paths.models.unwrap_or_else(|| "models".into())),
            out_dir: root.join(file.paths.out.unwrap_or_else(|| "out".into())),
            templates_dir: root.join(file.paths.templates.unwrap_or_else(|| "templates".into())),
            as_of,
            strict: file.strict.unwrap_or(false),
            is_demo,
            sources,
            engine,
            allowed_hosts: file.serve.allowed_hosts,
            accept_leaks,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_config_means_demo_in_seeds() {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::discover(dir.path(), None).unwrap();
        assert!(p.is_demo);
        assert_eq!(p.data_dir, dir.path().join("seeds"));
    }

    #[test]
    fn config_sets_folders_and_as_of() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "as_of = \"2025-06-30\"\n[sources]\nfolder = \"crm\"\n[paths]\nout = \"reports\"\n",
        )
        .unwrap();
        let sub = dir.path().join("nested");
        std::fs::create_dir(&sub).unwrap();
        let p = Project::discover(&sub, None).unwrap();
        assert!(!p.is_demo);
        assert_eq!(p.data_dir, dir.path().join("crm"));
        assert_eq!(p.out_dir, dir.path().join("reports"));
        assert_eq!(p.as_of, NaiveDate::from_ymd_opt(2025, 6, 30));
    }

    #[test]
    fn imports_are_sources_and_no_longer_demo() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[[sources.import]]\nkind = \"salesforce\"\npath = \"opps.csv\"\n",
        )
        .unwrap();
        let p = Project::discover(dir.path(), None).unwrap();
        assert!(!p.is_demo);
        assert_eq!(p.sources.imports.len(), 1);
        assert_eq!(p.sources.folder, None);
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[[sources.import]]\nkind = \"salesforce\"\npath = \"o.csv\"\npassword = \"x\"\n",
        )
        .unwrap();
        let err = Project::discover(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("password"), "{err}");
    }

    #[test]
    fn bad_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "as_of = \"June\"\n").unwrap();
        let err = Project::discover(dir.path(), None).unwrap_err().to_string();
        assert!(
            err.contains("revintel.toml") && err.contains("June"),
            "{err}"
        );
        std::fs::write(dir.path().join(CONFIG_FILE), "[sources\n").unwrap();
        let err = Project::discover(dir.path(), None).unwrap_err().to_string();
        assert!(
            err.contains("revintel.toml") && err.contains("line 1"),
            "{err}"
        );
    }
}
