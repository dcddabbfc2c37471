//! Opening a project: the one way every command and live rebuild gets a
//! ready session.
//!
//! The steps: demo data generated on first use (for the demo project),
//! the sources loaded into a session, the trained models attached (trained
//! first when a command needs them and there are none, under the project's
//! write lock), `out/rejects.csv` written, and the last backtest registered.
//! Nothing is printed: what happens on the way is told through
//! [`Event`]s as it happens (the caller may show progress), and what the
//! user should know afterwards comes back as warnings.

use crate::attach::{self, AttachError, Attached};
use crate::lock::{LockError, ProjectLock};
use crate::project::Project;
use crate::session::{Session, SessionError};

/// Whether a command needs the trained models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelUse {
    /// Never attach them (e.g. `train` replaces them).
    Skip,
    /// Attach them when they exist; a warning if they cannot be read.
    IfPresent,
    /// Attach them, training first when there are none.
    Required,
}

/// Something happening while a project opens.
#[derive(Debug)]
pub enum Event {
    /// A step worth telling before it starts (it may take a while).
    Note(String),
    /// Training on first use, as it goes.
    Training(ml::train::Progress),
}

/// A session ready for SQL and reports, and what the user should know.
pub struct Opened {
    pub session: Session,
    pub warnings: Vec<String>,
}

/// Why a project could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Demo(#[from] crate::seed::SeedError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Models(#[from] AttachError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Backtest(#[from] crate::backtest::BacktestError),
}

/// Opens `project`'s session with its models as `models` says.
pub async fn open(
    project: &Project,
    models: ModelUse,
    events: &dyn Fn(Event),
) -> Result<Opened, OpenError> {
    crate::demo::ensure(project, &|note| events(Event::Note(note)))?;
    let mut session = Session::open(project).await?;
    let mut warnings = std::mem::take(&mut session.warnings);
    if models == ModelUse::IfPresent && crate::models::unlisted(project) {
        warnings.push(format!(
            "the models in {} have no manifest.json (written by an earlier revintel) and are not used; run `revintel train`",
            project.models_dir.display()
        ));
    }
    let attach = match models {
        ModelUse::Skip => false,
        ModelUse::IfPresent => crate::models::present(project),
        ModelUse::Required => true,
    };
    if attach {
        // Training on first use writes the models: one writer at a time.
        let _lock = (!crate::models::present(project))
            .then(|| {
                ProjectLock::acquire(project, "train", &mut |m| {
                    events(Event::Note(m.to_string()))
                })
            })
            .transpose()?;
        let training = || {
            events(Event::Note(format!(
                "no trained model in {}; training one first …",
                project.models_dir.display()
            )))
        };
        let progress = |p| events(Event::Training(p));
        match attach::ensure(&mut session, project, &training, &progress).await {
            Ok(Attached::Loaded) => {}
            Ok(Attached::Trained(report)) => events(Event::Note(format!(
                "trained on {} won / {} lost deals; evaluation AUC {:.3}, ECE {:.3}",
                report.won_deals,
                report.lost_deals,
                report.win_prob.auc.unwrap_or(f64::NAN),
                report.win_prob.ece
            ))),
            // Raw tables stay usable when an optional model cannot be read.
            Err(e) if models == ModelUse::IfPresent => {
                warnings.push(format!("models not attached: {e}"));
            }
            Err(e) => return Err(e.into()),
        }
        if session.models.is_some() {
            crate::backtest::register(&session, project).await?;
        }
    }
    // Rejected rows are also kept in out/rejects.csv (removed when none).
    warnings.extend(crate::sources::rejects_file::publish(
        &project.out_dir,
        &session.load,
    ));
    warnings.extend(rejects_warnings(&session));
    Ok(Opened { session, warnings })
}

/// One warning per file with rejected rows.
pub fn rejects_warnings(session: &Session) -> Vec<String> {
    session
        .load
        .files
        .iter()
        .filter_map(|file| {
            let first = file.rejected.first()?;
            Some(format!(
                "{}: {} of {} rows rejected (first: {first}); see `SELECT * FROM load_rejects`",
                file.file.display(),
                file.rows_rejected(),
                file.rows_read,
            ))
        })
        .collect()
}
