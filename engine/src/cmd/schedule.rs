//! `revintel schedule`: stays in the foreground (for systemd, cron's
//! successor timers, or a container) and sends each delivery when it is due.
//!
//! Each pass reads the ledger, decides per delivery ([`delivery::due`]),
//! opens the project only when something is to be sent (so the data is as
//! fresh as the send), sends, and sleeps until the next scheduled time or
//! retry, at most a minute. A restart reads the same ledger, so it never
//! sends a period twice; a run missed while it was down is sent once on
//! start, or skipped when the delivery says `missed = "skip"`.

use super::deliver::{chosen, model_use};
use super::{ensure_backtest_for, open_session, write_lock};
use chrono::{DateTime, Utc};
use revintel::delivery::{self, ledger, Due, Outcome};
use revintel::project::Project;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    /// Make one pass (send what is due now) and exit, instead of running on.
    #[arg(long)]
    once: bool,
    /// With --once: act as if it were this time (RFC 3339, e.g.
    /// 2026-11-30T07:00:00+01:00), to check what a schedule would send.
    #[arg(long, requires = "once", value_parser = parse_time)]
    at: Option<DateTime<Utc>>,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("`{s}` is not an RFC 3339 time such as 2026-11-30T07:00:00+01:00 ({e})")
        })
}

/// Longest sleep between passes, so a changed clock or ledger is noticed.
const LONGEST_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

pub async fn run(project: &Project, args: ScheduleArgs) -> anyhow::Result<ExitCode> {
    let deliveries: Vec<_> = chosen(project, &[])?
        .into_iter()
        .filter(|d| d.schedule.is_some())
        .collect();
    if deliveries.is_empty() {
        anyhow::bail!(
            "no delivery has a `schedule`; `revintel deliver` sends the others on demand"
        );
    }
    let started = args.at.unwrap_or_else(Utc::now);
    for d in &deliveries {
        let s = d.schedule.as_ref().expect("filtered");
        tell!(
            "revintel: schedule: {} at {:?} {} (next {})",
            d.name,
            s.pattern,
            s.zone,
            delivery::schedule::next(s, started)
                .map_or("never".into(), |t| delivery::schedule::period_key(&t))
        );
    }
    // Made once, so a stop asked for during a pass is heard after it: a
    // send is never cut off by Ctrl-C or SIGTERM.
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    let mut failed = false;
    loop {
        let now = args.at.unwrap_or_else(Utc::now);
        match pass(project, &deliveries, now, started).await {
            Ok(ok) => failed |= !ok,
            Err(e) => {
                failed = true;
                tell!("error: schedule: {}", super::messages::error_text(&e));
            }
        }
        if args.once {
            return Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            });
        }
        let wake = wake_time(&deliveries, project, Utc::now());
        let sleep = (wake - Utc::now())
            .to_std()
            .unwrap_or_default()
            .min(LONGEST_SLEEP);
        #[cfg(unix)]
        let terminate = term.recv();
        #[cfg(not(unix))]
        let terminate = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = &mut interrupt => {
                tell!("revintel: schedule: stopped");
                return Ok(ExitCode::SUCCESS);
            }
            _ = terminate => {
                tell!("revintel: schedule: stopped");
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}

/// The next scheduled time or retry of any delivery.
fn wake_time(
    deliveries: &[&revintel::delivery_config::Delivery],
    project: &Project,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let ledger = ledger::Ledger::load(&ledger::path(&project.root)).unwrap_or_default();
    deliveries
        .iter()
        .flat_map(|d| {
            let next = d
                .schedule
                .as_ref()
                .and_then(|s| delivery::schedule::next(s, now))
                .map(|t| t.with_timezone(&Utc));
            [next, delivery::next_retry(&ledger, &d.name)]
        })
        .flatten()
        .min()
        .unwrap_or(now + chrono::Duration::seconds(60))
}

/// One pass: false when a send failed.
async fn pass(
    project: &Project,
    deliveries: &[&revintel::delivery_config::Delivery],
    now: DateTime<Utc>,
    started: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let began = std::time::Instant::now();
    let path = ledger::path(&project.root);
    let mut book = ledger::Ledger::load(&path)?;
    let mut first = false;
    for d in deliveries {
        if !book.scheduled_since.contains_key(&d.name) {
            let since = started - delivery::ON_TIME;
            book.scheduled_since.insert(
                d.name.clone(),
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
            first = true;
        }
    }
    if first {
        book.save(&path)?;
    }
    let mut to_send = Vec::new();
    for d in deliveries {
        match delivery::due(d, &book, now, started) {
            Due::Nothing => {}
            Due::Skip { period } => {
                tell!("revintel: schedule: {}: the run of {period} was missed while no scheduler ran; skipped (missed = \"skip\")", d.name);
                delivery::record_skip(&path, d, &period)?;
            }
            Due::Send { period, missed } => {
                if missed {
                    tell!("revintel: schedule: {}: the run of {period} was missed while no scheduler ran; sending it now", d.name);
                }
                to_send.push((*d, period));
            }
        }
    }
    if to_send.is_empty() {
        return Ok(true);
    }
    let _lock = write_lock(project, "schedule")?;
    let chosen: Vec<_> = to_send.iter().map(|(d, _)| *d).collect();
    let mut session = open_session(project, model_use(project, &chosen)?).await?;
    let mut ok = true;
    for (d, period) in to_send {
        ensure_backtest_for(&mut session, project, &delivery::template_path(project, d)).await?;
        for o in delivery::prepare(&session, project, d, &period).await? {
            let who = format!("{} ({})", d.name, o.audience.key);
            match delivery::send(&path, d, &period, &o, false, 1).await? {
                Outcome::Sent { attempts } => tell!(
                    "revintel: schedule: {who}: sent to {} for {period} (attempt {attempts}, {:.1} s after the pass began)",
                    o.audience.to.join(", "),
                    began.elapsed().as_secs_f64()
                ),
                Outcome::AlreadySent => {}
                Outcome::Failed { attempts, failure } => {
                    ok = false;
                    tell!("error: schedule: {who}: attempt {attempts} failed: {failure}");
                }
            }
        }
    }
    Ok(ok)
}
