//! `revintel import`: a dry run of the project's sources — what each would
//! load, what it would reject and why — without writing anything, except
//! the rejects file when asked for.

use anyhow::bail;
use revintel::project::Project;
use revintel::sources::report::FileLoad;
use revintel::sources::{load_sources, rejects_file, OnFailure};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Only these sources, by name (an import's `name`, file stem or table;
    /// `folder`, `derived`); default: all.
    #[arg(value_name = "SOURCE")]
    sources: Vec<String>,
    /// Write every rejected row to out/rejects.csv.
    #[arg(long)]
    write_rejects: bool,
    /// Write every rejected row to this CSV file instead.
    #[arg(long, value_name = "PATH")]
    rejects: Option<PathBuf>,
    /// Rejected rows to show per source.
    #[arg(long, default_value_t = 5, value_name = "N")]
    show: usize,
}

fn kind_of(project: &Project, load: &FileLoad) -> String {
    match load.source.as_str() {
        "folder" => "csv (canonical)".into(),
        "derived" => "derived".into(),
        name => project
            .sources
            .imports
            .iter()
            .find(|i| i.label() == name)
            .map_or_else(|| "?".into(), |i| i.kind.as_str().to_string()),
    }
}

fn thousands(n: u64) -> String {
    reports::filters::number(n as f64, Some(0))
}

pub async fn run(project: &Project, args: ImportArgs) -> anyhow::Result<ExitCode> {
    revintel::demo::ensure(project, &|note| tell!("revintel: {note}"))?;
    let assembled =
        load_sources(&project.sources, project.as_of, false, OnFailure::Continue).await?;
    let report = &assembled.report;
    let mut names: Vec<&str> = report.files.iter().map(|f| f.source.as_str()).collect();
    names.extend(assembled.failures.iter().map(|(n, _)| n.as_str()));
    for wanted in &args.sources {
        if !names.contains(&wanted.as_str()) {
            names.sort();
            names.dedup();
            bail!(
                "no source named `{wanted}`; the sources are: {}",
                names.join(", ")
            );
        }
    }
    let selected = |name: &str| args.sources.is_empty() || args.sources.iter().any(|s| s == name);

    match &project.config {
        Some(c) => say!("sources of {}", c.display()),
        None => say!(
            "sources of the demo project ({})",
            project.data_dir.display()
        ),
    }
    say!();
    let rows: Vec<&FileLoad> = report
        .files
        .iter()
        .filter(|f| selected(&f.source))
        .collect();
    // Bounded: a name is the user's, and padding past 65,535 panics.
    let width = rows
        .iter()
        .map(|f| f.source.chars().count())
        .chain([6])
        .max()
        .unwrap_or(6)
        .min(60);
    say!(
        "{:<width$}  {:<16} {:<14} {:>10} {:>10} {:>10}",
        "source",
        "kind",
        "table",
        "read",
        "loaded",
        "rejected"
    );
    for f in &rows {
        say!(
            "{:<width$}  {:<16} {:<14} {:>10} {:>10} {:>10}",
            f.source,
            kind_of(project, f),
            f.table,
            thousands(f.rows_read),
            thousands(f.rows_loaded),
            thousands(f.rows_rejected()),
        );
    }
    for f in &rows {
        if f.notes.is_empty() && f.rejected.is_empty() {
            continue;
        }
        say!("\n{} → {} ({})", f.source, f.table, f.file.display());
        for note in &f.notes {
            say!("  note: {}", note);
        }
        for r in f.rejected.iter().take(args.show) {
            say!("  rejected: {}", r);
        }
        if f.rejected.len() > args.show {
            say!(
                "  … and {} more rejected rows",
                f.rejected.len() - args.show
            );
        }
    }
    let mut failed = false;
    for (name, e) in &assembled.failures {
        if selected(name) {
            failed = true;
            say!("\n{name}: NOT LOADED: {e}");
        }
    }
    let totals = rows.iter().fold((0, 0, 0), |(r, l, j), f| {
        (r + f.rows_read, l + f.rows_loaded, j + f.rows_rejected())
    });
    say!(
        "\n{} rows read = {} loaded + {} rejected.",
        thousands(totals.0),
        thousands(totals.1),
        thousands(totals.2)
    );
    let target = match (&args.rejects, args.write_rejects) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => Some(rejects_file::default_path(&project.out_dir)),
        (None, false) => None,
    };
    match target {
        Some(path) => {
            let n = rejects_file::write(&path, report)?;
            if n > 0 {
                say!("{n} rejected rows written to {}.", path.display());
            } else {
                say!("No rejected rows; {} not written.", path.display());
            }
        }
        None => say!(
            "Nothing was written (--write-rejects keeps the rejected rows in out/rejects.csv)."
        ),
    }
    let strict_failure = project.strict && totals.2 > 0;
    if strict_failure {
        say!("strict: rows were rejected.");
    }
    Ok(if failed || strict_failure {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
