//! The project's trained models on disk: whether there are any, and
//! training them. Loading is `ml::trained::Models::load` (one verified set);
//! attaching them to a session is [`crate::attach`]'s job, one layer up.

use crate::project::Project;
use crate::session::Session;
use ml::train::{Progress, TrainError, TrainReport};

/// Trains both models on the session's data and writes them to the project's
/// models folder, as one set.
pub async fn train(
    session: &Session,
    project: &Project,
    progress: &dyn Fn(Progress),
) -> Result<TrainReport, TrainError> {
    ml::train::train(
        &session.ctx,
        session.as_of,
        &project.models_dir,
        &session.data_fingerprint(),
        &project.accept_leaks,
        progress,
    )
    .await
}

/// Whether the project has a trained set of models (its manifest).
pub fn present(project: &Project) -> bool {
    ml::trained::set_present(&project.models_dir)
}

/// Whether the models folder holds model files but no manifest: written by
/// a revintel before model sets had one, so they are not used until
/// retrained.
pub fn unlisted(project: &Project) -> bool {
    !present(project)
        && project
            .models_dir
            .join(ml::trained::WIN_PROB_MODEL)
            .is_file()
}
