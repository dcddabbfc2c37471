//! Live rebuild: keeping reports in step with their inputs.
//!
//! [`Live`] holds the session and every template with the inputs it reads,
//! found by parsing its SQL fences and following views down to source
//! tables: a data file change rebuilds only the reports that read an
//! affected table, a template change only that template (with its pages),
//! a model or config change what depends on it. Scores are recomputed only
//! when the data they are computed from changed (see `scoring`), and then
//! only for the deals whose features changed.
//!
//! A failed rebuild leaves the last good outputs in place and is kept as the
//! report's status until a later rebuild succeeds. Failures are typed
//! ([`LiveError`]): a config error, a data error and a template error are
//! told apart, and each names its file.
//!
//! This module is live rebuild's one home: the state and the rebuild step
//! here, what each report reads in [`inputs`], file watching in
//! [`watcher`], the HTTP server in [`server`], and the loops that tie them
//! together for `revintel watch` and `revintel serve` in [`run`]. The
//! commands only parse their arguments.

pub mod db_watch;
pub mod inputs;
pub mod run;
pub mod server;
pub mod watcher;

use crate::build::{self, Built};
use crate::open::{self, ModelUse};
use crate::project::Project;
use crate::session::Session;
use crate::sources::Entity;
use inputs::{describe, table_inputs, template_inputs, Input};
use reports::template::{OutputFormat, Template};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A change seen in the project's files.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Template(PathBuf),
    /// A data source (which one is found by comparing fingerprints).
    Data,
    Models,
    Config,
}

/// A report's latest outcome.
#[derive(Debug, Clone)]
pub enum Status {
    Built(Built),
    Failed(Arc<LiveError>),
    /// An earlier failure no longer holds (inputs readable again); nothing
    /// was rebuilt for it.
    Cleared,
}

impl Status {
    /// The failure's message, if the last attempt failed.
    pub fn error(&self) -> Option<String> {
        match self {
            Status::Failed(error) => Some(error.to_string()),
            Status::Built(_) | Status::Cleared => None,
        }
    }

    fn failed(error: impl Into<LiveError>) -> Status {
        Status::Failed(Arc::new(error.into()))
    }
}

/// A report as an index lists it.
#[derive(Debug, Clone)]
pub struct ReportInfo {
    /// The template's file stem: `out/<name>.html`, pages in `out/<name>/`.
    pub name: String,
    pub title: String,
    pub status: Option<Status>,
}

/// One rebuild, for the log and for listeners.
#[derive(Debug, Clone)]
pub struct Rebuild {
    /// The report: the template's file stem.
    pub report: String,
    /// Why it was rebuilt, e.g. `stage_history.csv changed`.
    pub why: String,
    pub status: Status,
}

impl Rebuild {
    /// The one-line log entry.
    pub fn log_line(&self) -> String {
        match &self.status {
            Status::Built(built) => format!(
                "rebuilt {} ({}): {} files in {} ms",
                self.report,
                self.why,
                built.files.len(),
                built.elapsed.as_millis()
            ),
            Status::Failed(error) => {
                format!("failed {} ({}): {error}", self.report, self.why)
            }
            Status::Cleared => format!("cleared {} ({})", self.report, self.why),
        }
    }
}

struct Entry {
    /// The template as last read: parsed once per change of its file.
    template: Result<Template, reports::template::TemplateError>,
    inputs: BTreeSet<Input>,
    status: Option<Status>,
}

