//! `revintel deliver`: send configured deliveries now, write them for
//! review (`--dry-run`), or show what was sent and what failed (`--status`).

use super::{ensure_backtest_for, open_session, write_lock, ModelUse};
use revintel::delivery::{self, ledger, Outcome};
use revintel::delivery_config::Delivery;
use revintel::project::Project;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DeliverArgs {
    /// Deliveries to send, by name (default: every `[[deliveries]]` entry).
    names: Vec<String>,
    /// Write each message as an .eml file under out/outbox/ instead of sending.
    #[arg(long)]
    dry_run: bool,
    /// Show, per delivery, what was sent for which period, what failed and
    /// why, and when it is next due.
    #[arg(long, conflicts_with_all = ["dry_run", "force"])]
    status: bool,
    /// Send even when the ledger has this period as sent already.
    #[arg(long)]
    force: bool,
}

/// The deliveries `names` pick (all when empty); an unknown name is an error.
pub(super) fn chosen<'p>(
    project: &'p Project,
    names: &[String],
) -> anyhow::Result<Vec<&'p Delivery>> {
    if project.deliveries.is_empty() {
        anyhow::bail!(
            "no deliveries configured: add a [[deliveries]] entry to {} (see the README, \"Delivering the briefing\")",
            project
                .config
                .as_deref()
                .unwrap_or(&project.root.join(revintel::project::CONFIG_FILE))
                .display()
        );
    }
    if names.is_empty() {
        return Ok(project.deliveries.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            project
                .deliveries
                .iter()
                .find(|d| &d.name == n)
                .ok_or_else(|| {
                    let known: Vec<&str> =
                        project.deliveries.iter().map(|d| d.name.as_str()).collect();
                    anyhow::anyhow!("no delivery named {n:?} (configured: {})", known.join(", "))
                })
        })
        .collect()
}

pub async fn run(project: &Project, args: DeliverArgs) -> anyhow::Result<ExitCode> {
    let deliveries = chosen(project, &args.names)?;
    let ledger_path = ledger::path(&project.root);
    if args.status {
        return status(project, &deliveries);
    }
    let _lock = write_lock(project, "deliver")?;
    let mut session = open_session(project, model_use(project, &deliveries)?).await?;
    let mut failed = false;
    for d in deliveries {
        ensure_backtest_for(&mut session, project, &delivery::template_path(project, d)).await?;
        let period = delivery::period(d, chrono::Utc::now(), session.as_of);
        let outgoing = delivery::prepare(&session, project, d, &period).await?;
        for o in &outgoing {
            let who = format!("{} ({})", d.name, o.audience.key);
            if args.dry_run {
                let dir = project.out_dir.join("outbox");
                std::fs::create_dir_all(&dir)?;
                let file = dir.join(format!(
                    "{}-{}.eml",
                    d.name,
                    delivery::audience_slug(&o.audience.key)
                ));
                utils::fs::write_atomic(&file, &o.message.formatted())?;
                say!(
                    "{who}: written to {} (not sent): to {}, subject {:?}",
                    revintel::build::shown_path(&file),
                    o.audience.to.join(", "),
                    o.subject
                );
                continue;
            }
            match delivery::send(&ledger_path, d, &period, o, args.force, d.smtp.attempts).await? {
                Outcome::Sent { attempts } => say!(
                    "{who}: sent to {} for {period}{}",
                    o.audience.to.join(", "),
                    if attempts > 1 {
                        format!(" (attempt {attempts})")
                    } else {
                        String::new()
                    }
                ),
                Outcome::AlreadySent => {
                    say!("{who}: already sent for {period}; not sent again (--force sends anyway)")
                }
                Outcome::Failed { attempts, failure } => {
                    failed = true;
                    tell!("error: {who}: not sent after {attempts} attempt(s): {failure}");
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Models are trained first only when a delivery's report reads them.
pub(super) fn model_use(project: &Project, deliveries: &[&Delivery]) -> anyhow::Result<ModelUse> {
    for d in deliveries {
        let path = delivery::template_path(project, d);
        let template = reports::template::Template::load(&path)?;
        if revintel::build::uses_models(&template) {
            return Ok(ModelUse::Required);
        }
    }
    Ok(ModelUse::IfPresent)
}

/// The ledger, delivery by delivery.
fn status(project: &Project, deliveries: &[&Delivery]) -> anyhow::Result<ExitCode> {
    let ledger = ledger::Ledger::load(&ledger::path(&project.root))?;
    let now = chrono::Utc::now();
    for d in deliveries {
        let when = match &d.schedule {
            Some(s) => format!(
                "{} {} (next {})",
                s.pattern,
                s.zone,
                delivery::schedule::next(s, now)
                    .map_or("never".into(), |t| delivery::schedule::period_key(&t))
            ),
            None => "no schedule (sent by `revintel deliver`)".into(),
        };
        say!("{}: {when}", d.name);
        let entries = ledger.latest(&d.name);
        if entries.is_empty() {
            say!("  nothing sent yet");
        }
        for e in entries.iter().take(20) {
            let state = match e.state {
                ledger::State::Sent => "sent",
                ledger::State::Sending => {
                    "sending (interrupted; sent again with the same Message-ID on the next run)"
                }
                ledger::State::Failed => "FAILED",
                ledger::State::Skipped => "skipped",
            };
            say!(
                "  {} {} {state} · attempts {} · {} · to {}{}{}",
                e.period,
                e.audience,
                e.attempts,
                e.updated,
                if e.recipients.is_empty() {
                    "-".to_string()
                } else {
                    e.recipients.join(", ")
                },
                e.error
                    .as_deref()
                    .map(|x| format!(" · {x}"))
                    .unwrap_or_default(),
                e.retry_at
                    .as_deref()
                    .map(|r| format!(" · retry at {r}"))
                    .unwrap_or_default(),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
