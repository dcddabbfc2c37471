//! `revintel backtest`: forecast every week of past quarters as they stood,
//! compare with what was actually won, and against two baselines.

use super::{open_session, ModelUse};
use revintel::backtest;
use revintel::project::Project;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// How many past complete quarters to test, every week of each (13 cut-offs a quarter).
    #[arg(long, default_value_t = backtest::DEFAULT_QUARTERS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=backtest::MAX_QUARTERS as u64))]
    quarters: usize,
}

pub async fn run(project: &Project, args: BacktestArgs) -> anyhow::Result<ExitCode> {
    let _lock = super::write_lock(project, "backtest")?;
    let session = open_session(project, ModelUse::Skip).await?;
    let started = std::time::Instant::now();
    let result =
        backtest::run(&session, project, args.quarters, &super::messages::progress).await?;
    for (period, why) in &result.skipped {
        tell!(
            "revintel: quarter {} – {} not tested: {why}",
            period.start,
            period.end
        );
    }
    let path = backtest::save(project, &result)?;
    backtest::register(&session, project).await?;
    let lines = summary(&session).await?;
    for line in lines {
        say!("{line}");
    }
    say!(
        "{} cut-offs in {:.0} s; saved to {} (SQL: SELECT * FROM backtest, SELECT * FROM backtest_accuracy)",
        result.rows.len(),
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The accuracy table as text: each method over all cut-offs, then the
/// forecast by weeks into the quarter.
async fn summary(session: &revintel::session::Session) -> anyhow::Result<Vec<String>> {
    let rows = text_rows(
        session,
        "SELECT method, coalesce(CAST(weeks_into_quarter AS VARCHAR), 'all') AS weeks, cut_offs,
                coverage, bias, mape, pinball_p10, pinball_p50, pinball_p90, pinball_mean
         FROM backtest_accuracy
         ORDER BY weeks_into_quarter NULLS FIRST,
                  CASE method WHEN 'revintel' THEN 0 WHEN 'stage_weighted' THEN 1 ELSE 2 END",
    )
    .await?;
    let mut out = vec![format!(
        "{:<16} {:>5} {:>8} {:>9} {:>7} {:>7} {:>10} {:>10} {:>10} {:>10}",
        "method",
        "weeks",
        "cut-offs",
        "P10–P90",
        "bias",
        "MAPE",
        "pinball .1",
        "pinball .5",
        "pinball .9",
        "mean"
    )];
    for r in rows {
        let num = |k: usize| r[k].parse::<f64>().unwrap_or(f64::NAN);
        let money = |k: usize| utils::numbers::money(num(k), None, "$");
        let pct = |k: usize| format!("{:+.1}%", num(k) * 100.0);
        out.push(format!(
            "{:<16} {:>5} {:>8} {:>9} {:>7} {:>7} {:>10} {:>10} {:>10} {:>10}",
            r[0],
            r[1],
            r[2],
            format!("{:.0}%", num(3) * 100.0),
            pct(4),
            format!("{:.1}%", num(5) * 100.0),
            money(6),
            money(7),
            money(8),
            money(9)
        ));
    }
    Ok(out)
}

/// A query's rows with every value as text ("" for NULL).
async fn text_rows(
    session: &revintel::session::Session,
    sql: &str,
) -> anyhow::Result<Vec<Vec<String>>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType;
    let mut out = Vec::new();
    for batch in session.ctx.sql(sql).await?.collect().await? {
        let columns = batch
            .columns()
            .iter()
            .map(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            out.push(
                columns
                    .iter()
                    .map(|c| {
                        let c = c.as_string::<i32>();
                        if c.is_null(i) {
                            String::new()
                        } else {
                            c.value(i).to_string()
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}
