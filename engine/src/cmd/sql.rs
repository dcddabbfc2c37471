//! `revintel sql`: run SQL against the pipeline, one-shot or interactively.

use super::open_session;
use anyhow::Context;
use revintel::output::{self, Format};
use revintel::project::Project;
use revintel::query;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    /// Run this SQL (one or more statements separated by `;`) and exit.
    #[arg(
        short = 'c',
        long = "command",
        value_name = "SQL",
        conflicts_with = "file"
    )]
    command: Option<String>,
    /// Run the SQL in this file and exit.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// How to print results. CSV and JSON stream, whatever the row count.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Most rows a table shows (the rest are counted).
    #[arg(long, value_name = "N", default_value_t = output::DEFAULT_TABLE_ROWS as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_rows: u64,
    /// In CSV, prefix text cells that begin with = + - @ (or a tab or CR)
    /// with ', so a spreadsheet shows them as text instead of running them.
    #[arg(long)]
    escape_formulas: bool,
}

pub async fn run(project: &Project, args: SqlArgs) -> anyhow::Result<ExitCode> {
    let (sql, origin) = match (&args.command, &args.file) {
        (Some(sql), _) => (sql.clone(), "<command line>".to_string()),
        (None, Some(path)) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read the SQL file", path.display()))?,
            path.display().to_string(),
        ),
        (None, None) => {
            let session = open_session(project, super::ModelUse::IfPresent).await?;
            return super::repl::run(&session, options(&args)).await;
        }
    };
    // Parse and check before loading any data, so a bad statement fails fast.
    let statements = match query::parse(&sql) {
        Ok(statements) => statements,
        Err(e) => {
            tell!("{}", e.render(&sql, &origin));
            return Ok(ExitCode::FAILURE);
        }
    };
    let session = open_session(
        project,
        if query::uses_models(&statements) {
            super::ModelUse::Required
        } else {
            super::ModelUse::IfPresent
        },
    )
    .await?;
    let statements = match query::prepare(&sql) {
        Ok(statements) => statements,
        Err(e) => {
            tell!("{}", e.render(&sql, &origin));
            return Ok(ExitCode::FAILURE);
        }
    };
    use std::io::IsTerminal;
    let stdout = std::io::stdout();
    // CSV and JSON go to files as they are; on a terminal they are shown
    // safely too (tables always are).
    let mut out: Box<dyn Write> = if stdout.is_terminal() {
        Box::new(output::TerminalWriter::new(stdout.lock()))
    } else {
        Box::new(std::io::BufWriter::new(stdout.lock()))
    };
    let options = options(&args);
    for statement in statements {
        let written = match query::execute(&session.ctx, statement, None).await {
            Ok(stream) => output::write_stream(&mut out, stream, &options).await,
            Err(e) => Err(e.into()),
        };
        match written.and_then(|_| out.flush().map_err(Into::into)) {
            Ok(()) => {}
            // The reader has what it wanted (`| head`).
            Err(e) if e.is_broken_pipe() => return Ok(ExitCode::SUCCESS),
            Err(output::OutputError::Query(e)) => {
                let _ = out.flush();
                tell!("{}", e.render(&sql, &origin));
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn options(args: &SqlArgs) -> output::OutputOptions {
    output::OutputOptions {
        format: args.format,
        max_table_rows: args.max_rows as usize,
        escape_formulas: args.escape_formulas,
    }
}
