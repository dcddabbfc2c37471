//! One module per subcommand, each with its own arguments.

#[macro_use]
pub mod messages;
mod backtest;
mod build;
mod deliver;
mod import;
mod pg;
mod repl;
mod schedule;
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
    /// Serve the pipeline to PostgreSQL clients (psql, DBeaver, notebooks) on 127.0.0.1:5433.
    Pg(pg::PgArgs),
    /// Train the win-probability and time-to-close models and report their quality.
    Train(train::TrainArgs),
    /// Forecast past quarters as they stood and compare with what was won.
    Backtest(backtest::BacktestArgs),
    /// Mail the configured deliveries now (--dry-run writes them to out/outbox/; --status shows the ledger).
    Deliver(deliver::DeliverArgs),
    /// Run in the foreground and send each delivery when its schedule is due.
    Schedule(schedule::ScheduleArgs),
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
        Command::Pg(args) => pg::run(&project, args).await,
        Command::Train(args) => train::run(&project, args).await,
        Command::Backtest(args) => backtest::run(&project, args).await,
        Command::Deliver(args) => deliver::run(&project, args).await,
        Command::Schedule(args) => schedule::run(&project, args).await,
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

use build::ensure_backtest_for;
pub use revintel::open::ModelUse;

/// Opens the project's session (see `revintel::open`), showing what happens
/// on the way — a progress bar while training on first use — and the
/// warnings it returns.
pub async fn open_session(project: &Project, models: ModelUse) -> anyhow::Result<Session> {
    let (bar, progress) = train::progress_bar();
    let opened = revintel::open::open(project, models, &|event| match event {
        revintel::open::Event::Note(note) => bar.suspend(|| tell!("revintel: {note}")),
        revintel::open::Event::Training(p) => progress(p),
    })
    .await;
    bar.finish_and_clear();
    let opened = opened?;
    for warning in &opened.warnings {
        tell!("warning: {warning}");
    }
    Ok(opened.session)
}
