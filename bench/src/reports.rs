//! `revintel bench --reports`: rendering the weekly briefing (HTML + PDF)
//! at 10,000 deals with scores cached; target ≤ 300 ms for the render.
//!
//! Measured two ways, each against a baseline from the same run:
//! * in process — running the template's SQL, rendering and writing both
//!   files (`build::build`), against running the same SQL alone;
//! * whole process — `revintel build weekly_briefing`, against
//!   `revintel sql` reading `scored_deals` (start-up, data load, models and
//!   cached scores attached), so the difference is the report itself.

use crate::child::{median, ms, percentile, run_child};
use crate::open_session;
use anyhow::Context;
use reports::template::Template;
use revintel::project::Project;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The shipped weekly briefing, as compiled into this binary.
pub const WEEKLY_BRIEFING: &str = include_str!("../../templates/weekly_briefing.md");

/// Puts the shipped weekly briefing in `dir`'s templates folder; its path.
pub fn with_briefing(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("templates"))?;
    let path = dir.join("templates/weekly_briefing.md");
    std::fs::write(&path, WEEKLY_BRIEFING)?;
    Ok(path)
}

/// Saves of `stage_history.csv`, each raising one open deal's amount by
/// 100: the data edit the watch benchmarks time (a plain save, as an editor
/// or a spreadsheet makes it).
pub struct HistoryEdits {
    path: PathBuf,
    rows: Vec<String>,
    /// Current rows of open deals: no exit date and not closed.
    open: Vec<usize>,
}

impl HistoryEdits {
    pub fn of(project: &Path) -> anyhow::Result<HistoryEdits> {
        let path = project.join("seeds/stage_history.csv");
        let rows: Vec<String> = std::fs::read_to_string(&path)?
            .lines()
            .map(str::to_string)
            .collect();
        let open: Vec<usize> = rows
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, l)| {
                let f: Vec<&str> = l.split(',').collect();
                f.len() > 4 && f[3].is_empty() && !f[1].starts_with("Closed")
            })
            .map(|(i, _)| i)
            .collect();
        if open.is_empty() {
            anyhow::bail!("no open deal in {}", path.display());
        }
        Ok(HistoryEdits { path, rows, open })
    }

    /// Edit number `edit`: raises a deal's amount and saves the file.
    pub fn save(&mut self, edit: usize) -> std::io::Result<()> {
        let row = self.open[(edit * 37) % self.open.len()];
        let mut fields: Vec<String> = self.rows[row].split(',').map(str::to_string).collect();
        let amount: f64 = fields[4].parse().unwrap_or(1000.0);
        fields[4] = format!("{:.2}", amount + 100.0);
        self.rows[row] = fields.join(",");
        std::fs::write(&self.path, self.rows.join("\n") + "\n")
    }
}

pub async fn run(exe: &Path, scratch: &Path, runs: usize) -> anyhow::Result<()> {
    let dir = scratch.join("reports");
    let template_path = with_briefing(&dir)?;
    run_child(exe, &["seed", "--deals", "10000"], &dir)?;
    eprintln!("bench: first build (trains, backtests and caches scores; not measured) …");
    run_child(exe, &["build", "weekly_briefing"], &dir)?;

    // In process.
    let project = Project::demo(&dir);
    let session = open_session(&project).await?;
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
            let df = session.ctx.sql(&sql).await?;
            let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            // Later fences may read this one's result, as in a build.
            let table = datafusion::catalog::MemTable::try_new(schema, vec![batches])?;
            session
                .ctx
                .register_table(q.name.as_str(), std::sync::Arc::new(table))?;
        }
        sql_only.push(started.elapsed());
        for q in template.queries() {
            session.ctx.deregister_table(q.name.as_str())?;
        }
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
    watch_latency(exe, &dir, w50).await
}

/// `revintel watch`: from a write to `stage_history.csv` (one open deal's
/// amount) to the briefing's HTML and PDF both rewritten, 20 edits.
async fn watch_latency(exe: &Path, dir: &Path, cold_build: Duration) -> anyhow::Result<()> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(exe)
        .args(["watch", "weekly_briefing"])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("watch's stdout")?;
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = lines.recv_timeout(Duration::from_secs(120))?;
        if line.starts_with("watching") {
            break;
        }
    }
    let html = dir.join("out/weekly_briefing.html");
    let pdf = dir.join("out/weekly_briefing.pdf");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut edits = HistoryEdits::of(dir)?;
    let mut latencies = Vec::new();
    let mut rebuilt_lines = 0;
    for edit in 0..20 {
        let (html_before, pdf_before) = (modified(&html), modified(&pdf));
        edits.save(edit)?;
        let written = Instant::now();
        let deadline = written + Duration::from_secs(30);
        loop {
            if modified(&html) != html_before && modified(&pdf) != pdf_before {
                latencies.push(written.elapsed());
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                anyhow::bail!("edit {edit}: the briefing was not rewritten within 30 s");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Let the watcher settle before the next edit.
        while let Ok(line) = lines.recv_timeout(Duration::from_millis(300)) {
            if line.starts_with("rebuilt") {
                rebuilt_lines += 1;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let (l50, l95) = (median(latencies.clone()), percentile(latencies, 0.95));
    println!(
        "watch: data-file write to briefing HTML + PDF rewritten, 20 edits at 10,000 deals (unchanged deals' scores reused):"
    );
    println!(
        "  median {:.1} ms, p95 {:.1} ms ({rebuilt_lines} rebuilds); baseline: a cold `build weekly_briefing` {:.1} ms; ratio {:.2}x; target p50 <= 300 ms: {}",
        ms(l50),
        ms(l95),
        ms(cold_build),
        l50.as_secs_f64() / cold_build.as_secs_f64(),
        if ms(l50) <= 300.0 { "met" } else { "NOT met" }
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
