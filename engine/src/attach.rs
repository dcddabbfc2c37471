//! Attaching trained models to a session: the model UDFs, the scored deals
//! and the forecast tables — everything SQL can read that a model makes.
//!
//! One layer above [`crate::models`] (which loads and trains), [`scoring`]
//! and [`forecast_tables`] (which compute the tables); the caches those
//! keep on disk live in [`crate::caches`].

use crate::caches::Cache;
use crate::forecast_tables;
use crate::project::Project;
use crate::scoring::{self, ScoringError};
use crate::session::Session;
use ml::train::{Progress, TrainError, TrainReport};
use ml::trained::{ModelError, Models};

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("scoring deals: {0}")]
    Scoring(#[from] ScoringError),
}

/// What attaching models on first use did, for the caller to tell.
#[derive(Debug)]
pub enum Attached {
    /// The project's models were loaded.
    Loaded,
    /// There were none: they were trained first (the report says how well).
    Trained(Box<TrainReport>),
}

/// The cache of a project's computed tables, as `session` writes it.
pub fn cache(project: &Project, session: &Session) -> Cache {
    Cache::new(
        project.models_dir.join(".cache"),
        session.cache_in_background,
    )
}

/// Makes sure the session has models attached: loads them, or — when there
/// are none yet — trains them first (`training` is called before, so the
/// caller can say so). A corrupt or mismatched model is an error naming
/// the file, never silently replaced.
pub async fn ensure(
    session: &mut Session,
    project: &Project,
    training: &dyn Fn(),
    progress: &dyn Fn(Progress),
) -> Result<Attached, AttachError> {
    if session.models.is_some() {
        return Ok(Attached::Loaded);
    }
    let (models, attached) = match Models::load(&project.models_dir) {
        Ok(models) => (models, Attached::Loaded),
        // None yet, or an earlier revintel's: trained (again) first.
        Err(ModelError::Missing { .. } | ModelError::Outdated { .. }) => {
            training();
            let report = crate::models::train(session, project, progress).await?;
            let models = Models::load(&project.models_dir)?;
            (models, Attached::Trained(Box::new(report)))
        }
        Err(e) => return Err(e.into()),
    };
    attach(session, project, models).await?;
    Ok(attached)
}

/// Registers the model UDFs, `deal_scores`/`scored_deals`, `forecast`,
/// `forecast_by_group` and `model_quality` for `models`. A model the leak
/// guard withheld (see `ml::leaks`) has its tables replaced by ones that
/// refuse to be read, and its functions by stand-ins that refuse to run,
/// each with the reason; an accepted one puts a warning on every report.
pub async fn attach(
    session: &mut Session,
    project: &Project,
    models: Models,
) -> Result<(), AttachError> {
    let verdict = crate::quality::verdict(&models, &project.accept_leaks);
    let cache = cache(project, session);
    scoring::register(session, &models, &cache).await?;
    let record = crate::track_record::saved(&project.models_dir);
    forecast_tables::register(session, &models, &cache, record).await?;
    let functions = match &verdict.withheld {
        Some(reason) => {
            for table in WITHHELD_TABLES {
                withhold(session, table, reason)?;
            }
            scoring::register_views(session).await?;
            ml::functions::withheld(reason)
        }
        None => ml::functions::all(Some(&models), session.forecast.clone()),
    };
    for function in functions {
        session.ctx.register_udf(function);
    }
    let quality = crate::quality::table(&models, &verdict);
    let table = datafusion::catalog::MemTable::try_new(quality.schema(), vec![vec![quality]])
        .map_err(ScoringError::from)?;
    let _ = session.ctx.deregister_table("model_quality");
    session
        .ctx
        .register_table("model_quality", std::sync::Arc::new(table))
        .map_err(ScoringError::from)?;
    session.notice = (verdict.kind == "accepted").then(|| verdict.note.clone());
    session.models = Some(models);
    Ok(())
}

/// The tables a model makes; the views over them (`scored_deals`,
/// `at_risk_deals`, `pipeline_hygiene`) refuse with them.
const WITHHELD_TABLES: [&str; 3] = ["deal_scores", "forecast", "forecast_by_group"];

/// Puts a table that refuses to be read, with `reason`, in place of `name`
/// (same columns, so queries still plan).
fn withhold(session: &Session, name: &str, reason: &str) -> Result<(), ScoringError> {
    let Some(real) = session
        .ctx
        .deregister_table(name)
        .map_err(ScoringError::from)?
    else {
        return Ok(());
    };
    let table = crate::withheld_table::WithheldTable::new(real.schema(), reason.to_string());
    session
        .ctx
        .register_table(name, std::sync::Arc::new(table))
        .map_err(ScoringError::from)?;
    Ok(())
}
