//! `revintel watch`: rebuild reports whenever their templates, data, models
//! or the config change (see `revintel::live`). One log line per rebuilt
//! report, with the reason.

use super::build::{FormatArg, ReportArgs};
use revintel::live::run::{self, Event, Options};
use revintel::project::Project;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub reports: ReportArgs,
}

pub async fn run(project: &Project, args: WatchArgs) -> anyhow::Result<ExitCode> {
    run::watch(project, options(&args.reports), &tell).await?;
    Ok(ExitCode::SUCCESS)
}

/// What to build, from the report arguments.
pub fn options(args: &ReportArgs) -> Options {
    Options {
        only: args
            .templates
            .iter()
            .map(|t| {
                std::path::Path::new(t)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| t.clone())
            })
            .collect(),
        formats: (!args.format.is_empty())
            .then(|| args.format.iter().map(|&f: &FormatArg| f.into()).collect()),
        params: args.params.clone(),
        no_reports: false,
    }
}

/// Shows what watching and serving do: log lines on stdout, the rest on stderr.
pub fn tell(event: Event<'_>) {
    match event {
        Event::Rebuilt(rebuilt) => {
            for rebuild in rebuilt {
                say!("{}", rebuild.log_line());
            }
        }
        Event::Serving(address) => say!("serving http://{address}/"),
        Event::ServingPg(address) => say!(
            "serving PostgreSQL clients on {address}: psql \"host={} port={} dbname=revintel\"",
            address.ip(),
            address.port()
        ),
        Event::Watching(folders) => say!(
            "watching {} (Ctrl-C to stop)",
            folders
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::Note(note) => tell!("revintel: {note}"),
        Event::Warning(warning) => tell!("warning: {warning}"),
    }
}
