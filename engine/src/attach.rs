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
        Err(ModelError::Missing { .. }) => {
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

/// Registers the model UDFs, `deal_scores`/`scored_deals`, `forecast` and
/// `forecast_by_group` for `models`.
pub async fn attach(
    session: &mut Session,
    project: &Project,
    models: Models,
) -> Result<(), AttachError> {
    let cache = cache(project, session);
    scoring::register(session, &models, &cache).await?;
    forecast_tables::register(session, &models, &cache).await?;
    for function in ml::functions::all(Some(&models), session.forecast.clone()) {
        session.ctx.register_udf(function);
    }
    session.models = Some(models);
    Ok(())
}
