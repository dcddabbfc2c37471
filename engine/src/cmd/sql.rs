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
    /// How to print results.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
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
            return super::repl::run(&session, args.format).await;
        }
    };
    // Parse and check before loading any data, so a bad statement fails fast.
    let statements = match query::parse(&sql) {
        Ok(statements) => statements,
        Err(e) => {
            eprintln!("{}", e.render(&sql, &origin));
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
    match query::run(&session.ctx, &sql).await {
        Ok(results) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            for result in &results {
                output::write_result(&mut out, result, args.format)?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}", e.render(&sql, &origin));
            Ok(ExitCode::FAILURE)
        }
    }
}