/// The reports of a project and everything needed to rebuild them.
pub struct Live {
    project: Project,
    formats: Option<Vec<OutputFormat>>,
    overrides: Vec<(String, String)>,
    /// Only these templates (file stems); empty for all.
    only: Vec<String>,
    /// Whether reports are built at all (`revintel pg` follows the data
    /// for its clients and builds none).
    reports: bool,
    session: Session,
    /// Counts the sessions this has held: it moves when the data or models
    /// reloaded, so a PostgreSQL endpoint knows to publish.
    sessions: u64,
    /// What each table and view of the session reads, down to sources.
    tables: BTreeMap<String, BTreeSet<Input>>,
    entries: BTreeMap<PathBuf, Entry>,
    /// Why the inputs could not be read at the last try, if they could not;
    /// reports keep their last good outputs meanwhile.
    inputs_error: Option<Arc<LiveError>>,
    /// Warnings of the last (re)load, for the caller to show.
    warnings: Vec<String>,
    places: Places,
}

/// The project's places, canonical, that changed paths are matched against:
/// worked out when the project or its loaded files change, not per event.
struct Places {
    config: Option<PathBuf>,
    templates: PathBuf,
    models: PathBuf,
    /// The data folder, when the project reads one.
    data: Option<PathBuf>,
    /// Configured import and mapping files.
    configured: Vec<PathBuf>,
    /// The files the last load read.
    loaded: Vec<PathBuf>,
}

impl Places {
    fn of(project: &Project, session: &Session) -> Places {
        Places {
            config: project.config.as_deref().map(canonical),
            templates: canonical(&project.templates_dir),
            models: canonical(&project.models_dir),
            data: project.sources.folder.as_deref().map(canonical),
            configured: project
                .sources
                .files()
                .iter()
                .map(|f| match (f.parent(), f.file_name()) {
                    // A pattern names no file: its folder is made canonical.
                    (Some(dir), Some(name)) if crate::sources::drops::is_pattern(f) => {
                        canonical(dir).join(name)
                    }
                    _ => canonical(f),
                })
                .collect(),
            loaded: Places::loaded(session),
        }
    }

    fn loaded(session: &Session) -> Vec<PathBuf> {
        session
            .load
            .files
            .iter()
            .map(|f| canonical(&f.file))
            .collect()
    }
}

