//! `revintel train`: train the win-probability and time-to-close models on
//! the project's history and print how good they are.

use super::open_session;
use indicatif::{ProgressBar, ProgressStyle};
use ml::metrics::BinaryMetrics;
use ml::train::{Progress, TrainReport};
use revintel::project::Project;
use std::process::ExitCode;

/// A progress bar over training snapshots, then the model fits.
pub fn progress_bar() -> (ProgressBar, impl Fn(Progress)) {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<24} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    let handle = bar.clone();
    let report = move |p: Progress| match p {
        Progress::Snapshot { done, total } => {
            handle.set_length(total as u64);
            handle.set_position(done as u64);
            handle.set_message("building snapshots");
        }
        Progress::Fitting(what) => handle.set_message(format!("fitting {what}")),
    };
    (bar, report)
}

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Publish the model's scores although the leak guard flagged this
    /// feature (repeatable; or `[models] accept_leaks` in revintel.toml).
    /// Every report then carries a warning.
    #[arg(long = "accept-leak", value_name = "FEATURE")]
    accept_leak: Vec<String>,
}

pub async fn run(project: &Project, args: TrainArgs) -> anyhow::Result<ExitCode> {
    let _lock = super::write_lock(project, "train")?;
    for name in &args.accept_leak {
        ml::leaks::check_acceptable(name).map_err(|e| anyhow::anyhow!("--accept-leak: {e}"))?;
    }
    let mut project = project.clone();
    project.accept_leaks.extend(args.accept_leak);
    let session = open_session(&project, super::ModelUse::Skip).await?;
    let (bar, progress) = progress_bar();
    let report = revintel::models::train(&session, &project, &progress).await;
    bar.finish_and_clear();
    let report = report?;
    say!("{}", summary(&report).trim_end());
    say!(
        "models and metrics.json written to {}",
        project.models_dir.display()
    );
    let withheld = report.withheld();
    if !withheld.is_empty() {
        tell!("error: the model looks too good to be true, so its scores are withheld:");
        for reason in ml::leaks::explain_all(withheld.iter().copied()) {
            tell!("  - {reason}");
        }
        let names: Vec<&str> = withheld.iter().map(|f| f.feature.as_str()).collect();
        tell!(
            "fix the cause and retrain; accept a flag only if you know the field is fixed when deals are created: `revintel train --accept-leak {}` (or `[models] accept_leaks` in revintel.toml)",
            names.join(" --accept-leak ")
        );
        return Ok(ExitCode::FAILURE);
    }
    for reason in ml::leaks::explain_all(&report.leaks.flags) {
        tell!("warning: accepted, and every report will say so: {reason}");
    }
    Ok(ExitCode::SUCCESS)
}

fn row(name: &str, m: &BinaryMetrics) -> String {
    format!(
        "  {name:<26} {:>7.3} {:>9.3} {:>7.3} {:>7.3}\n",
        m.auc.unwrap_or(f64::NAN),
        m.log_loss,
        m.brier,
        m.ece
    )
}

/// The metrics as a small table for the terminal.
pub fn summary(r: &TrainReport) -> String {
    let w = &r.window;
    let mut s = format!(
        "trained on {} won / {} lost deals; snapshots every 14 days from {} to {} ({} cut-offs)\n\
         split at {}: {} train, {} calibration, {} evaluation rows; calibration: {} (CV Brier platt {:.4}, isotonic {:.4})\n\n",
        r.won_deals,
        r.lost_deals,
        w.first_cutoff,
        w.last_cutoff,
        w.cutoffs,
        w.split_date,
        w.train_rows,
        w.calibration_rows,
        w.evaluation_rows,
        r.calibration.method,
        r.calibration.platt_cv_brier,
        r.calibration.isotonic_cv_brier,
    );
    s.push_str("  win probability (evaluation)   AUC  log loss   Brier     ECE\n");
    s.push_str(&row("model, calibrated", &r.win_prob));
    s.push_str(&row("model, uncalibrated", &r.win_prob_uncalibrated));
    s.push_str(&row("baseline: stage win rate", &r.stage_only_baseline));
    s.push_str("\n  reliability (calibrated)  bin        n  predicted  observed\n");
    for b in &r.win_prob.reliability {
        s.push_str(&format!(
            "                            {:.1}–{:.1} {:>6} {:>10.3} {:>9.3}\n",
            b.lower, b.upper, b.count, b.mean_predicted, b.observed_rate
        ));
    }
    let t = &r.time_to_close;
    s.push_str(&format!(
        "\n  time to close (won deals, {} rows): pinball loss P10 {:.1}, P50 {:.1}, P90 {:.1} days; P10–P90 coverage {:.1}% (band widened {:.1} days)\n",
        t.rows,
        t.pinball_loss.first().copied().unwrap_or(f64::NAN),
        t.pinball_loss.get(1).copied().unwrap_or(f64::NAN),
        t.pinball_loss.get(2).copied().unwrap_or(f64::NAN),
        t.coverage_p10_p90 * 100.0,
        t.interval_adjustment_days,
    ));
    s
}
