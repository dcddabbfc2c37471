//! File watching for live rebuilds: notify's events, debounced by
//! `notify-debouncer-full` (which also pairs the two halves of a rename and
//! so follows editors' write-a-temporary-then-rename saves), handed over as
//! batches of paths.
//!
//! A burst of events becomes one batch; and while a rebuild runs, every
//! batch that arrives meanwhile is merged into the next one, so the number
//! of rebuilds is bounded by how long they take, not by how many writes
//! there were.

use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the files must be quiet before a batch is handed over.
pub const QUIET: Duration = Duration::from_millis(25);

/// Watches folders; [`Watcher::next`] yields the changed paths.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    events: mpsc::UnboundedReceiver<Result<Vec<PathBuf>, String>>,
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {}: {source}", path.display())]
pub struct WatchError {
    path: PathBuf,
    #[source]
    source: notify::Error,
}

impl Watcher {
    /// Watches each folder of `folders` (not recursively; missing ones are skipped).
    pub fn new(folders: &[PathBuf]) -> Result<Watcher, WatchError> {
        let (tx, events) = mpsc::unbounded_channel();
        let mut debouncer = new_debouncer(QUIET, None, move |result: DebounceEventResult| {
            let batch = match result {
                Ok(events) => Ok(events
                    .into_iter()
                    .filter(|e| !e.kind.is_access())
                    .flat_map(|e| e.event.paths)
                    .collect()),
                Err(errors) => Err(errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")),
            };
            let _ = tx.send(batch);
        })
        .map_err(|source| WatchError {
            path: PathBuf::new(),
            source,
        })?;
        for folder in folders.iter().filter(|f| f.is_dir()) {
            debouncer
                .watch(folder, RecursiveMode::NonRecursive)
                .map_err(|source| WatchError {
                    path: folder.clone(),
                    source,
                })?;
        }
        Ok(Watcher {
            _debouncer: debouncer,
            events,
        })
    }

    /// The next batch of changed paths: waits for one, then takes every
    /// batch already waiting too. Watch errors are returned as text to log.
    pub async fn next(&mut self) -> Option<(BTreeSet<PathBuf>, Vec<String>)> {
        let first = self.events.recv().await?;
        let mut paths = BTreeSet::new();
        let mut errors = Vec::new();
        let mut take = |batch: Result<Vec<PathBuf>, String>| match batch {
            Ok(p) => paths.extend(p),
            Err(e) => errors.push(e),
        };
        take(first);
        while let Ok(more) = self.events.try_recv() {
            take(more);
        }
        Some((paths, errors))
    }
}