/// Why live rebuilding, or one rebuild, failed: what kind of input was at
/// fault, and where.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The config could not be read.
    #[error("config: {0}")]
    Config(#[from] crate::project::ProjectError),
    /// The project could not be opened (sources, models, demo data).
    #[error(transparent)]
    Open(#[from] open::OpenError),
    /// The data could not be read.
    #[error(transparent)]
    Data(#[from] crate::session::SessionError),
    /// The models could not be loaded or attached.
    #[error(transparent)]
    Models(#[from] crate::attach::AttachError),
    /// A model file could not be read.
    #[error(transparent)]
    ModelFiles(#[from] ml::trained::ModelError),
    #[error(transparent)]
    Backtest(#[from] crate::backtest::BacktestError),
    /// A template could not be read or parsed.
    #[error(transparent)]
    Template(#[from] reports::template::TemplateError),
    /// A report could not be built.
    #[error(transparent)]
    Build(#[from] build::BuildError),
    /// A template was removed while it was watched.
    #[error("{}: the template was removed", .0.display())]
    Removed(PathBuf),
    #[error("{}: not loaded", .0.display())]
    NotLoaded(PathBuf),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

impl Live {
    /// Opens the project and builds every report once. `only` limits it to
    /// the templates with those file stems; none are built without `reports`.
    pub async fn open(
        project: Project,
        reports: bool,
        only: Vec<String>,
        formats: Option<Vec<OutputFormat>>,
        overrides: Vec<(String, String)>,
        events: &dyn Fn(open::Event),
    ) -> Result<(Live, Vec<Rebuild>, Vec<String>), LiveError> {
        let (session, warnings) = open_session(&project, events).await?;
        let tables = table_inputs(&session).await?;
        let places = Places::of(&project, &session);
        let mut live = Live {
            project,
            formats,
            overrides,
            only,
            reports,
            session,
            sessions: 1,
            tables,
            entries: BTreeMap::new(),
            inputs_error: None,
            warnings: Vec::new(),
            places,
        };
        let paths = live.template_paths()?;
        let mut rebuilt = Vec::new();
        for path in paths {
            live.load_template(&path);
            rebuilt.push(live.rebuild(&path, "first build").await);
        }
        Ok((live, rebuilt, warnings))
    }

    /// The project as last read (a config change re-reads it).
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// Every report with its title and latest status, by file stem; while
    /// the inputs cannot be read, also [`ALL`] with that error.
    pub fn reports(&self) -> Vec<ReportInfo> {
        let mut reports: Vec<ReportInfo> = self
            .entries
            .iter()
            .map(|(path, e)| ReportInfo {
                name: stem(path),
                title: e
                    .template
                    .as_ref()
                    .map_or_else(|_| stem(path), |t| t.front_matter().title.clone()),
                status: e.status.clone(),
            })
            .collect();
        if let Some(error) = &self.inputs_error {
            reports.push(ReportInfo {
                name: ALL.into(),
                title: "Inputs".into(),
                status: Some(Status::Failed(error.clone())),
            });
        }
        reports
    }

    /// Folders and files to watch: templates, data, models and the config.
    pub fn watched(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.project.models_dir.clone()];
        if self.reports {
            paths.push(self.project.templates_dir.clone());
        }
        paths.extend(self.project.sources.folder.clone());
        let configured = self.project.sources.files();
        // A database source's "file" is its connection label: nothing to watch
        // there (it is checked on its refresh interval, see `db_watch`).
        let loaded = self
            .session
            .load
            .files
            .iter()
            .map(|f| f.file.clone())
            .filter(|f| !f.to_string_lossy().starts_with("postgres://"));
        for file in configured.into_iter().chain(loaded) {
            if let Some(parent) = file.parent() {
                paths.push(parent.to_path_buf());
            }
        }
        if let Some(config) = &self.project.config {
            if let Some(parent) = config.parent() {
                paths.push(parent.to_path_buf());
            }
        }
        paths.sort();
        paths.dedup();
        paths
    }

    /// What a changed path means for the reports, if anything. Editors'
    /// temporary and swap files, hidden files and our own caches mean nothing.
    pub fn classify(&self, path: &Path) -> Option<Change> {
        let name = path.file_name()?.to_str()?;
        if name.starts_with('.')
            || name.starts_with('#')
            || name.ends_with('~')
            || name.ends_with(".swp")
            || name.ends_with(".swx")
            || name.ends_with(".tmp")
            || name.chars().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        // The folder is canonical even when the file is gone (deleted, or
        // renamed away by an editor's save).
        let parent = canonical(path.parent()?);
        let file = parent.join(name);
        let places = &self.places;
        if places.config.as_ref() == Some(&file) {
            return Some(Change::Config);
        }
        // A mapping file changes how every source is read.
        if name.ends_with(".toml") && places.configured.contains(&file) {
            return Some(Change::Config);
        }
        if parent == places.templates && name.ends_with(".md") && name != "README.md" {
            return Some(Change::Template(path.to_path_buf()));
        }
        if parent == places.models {
            return (name.ends_with(".txt") || name.ends_with(".json") || name.ends_with(".arrow"))
                .then_some(Change::Models);
        }
        // A new file matching an import's pattern (an export drop) is data too.
        let is_source = places.configured.contains(&file)
            || places.loaded.contains(&file)
            || places
                .configured
                .iter()
                .any(|c| crate::sources::drops::matches(c, &file));
        let in_data = places.data.as_ref() == Some(&parent)
            && (name.ends_with(".csv") || name.ends_with(".parquet"));
        (is_source || in_data).then_some(Change::Data)
    }

    /// Applies a batch of changes: reloads what changed and rebuilds the
    /// reports that depend on it, each once.
    pub async fn apply(&mut self, changes: &BTreeSet<Change>) -> Vec<Rebuild> {
        let mut why: BTreeMap<PathBuf, String> = BTreeMap::new();
        let mut failures = Vec::new();
        let note = |why: &mut BTreeMap<PathBuf, String>, path: &Path, reason: String| {
            why.entry(path.to_path_buf()).or_insert(reason);
        };

        if changes.contains(&Change::Config) {
            match self.reload_all().await {
                Ok(()) => {
                    if self.inputs_error.take().is_some() {
                        failures.push(cleared());
                    }
                    for path in self.entries.keys().cloned().collect::<Vec<_>>() {
                        note(&mut why, &path, "config changed".into());
                    }
                }
                Err(e) => failures.push(self.everything_failed(e)),
            }
        } else {
            let models_changed = changes.contains(&Change::Models);
            let data_changed = changes.contains(&Change::Data);
            if data_changed || models_changed {
                match self.reload_session(models_changed).await {
                    Ok(mut inputs) => {
                        if models_changed {
                            inputs.insert(Input::Models);
                        }
                        let reason = describe(&inputs);
                        if self.inputs_error.take().is_some() {
                            failures.push(cleared());
                        }
                        for (path, entry) in &self.entries {
                            if !entry.inputs.is_disjoint(&inputs) {
                                note(&mut why, path, reason.clone());
                            }
                        }
                    }
                    Err(e) => failures.push(self.everything_failed(e)),
                }
            }
        }
        for change in changes {
            if let Change::Template(path) = change {
                let key = self.key_of(path);
                if !path.exists() {
                    if self.entries.remove(&key).is_some() {
                        failures.push(Rebuild {
                            report: stem(&key),
                            why: "template removed".into(),
                            status: Status::failed(LiveError::Removed(path.clone())),
                        });
                    }
                    continue;
                }
                if !self.wanted(&key) {
                    continue;
                }
                self.load_template(&key);
                why.insert(key, "template changed".into());
            }
        }
        let mut rebuilt = failures;
        for (path, reason) in why {
            rebuilt.push(self.rebuild(&path, &reason).await);
        }
        rebuilt
    }

    fn wanted(&self, path: &Path) -> bool {
        self.reports && (self.only.is_empty() || self.only.contains(&stem(path)))
    }

    /// The session the reports were last built from.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Moves whenever [`Live::session`] is a new one.
    pub fn session_generation(&self) -> u64 {
        self.sessions
    }

    /// The entry key for a template path: its path under the templates folder.
    fn key_of(&self, path: &Path) -> PathBuf {
        let name = path.file_name().map(PathBuf::from).unwrap_or_default();
        self.project.templates_dir.join(name)
    }

    fn template_paths(&self) -> Result<Vec<PathBuf>, LiveError> {
        // Without reports a project needs no templates folder at all.
        if !self.reports {
            return Ok(Vec::new());
        }
        Ok(build::discover(&self.project.templates_dir)?
            .into_iter()
            .filter(|p| self.wanted(p))
            .collect())
    }

    /// (Re)reads a template and works out its inputs.
    fn load_template(&mut self, path: &Path) {
        let shown = build::shown_path(path);
        let template = Template::load(Path::new(&shown));
        // A broken template depends on nothing until it is fixed.
        let inputs = template
            .as_ref()
            .map(|t| template_inputs(t, &self.tables))
            .unwrap_or_default();
        let status = self.entries.remove(path).and_then(|e| e.status);
        self.entries.insert(
            path.to_path_buf(),
            Entry {
                template,
                inputs,
                status,
            },
        );
    }

    async fn rebuild(&mut self, path: &Path, why: &str) -> Rebuild {
        // Every path rebuilt was loaded into `entries` first.
        let status = match self.entries.get(path).map(|e| &e.template) {
            None => Status::failed(LiveError::NotLoaded(path.to_path_buf())),
            Some(Err(e)) => Status::failed(e.clone()),
            Some(Ok(template)) => match build::build_with_overrides(
                &self.session,
                template,
                &self.overrides,
                self.formats.as_deref(),
                &self.project.out_dir,
            )
            .await
            {
                Ok(built) => Status::Built(built),
                Err(e) => Status::failed(e),
            },
        };
        if let Some(entry) = self.entries.get_mut(path) {
            entry.status = Some(status.clone());
        }
        Rebuild {
            report: stem(path),
            why: why.to_string(),
            status,
        }
    }

    /// Reopens the session on the current data (and models, when
    /// `models_changed`); returns the inputs whose content changed.
    async fn reload_session(&mut self, models_changed: bool) -> Result<BTreeSet<Input>, LiveError> {
        let mut session = Session::open(&self.project).await?;
        self.warnings.append(&mut session.warnings);
        let mut changed = BTreeSet::new();
        for entity in Entity::ALL {
            let table = entity.table().to_string();
            let before = self.session.fingerprint_of(std::slice::from_ref(&table));
            if session.fingerprint_of(std::slice::from_ref(&table)) != before {
                changed.insert(Input::Table(table));
            }
        }
        if changed.is_empty() && !models_changed {
            return Ok(changed);
        }
        if !changed.is_empty() {
            self.warnings.extend(crate::sources::rejects_file::publish(
                &self.project.out_dir,
                &session.load,
            ));
            self.warnings.extend(open::rejects_warnings(&session));
        }
        let models = if models_changed {
            Some(ml::trained::Models::load(&self.project.models_dir)?)
        } else {
            self.session.models.clone()
        };
        if let Some(models) = models {
            session.continue_from(&self.session);
            crate::attach::attach(&mut session, &self.project, models).await?;
            crate::backtest::register(&session, &self.project).await?;
        }
        self.session = session;
        self.sessions += 1;
        self.places.loaded = Places::loaded(&self.session);
        if models_changed {
            // Models may have just appeared, and with them the scored tables.
            self.tables = table_inputs(&self.session).await?;
            for entry in self.entries.values_mut() {
                entry.inputs = entry
                    .template
                    .as_ref()
                    .map(|t| template_inputs(t, &self.tables))
                    .unwrap_or_default();
            }
        }
        Ok(changed)
    }

    async fn reload_all(&mut self) -> Result<(), LiveError> {
        let project = Project::discover(&self.project.root, self.project.config.as_deref())?;
        let (session, mut warnings) = open_session(&project, &|_| {}).await?;
        self.warnings.append(&mut warnings);
        self.tables = table_inputs(&session).await?;
        self.places = Places::of(&project, &session);
        self.project = project;
        self.session = session;
        self.sessions += 1;
        for path in self.entries.keys().cloned().collect::<Vec<_>>() {
            self.load_template(&path);
        }
        Ok(())
    }

    /// The warnings of the reloads since the last call, for the caller to show.
    pub fn take_warnings(&mut self) -> Vec<String> {
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.extend(crate::caches::take_failures());
        warnings
    }

    fn everything_failed(&mut self, error: LiveError) -> Rebuild {
        let error = Arc::new(error);
        self.inputs_error = Some(error.clone());
        Rebuild {
            report: ALL.into(),
            why: "inputs could not be read; the last good outputs stay".into(),
            status: Status::Failed(error),
        }
    }
}

/// The pseudo-report that stands for every report (an input problem).
pub const ALL: &str = "*";

fn cleared() -> Rebuild {
    Rebuild {
        report: ALL.into(),
        why: "inputs readable again".into(),
        status: Status::Cleared,
    }
}

/// Opens a session with the models attached when there are any, caching
/// computed tables in the background (a report need not wait for the disk).
async fn open_session(
    project: &Project,
    events: &dyn Fn(open::Event),
) -> Result<(Session, Vec<String>), LiveError> {
    let opened = open::open(project, ModelUse::IfPresent, events).await?;
    let mut session = opened.session;
    session.cache_in_background = true;
    Ok((session, opened.warnings))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string()
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
