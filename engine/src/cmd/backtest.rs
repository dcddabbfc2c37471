//! `revintel backtest`: forecast past quarters as they stood and compare
//! with what was actually won.

use super::{open_session, ModelUse};
use revintel::backtest::{self, BacktestRow};
use revintel::project::Project;
use std::process::ExitCode;

/// An amount as the reports write it.
fn money(v: f64) -> String {
    utils::numbers::money(v, None, "$")
}

#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// How many past complete quarters to test (at least 4 for a useful coverage figure).
    #[arg(long, default_value_t = 4,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=backtest::MAX_QUARTERS as u64))]
    quarters: usize,
}

pub async fn run(project: &Project, args: BacktestArgs) -> anyhow::Result<ExitCode> {
    let _lock = super::write_lock(project, "backtest")?;
    let session = open_session(project, ModelUse::Skip).await?;
    let rows = backtest::run(&session, project, args.quarters, &|msg| {
        tell!("revintel: {msg}")
    })
    .await?;
    say!(
        "{:<12} {:<25} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8}",
        "cut-off",
        "quarter",
        "P10",
        "P50",
        "P90",
        "actual",
        "inside",
        "APE P50"
    );
    for r in &rows {
        say!(
            "{:<12} {:<25} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7.1}%",
            r.cutoff.to_string(),
            format!("{} – {}", r.period.start, r.period.end),
            money(r.p10),
            money(r.p50),
            money(r.p90),
            money(r.actual),
            if r.inside() { "yes" } else { "no" },
            r.ape() * 100.0
        );
    }
    let n = rows.len().max(1) as f64;
    let coverage = rows.iter().filter(|r| r.inside()).count() as f64 / n;
    let mape = rows.iter().map(BacktestRow::ape).sum::<f64>() / n;
    say!(
        "\nP10–P90 coverage {:.0}% ({} of {} cut-offs; an honest band covers about 80%, and {} cut-offs is a small sample), MAPE of P50 {:.1}%",
        coverage * 100.0,
        rows.iter().filter(|r| r.inside()).count(),
        rows.len(),
        rows.len(),
        mape * 100.0
    );
    let path = backtest::save(project, &rows)?;
    say!("saved to {} (SQL: SELECT * FROM backtest)", path.display());
    Ok(ExitCode::SUCCESS)
}
