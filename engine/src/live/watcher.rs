//! File watching for live rebuilds: notify's events, gathered into batches.
//!
//! What the watcher promises, whatever the machine's speed:
//! - **A batch waits for a quiet gap**: it is handed over once no event has
//!   come for [`QUIET`], so an editor's save (write a temporary file,
//!   rename it over the old one, touch it again) is one batch.
//! - **…bounded by a maximum delay**: a batch is handed over at the latest
//!   [`MAX_DELAY`] after its first event, so a file written without pause
//!   still rebuilds reports while it is being written.
//! - **No event is lost**: events that come while the caller is busy (a
//!   rebuild) wait in the queue and form the next batch, so the last batch
//!   always holds the last change and the outputs end in the final state.
//! - The caller takes one batch at a time, so rebuilds never overlap.
//!
//! Both halves of a rename are events of their own, with their own paths;
//! the caller decides what each path means (an editor's temporary file
//! means nothing, the file it was renamed to means a change). When the
//! kernel's event queue overflowed, events were dropped: the batch says so
//! ([`Batch::rescan`]) and the caller must treat everything as changed.
//! The set of watched folders can change ([`Watcher::watch_folders`])
//! without losing what is queued.

use notify::{RecursiveMode, Watcher as _};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long the files must be quiet before a batch is handed over.
pub const QUIET: Duration = Duration::from_millis(25);

/// The longest a batch waits after its first event.
pub const MAX_DELAY: Duration = Duration::from_millis(500);

/// Changed paths and watch errors (as text to log) that arrived together.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub paths: BTreeSet<PathBuf>,
    pub errors: Vec<String>,
    /// Events were lost (the kernel's queue overflowed): anything may have changed.
    pub rescan: bool,
}

/// What one event says.
#[derive(Debug)]
pub enum Event {
    Paths(Vec<PathBuf>),
    /// Events were dropped; everything must be looked at again.
    Rescan,
    Error(String),
}

/// One event as it arrived.
#[derive(Debug)]
pub struct Stamped {
    pub at: Instant,
    pub event: Event,
}

/// Watches folders; [`Watcher::next`] yields batches of changed paths.
pub struct Watcher {
    watcher: notify::RecommendedWatcher,
    folders: BTreeSet<PathBuf>,
    batcher: Batcher,
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
        let handler = move |result: notify::Result<notify::Event>| {
            let event = match result {
                Ok(e) if e.need_rescan() => Event::Rescan,
                Ok(e) if e.kind.is_access() => return,
                Ok(e) => Event::Paths(e.paths),
                Err(e) => Event::Error(e.to_string()),
            };
            let _ = tx.send(Stamped {
                at: Instant::now(),
                event,
            });
        };
        let watcher = notify::recommended_watcher(handler).map_err(|source| WatchError {
            path: PathBuf::new(),
            source,
        })?;
        let mut watcher = Watcher {
            watcher,
            folders: BTreeSet::new(),
            batcher: Batcher::new(events, QUIET, MAX_DELAY),
        };
        watcher.watch_folders(folders)?;
        Ok(watcher)
    }

    /// Watches exactly `folders` from now on (missing ones are skipped);
    /// events already queued are kept.
    pub fn watch_folders(&mut self, folders: &[PathBuf]) -> Result<(), WatchError> {
        let wanted: BTreeSet<PathBuf> = folders.iter().filter(|f| f.is_dir()).cloned().collect();
        for gone in self.folders.difference(&wanted) {
            // A folder that disappeared is no longer watched anyway.
            let _ = self.watcher.unwatch(gone);
        }
        for added in wanted.difference(&self.folders) {
            self.watcher
                .watch(added, RecursiveMode::NonRecursive)
                .map_err(|source| WatchError {
                    path: added.clone(),
                    source,
                })?;
        }
        self.folders = wanted;
        Ok(())
    }

    /// The next batch (see the module's promises); None when watching ended.
    pub async fn next(&mut self) -> Option<Batch> {
        self.batcher.next().await
    }
}

/// Gathers stamped events into batches: a batch ends after `quiet` without
/// events, or `max_delay` after its first event, whichever comes first.
pub struct Batcher {
    events: mpsc::UnboundedReceiver<Stamped>,
    quiet: Duration,
    max_delay: Duration,
}

impl Batcher {
    pub fn new(
        events: mpsc::UnboundedReceiver<Stamped>,
        quiet: Duration,
        max_delay: Duration,
    ) -> Batcher {
        Batcher {
            events,
            quiet,
            max_delay,
        }
    }

