//! `revintel bench --reports`: rendering the weekly briefing (HTML + PDF)
//! at 10,000 deals with scores cached; target ≤ 300 ms for the render.
//!
//! Measured two ways, each against a baseline from the same run:
//! * in process — running the template's SQL, rendering and writing both
//!   files (`build::build`), against running the same SQL alone;
//! * whole process — `revintel build weekly_briefing`, against
//!   `revintel sql` reading `scored_deals` (start-up, data load, models and
//!   cached scores attached), so the difference is the report itself.

use super::bench::{median, ms, percentile, run_child};
use super::{open_session, ModelUse};
use anyhow::Context;
use reports::template::Template;
use revintel::project::Project;
use std::path::Path;
use std::time::{Duration, Instant};

/// The shipped weekly briefing, as compiled into this binary.
pub const WEEKLY_BRIEFING: &str = include_str!("../../../templates/weekly_briefing.md");

pub async fn run(exe: &Path, scratch: &Path, runs: usize) -> anyhow::Result<()> {
    let dir = scratch.join("reports");
    std::fs::create_dir_all(dir.join("templates"))?;
    let template_path = dir.join("templates/weekly_briefing.md");
    std::fs::write(&template_path, WEEKLY_BRIEFING)?;
    run_child(exe, &["seed", "--deals", "10000"], &dir)?;
    eprintln!("bench: first build (trains, backtests and caches scores; not measured) …");
    run_child(exe, &["build", "weekly_briefing"], &dir)?;

    // In process.
    let project = Project::demo(&dir);
    let session = open_session(&project, ModelUse::Required).await?;
    let template = Template::load(&template_path)?;
    let params = template.resolve_params(&Default::default())?;
    let open: usize = session
        .ctx
        .sql("SELECT count(*) FROM scored_deals")
        .await?
        .collect()
        .await?
        .first()
        .map(|b| {
            datafusion::arrow::array::AsArray::as_primitive::<
                datafusion::arrow::datatypes::Int64Type,
            >(b.column(0))
            .value(0) as usize
        })
        .unwrap_or(0);
    let mut render = Vec::with_capacity(runs);
    let mut sql_only = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        for q in template.queries() {
            let mut sql = q.sql.clone();
            for (name, value) in &params {
                sql = sql.replace(&format!("${name}"), &literal(value));
            }
            session.ctx.sql(&sql).await?.collect().await?;
        }
        sql_only.push(started.elapsed());
        let started = Instant::now();
        let built =
            revintel::build::build(&session, &template, &params, None, &project.out_dir).await?;
        render.push(started.elapsed());
        last = Some(built);
    }
    let built = last.context("at least one run")?;
    let pdf = built
        .files
        .iter()
        .find(|f| f.format == reports::template::OutputFormat::Pdf)
        .context("a PDF was written")?;
    let html = built
        .files
        .iter()
        .find(|f| f.format == reports::template::OutputFormat::Html)
        .context("an HTML page was written")?;
    let (r50, r95, s50) = (
        median(render.clone()),
        percentile(render, 0.95),
        median(sql_only),
    );
    println!(
        "weekly briefing, HTML + PDF, 10,000 deals ({open} open), scores cached ({runs} runs):"
    );
    println!(
        "  in process: median {:.1} ms, p95 {:.1} ms; baseline: its SQL alone {:.1} ms; ratio {:.1}x; target <= 300 ms: {}",
        ms(r50),
        ms(r95),
        ms(s50),
        r50.as_secs_f64() / s50.as_secs_f64().max(1e-9),
        if ms(r50) <= 300.0 { "met" } else { "NOT met" }
    );
    println!(
        "  PDF {} pages, {:.1} KiB; HTML {:.1} KiB",
        pdf.pages,
        pdf.bytes as f64 / 1024.0,
        html.bytes as f64 / 1024.0
    );

    // Whole process.
    let mut whole = Vec::with_capacity(runs);
    let mut base = Vec::with_capacity(runs);
    for _ in 0..runs {
        base.push(
            run_child(
                exe,
                &["sql", "-c", "SELECT count(*) FROM scored_deals"],
                &dir,
            )?
            .wall,
        );
        whole.push(run_child(exe, &["build", "weekly_briefing"], &dir)?.wall);
    }
    let (w50, w95, b50): (Duration, Duration, Duration) =
        (median(whole.clone()), percentile(whole, 0.95), median(base));
    println!(
        "  whole process `build weekly_briefing`: median {:.1} ms, p95 {:.1} ms; baseline `sql` on scored_deals {:.1} ms; report itself {:.1} ms",
        ms(w50),
        ms(w95),
        ms(b50),
        ms(w50.saturating_sub(b50))
    );
    Ok(())
}

/// A parameter as SQL text, for the baseline only (reports bind values).
fn literal(value: &reports::template::ParamValue) -> String {
    use reports::template::ParamValue;
    match value {
        ParamValue::Null => "NULL".into(),
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(f) => f.to_string(),
        ParamValue::Text(t) => format!("'{}'", t.replace('\'', "''")),
    }
}
