//! One module per subcommand, each with its own arguments.

#[macro_use]
pub mod messages;
mod backtest;
mod bench;
mod bench_import;
mod bench_reports;
mod bench_stream;
mod build;
mod import;
mod repl;
mod seed;
mod serve;
mod sql;
mod train;
mod watch;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use revintel::project::Project;
use revintel::session::Session;
use std::path::PathBuf;
use std::process::ExitCode;

/// Revenue intelligence for sales pipelines: SQL over CRM data, deal scores
/// and briefings. Read-only: it never writes to a CRM.
#[derive(Debug, Parser)]
#[command(name = "revintel", version, about)]
pub struct Cli {
    /// Use this config instead of looking for revintel.toml.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The date to describe the pipeline as of (YYYY-MM-DD); default: the
    /// config's, else the data's own.
    #[arg(long, global = true, value_name = "DATE", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Fail when any input row is rejected instead of reporting it.
    #[arg(long, global = true)]
    strict: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate the deterministic demo data set.
    Seed(seed::SeedArgs),
    /// Render report templates into out/ as HTML pages and PDF briefings.
    Build(build::BuildArgs),
    /// Check the configured sources: rows each would load and reject, and why.
    Import(import::ImportArgs),
    /// Rebuild reports whenever their templates, data, models or config change.
    Watch(watch::WatchArgs),
    /// Serve out/ on 127.0.0.1 with live reload, rebuilding like `watch`.
    Serve(serve::ServeArgs),
    /// Query the pipeline with SQL: one-shot (-c, -f) or an interactive shell.
    Sql(sql::SqlArgs),
    /// Train the win-probability and time-to-close models and report their quality.
    Train,
    /// Forecast past quarters as they stood and compare with what was won.
    Backtest(backtest::BacktestArgs),
    /// Measure the speed and memory targets against same-run baselines.
    Bench(bench::BenchArgs),
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let date = revintel::sources::csv_file::parse_iso_date(s)
        .ok_or_else(|| format!("`{s}` is not a date; expected YYYY-MM-DD"))?;
    revintel::sources::values::plausible_date(date)
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the working folder")?;
    let mut project = Project::discover(&cwd, cli.config.as_deref())?;
    if cli.config.is_none() {
        if let Some(config) = project
            .config
            .as_deref()
            .filter(|c| c.parent() != Some(&cwd))
        {
            // A config in a parent folder changes what every command reads.
            tell!(
                "revintel: using {} (found in a parent folder)",
                config.display()
            );
        }
    }
    if let Some(as_of) = cli.as_of {
        project.as_of = Some(as_of);
    }
    project.strict |= cli.strict;
    match cli.command {
        Command::Seed(args) => seed::run(&project, args, cli.as_of),
        Command::Sql(args) => sql::run(&project, args).await,
        Command::Import(args) => import::run(&project, args).await,
        Command::Build(args) => build::run(&project, args).await,
        Command::Watch(args) => watch::run(&project, args).await,
        Command::Serve(args) => serve::run(&project, args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Train => train::run(&project).await,
        Command::Backtest(args) => backtest::run(&project, args).await,
    }
}

/// Takes the project's write lock for `command`, saying whom it waits
/// for when another process holds it (see `revintel::lock`).
pub fn write_lock(project: &Project, command: &str) -> anyhow::Result<revintel::lock::ProjectLock> {
    Ok(revintel::lock::ProjectLock::acquire(
        project,
        command,
        &mut |message| tell!("revintel: {message}"),
    )?)
}

/// Whether a command needs the trained models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelUse {
    /// Never attach them (e.g. `train` replaces them).
    Skip,
    /// Attach them when they exist; warn if they cannot be read.
    IfPresent,
    /// Attach them, training first when there are none.
    Required,
}

/// Opens the project's session, generating demo data first when needed and
/// warning about rejected rows (they stay queryable in `load_rejects`).
pub async fn open_session(project: &Project, models: ModelUse) -> anyhow::Result<Session> {
    revintel::demo::ensure_demo_data(project)?;
    let mut session = Session::open(project).await?;
    for warning in &session.warnings {
        tell!("warning: {warning}");
    }
    if models == ModelUse::IfPresent && revintel::models::unlisted(project) {
        tell!(
            "warning: the models in {} have no manifest.json (written by an earlier revintel) and are not used; run `revintel train`",
            project.models_dir.display()
        );
    }
    let attach = match models {
        ModelUse::Skip => false,
        ModelUse::IfPresent => revintel::models::present(project),
        ModelUse::Required => true,
    };
    // Training on first use writes the models: one writer at a time.
    let _lock = (attach && !revintel::models::present(project))
        .then(|| write_lock(project, "train"))
        .transpose()?;
    if attach {
        let (bar, progress) = train::progress_bar();
        let attached = revintel::models::ensure(&mut session, project, &progress).await;
        bar.finish_and_clear();
        match attached {
            Ok(()) => {}
            // Raw tables stay usable when an optional model cannot be read.
            Err(e) if models == ModelUse::IfPresent => {
                tell!("warning: models not attached: {e}");
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Rejected rows are also kept in out/rejects.csv (removed when none).
    revintel::sources::rejects_file::publish(&project.out_dir, &session.load);
    for file in &session.load.files {
        if let Some(first) = file.rejected.first() {
            tell!(
                "warning: {}: {} of {} rows rejected (first: {first}); see `SELECT * FROM load_rejects`",
                file.file.display(),
                file.rows_rejected(),
                file.rows_read,
            );
        }
    }
    Ok(session)
}