    /// The next batch; None once the sender is gone and nothing is left.
    pub async fn next(&mut self) -> Option<Batch> {
        let first = self.events.recv().await?;
        let start = first.at;
        let mut last = first.at;
        let mut batch = Batch::default();
        add(&mut batch, first);
        loop {
            let deadline = (last + self.quiet).min(start + self.max_delay);
            // Events already waiting are taken even when the deadline has
            // passed (they came while the caller was busy).
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    last = last.max(event.at);
                    add(&mut batch, event);
                }
                Ok(None) | Err(_) => return Some(batch),
            }
        }
    }
}

fn add(batch: &mut Batch, stamped: Stamped) {
    match stamped.event {
        Event::Paths(paths) => batch.paths.extend(paths),
        Event::Rescan => batch.rescan = true,
        Event::Error(e) => batch.errors.push(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Duration = Duration::from_millis(25);
    const MAX: Duration = Duration::from_millis(500);
    const MS: Duration = Duration::from_millis(1);

    fn event(name: &str) -> Stamped {
        Stamped {
            at: Instant::now(),
            event: Event::Paths(vec![PathBuf::from(name)]),
        }
    }

    fn names(batch: &Batch) -> Vec<String> {
        batch
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    }

    /// A save's events come close together: one batch, handed over one
    /// quiet gap after the last of them.
    #[tokio::test(start_paused = true)]
    async fn a_burst_is_one_batch_after_a_quiet_gap() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut batcher = Batcher::new(rx, Q, MAX);
        let begun = Instant::now();
        let sender = tokio::spawn(async move {
            for name in ["a", "b", "c"] {
                tx.send(event(name)).unwrap();
                tokio::time::sleep(10 * MS).await;
            }
            tokio::time::sleep(100 * MS).await;
            tx.send(event("d")).unwrap();
        });
        let batch = batcher.next().await.unwrap();
        assert_eq!(names(&batch), ["a", "b", "c"]);
        // The last event came at 20 ms; the batch 25 ms later.
        assert_eq!(Instant::now() - begun, 45 * MS);
        let batch = batcher.next().await.unwrap();
        assert_eq!(names(&batch), ["d"]);
        sender.await.unwrap();
        assert!(batcher.next().await.is_none(), "ends with the sender");
    }

    /// Writes without a pause still yield a batch every `MAX_DELAY`, and
    /// every event lands in exactly one batch.
    #[tokio::test(start_paused = true)]
    async fn a_storm_is_cut_at_the_maximum_delay_and_loses_nothing() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut batcher = Batcher::new(rx, Q, MAX);
        let begun = Instant::now();
        let writes: u32 = 1000;
        let sender = tokio::spawn(async move {
            for i in 0..writes {
                tx.send(event(&format!("{i:04}"))).unwrap();
                tokio::time::sleep(5 * MS).await;
            }
        });
        let mut seen: Vec<String> = Vec::new();
        let mut batches = 0;
        while let Some(batch) = batcher.next().await {
            batches += 1;
            let names = names(&batch);
            // Event i was written at i × 5 ms.
            let first: u32 = names[0].parse().unwrap();
            let waited = Instant::now() - (begun + first * 5 * MS);
            assert!(waited <= MAX, "batch {batches} waited {waited:?}");
            seen.extend(names);
        }
        sender.await.unwrap();
        let expected: Vec<String> = (0..writes).map(|i| format!("{i:04}")).collect();
        assert_eq!(seen, expected, "every event once, in order");
        // 5 s of writes: about one batch per 0.5 s, never one per write.
        assert!((10..=11).contains(&batches), "{batches} batches");
    }

    /// Events that came while the caller was busy form the next batch at
    /// once when the maximum delay has passed meanwhile.
    #[tokio::test(start_paused = true)]
    async fn events_during_a_rebuild_make_the_next_batch() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut batcher = Batcher::new(rx, Q, MAX);
        tx.send(event("first")).unwrap();
        assert_eq!(names(&batcher.next().await.unwrap()), ["first"]);
        // A rebuild takes 2 s; writes keep coming.
        for i in 0..20 {
            tx.send(event(&format!("w{i:02}"))).unwrap();
            tokio::time::sleep(100 * MS).await;
        }
        let before = Instant::now();
        let batch = batcher.next().await.unwrap();
        assert_eq!(batch.paths.len(), 20);
        assert_eq!(Instant::now(), before, "handed over without waiting");
        drop(tx);
        assert!(batcher.next().await.is_none());
    }
}
