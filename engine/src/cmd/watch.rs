//! `revintel watch`: rebuild reports whenever their templates, data, models
//! or the config change. One log line per rebuilt report, with the reason.

use super::build::{FormatArg, ReportArgs};
use anyhow::Context;
use revintel::live::{Change, Live, Rebuild};
use revintel::project::Project;
use revintel::watcher::Watcher;
use std::collections::BTreeSet;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub reports: ReportArgs,
}

pub async fn run(project: &Project, args: WatchArgs) -> anyhow::Result<ExitCode> {
    let live = start(project, &args.reports).await?;
    watch_loop(live, |_, rebuilt| {
        for rebuild in rebuilt {
            say!("{}", rebuild.log_line());
        }
    })
    .await
}

/// Opens the project and builds everything once, logging each report.
pub async fn start(project: &Project, args: &ReportArgs) -> anyhow::Result<Live> {
    let formats = (!args.format.is_empty())
        .then(|| args.format.iter().map(|&f: &FormatArg| f.into()).collect());
    let only: Vec<String> = args
        .templates
        .iter()
        .map(|t| {
            std::path::Path::new(t)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| t.clone())
        })
        .collect();
    let lock = super::write_lock(project, "watch")?;
    let (live, first) = Live::open(project.clone(), only, formats, args.params.clone())
        .await
        .context("starting the live rebuild")?;
    drop(lock);
    for rebuild in &first {
        say!("{}", rebuild.log_line());
    }
    Ok(live)
}

/// Watches the project's files and rebuilds on every batch of changes,
/// calling `on_batch` with the reports rebuilt (or failed) each time.
pub async fn watch_loop(
    mut live: Live,
    mut on_batch: impl FnMut(&Live, &[Rebuild]),
) -> anyhow::Result<ExitCode> {
    let mut watched = live.watched();
    let mut watcher = Watcher::new(&watched)?;
    let shown = |folders: &[std::path::PathBuf]| {
        folders
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    say!("watching {} (Ctrl-C to stop)", shown(&watched));
    loop {
        let batch = tokio::select! {
            batch = watcher.next() => batch,
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        };
        let Some(batch) = batch else {
            return Ok(ExitCode::SUCCESS);
        };
        for e in batch.errors {
            tell!("warning: watching: {e}");
        }
        let mut changes: BTreeSet<Change> = batch
            .paths
            .iter()
            .filter_map(|p| live.classify(p))
            .collect();
        if batch.rescan {
            // Events were lost: read everything again.
            tell!("warning: watching: file events were lost; reloading everything");
            changes.insert(Change::Config);
        }
        if changes.is_empty() {
            continue;
        }
        // Each rebuild holds the write lock; between them a `build` or
        // `train` elsewhere may write. Waiting for it can be interrupted.
        let project = live.project().clone();
        let lock = tokio::task::spawn_blocking(move || super::write_lock(&project, "watch"));
        let lock = tokio::select! {
            lock = lock => lock??,
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        };
        let rebuilt = live.apply(&changes).await;
        drop(lock);
        if !rebuilt.is_empty() {
            on_batch(&live, &rebuilt);
        }
        // A new config can move the templates, data or models.
        if live.watched() != watched {
            watched = live.watched();
            // The same watcher: what is queued meanwhile is kept.
            watcher.watch_folders(&watched)?;
            say!("watching {}", shown(&watched));
        }
    }
}
