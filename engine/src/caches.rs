//! Computed tables kept on disk between processes: the scores of every open
//! deal and the forecast tables, each in `models/.cache/` as Arrow IPC under
//! a name holding the key of everything it was computed from, so a later
//! process (or the shell) reuses them instead of computing them again.
//!
//! Long-running processes (live rebuild) write in the background: a report
//! need not wait for the disk to make a file only a later process reads. A
//! background write that fails is kept as a message for the caller to show
//! ([`take_failures`]); this library prints nothing.

use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::arrow::record_batch::RecordBatch;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{}: {source}", path.display())]
    Arrow {
        path: PathBuf,
        #[source]
        source: datafusion::arrow::error::ArrowError,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A folder of cached tables.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    background: bool,
}

/// Failed background writes, for the caller to show.
static FAILURES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The background writes that failed since the last call.
pub fn take_failures() -> Vec<String> {
    std::mem::take(&mut *FAILURES.lock().unwrap_or_else(|e| e.into_inner()))
}

impl Cache {
    /// The cache in `dir`; `background` writes on a thread of its own.
    pub fn new(dir: PathBuf, background: bool) -> Cache {
        Cache { dir, background }
    }

    /// The table cached as `name`, if it is there and readable.
    pub fn read(&self, name: &str) -> Option<RecordBatch> {
        read_arrow(&self.dir.join(name))
    }

    /// The newest table whose name starts with `prefix`, whatever its key.
    pub fn latest(&self, prefix: &str) -> Option<RecordBatch> {
        let newest = std::fs::read_dir(&self.dir)
            .ok()?
            .flatten()
            .filter(|e| is_kind(&e.path(), prefix))
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())?;
        read_arrow(&newest.path())
    }

    /// Caches `batch` as `name` (atomically) and removes the older tables
    /// of its kind (`prefix`): their keys can never be asked for again.
    pub fn write(&self, name: &str, batch: &RecordBatch, prefix: &str) -> Result<(), CacheError> {
        let (dir, path) = (self.dir.clone(), self.dir.join(name));
        if !self.background {
            return write_replacing(&dir, &path, batch, prefix);
        }
        let (batch, prefix) = (batch.clone(), prefix.to_string());
        std::thread::spawn(move || {
            if let Err(e) = write_replacing(&dir, &path, &batch, &prefix) {
                FAILURES
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("cache not written: {e}"));
            }
        });
        Ok(())
    }
}

fn is_kind(path: &Path, prefix: &str) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".arrow"))
}

fn write_replacing(
    dir: &Path,
    path: &Path,
    batch: &RecordBatch,
    prefix: &str,
) -> Result<(), CacheError> {
    write_arrow(path, batch)?;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let p = entry.path();
            if p != path && is_kind(&p, prefix) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    Ok(())
}

/// A table from an Arrow IPC file, if it is there and readable.
pub fn read_arrow(path: &Path) -> Option<RecordBatch> {
    let file = std::fs::File::open(path).ok()?;
    let reader = FileReader::try_new(file, None).ok()?;
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().ok()?;
    concat_batches(&schema, &batches).ok()
}

/// Writes a table as an Arrow IPC file, atomically.
pub fn write_arrow(path: &Path, batch: &RecordBatch) -> Result<(), CacheError> {
    let arrow = |source| CacheError::Arrow {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    {
        let mut writer = FileWriter::try_new(&mut bytes, &batch.schema()).map_err(arrow)?;
        writer.write(batch).map_err(arrow)?;
        writer.finish().map_err(arrow)?;
    }
    utils::fs::write_atomic(path, &bytes).map_err(|source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    })
}
