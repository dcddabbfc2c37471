//! The project's trained models: loading them, training them when missing,
//! and attaching them to a session as UDFs and the `scored_deals` view.

use crate::project::Project;
use crate::scoring;
use crate::session::Session;
use std::path::Path;
use std::sync::Arc;
use udfs::model::{ModelError, TimeToCloseModel, WinProbModel};
use udfs::train::{Progress, TrainError, TrainReport};

/// The loaded models.
#[derive(Clone)]
pub struct Models {
    pub win_prob: Arc<WinProbModel>,
    pub time_to_close: Arc<TimeToCloseModel>,
}

impl Models {
    /// Loads both models from `dir`, as one verified set (see
    /// `udfs::model::ModelSet`): never one run's booster with another's
    /// calibration.
    pub fn load(dir: &Path) -> Result<Models, ModelError> {
        let set = udfs::model::ModelSet::read(dir)?;
        Ok(Models {
            win_prob: Arc::new(WinProbModel::from_set(&set)?),
            time_to_close: Arc::new(TimeToCloseModel::from_set(&set)?),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("scoring deals: {0}")]
    Scoring(#[from] scoring::ScoringError),
}

/// Trains both models on the session's data and writes them to the project's
/// models folder.
pub async fn train(
    session: &Session,
    project: &Project,
    progress: &dyn Fn(Progress),
) -> Result<TrainReport, TrainError> {
    udfs::train::train(
        &session.ctx,
        session.as_of,
        &project.models_dir,
        &session.data_fingerprint(),
        progress,
    )
    .await
}

/// Whether the project has a trained set of models (its manifest).
pub fn present(project: &Project) -> bool {
    udfs::model::set_present(&project.models_dir)
}

/// Whether the models folder holds model files but no manifest: written by
/// a revintel before model sets had one, so they are not used until
/// retrained.
pub fn unlisted(project: &Project) -> bool {
    !present(project)
        && project
            .models_dir
            .join(udfs::model::WIN_PROB_MODEL)
            .is_file()
}

/// Makes sure the session has models attached: loads them, or — when there
/// are none yet — trains them first, saying so. A corrupt or mismatched
/// model is an error naming the file, never silently replaced.
pub async fn ensure(
    session: &mut Session,
    project: &Project,
    progress: &dyn Fn(Progress),
) -> Result<(), ModelsError> {
    if session.models.is_some() {
        return Ok(());
    }
    let models = match Models::load(&project.models_dir) {
        Ok(models) => models,
        Err(ModelError::Missing { path }) => {
            eprintln!(
                "revintel: no trained model ({}); training one first …",
                path.display()
            );
            let report = train(session, project, progress).await?;
            eprintln!(
                "revintel: trained on {} won / {} lost deals; evaluation AUC {:.3}, ECE {:.3}",
                report.won_deals,
                report.lost_deals,
                report.win_prob.auc.unwrap_or(f64::NAN),
                report.win_prob.ece
            );
            Models::load(&project.models_dir)?
        }
        Err(e) => return Err(e.into()),
    };
    attach(session, project, models).await
}

/// Registers `win_prob`, `shap_top` and `scored_deals` for `models`.
pub async fn attach(
    session: &mut Session,
    project: &Project,
    models: Models,
) -> Result<(), ModelsError> {
    use datafusion::logical_expr::ScalarUDF;
    session
        .ctx
        .register_udf(ScalarUDF::new_from_impl(udfs::win_prob::WinProb::new(
            models.win_prob.clone(),
        )));
    session
        .ctx
        .register_udf(ScalarUDF::new_from_impl(udfs::shap_top::ShapTop::new(
            models.win_prob.clone(),
        )));
    let cache = project.models_dir.join(".cache");
    scoring::register(session, &models, &cache).await?;
    crate::forecast::register(session, &models, &cache).await?;
    register_backtest(session, project)?;
    session.models = Some(models);
    Ok(())
}

/// Registers the last backtest as the `backtest` table: empty (with its
/// columns) when none was run, so reports can say so instead of failing.
pub fn register_backtest(
    session: &Session,
    project: &Project,
) -> Result<(), scoring::ScoringError> {
    let batch = scoring::read_cache(&project.models_dir.join(crate::backtest::BACKTEST_FILE))
        .unwrap_or_else(|| crate::backtest::to_batch(&[]));
    let table = datafusion::catalog::MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    let _ = session.ctx.deregister_table("backtest");
    session.ctx.register_table("backtest", Arc::new(table))?;
    Ok(())
}
