//! One writer per project at a time.
//!
//! `train`, `build`, `backtest` and each rebuild of `watch`/`serve` write
//! the project's models, caches and outputs. Two of them at once would
//! interleave those writes (one run's PDF beside another's HTML, one's
//! scores cached under another's models), so each holds the project's write
//! lock — an advisory `flock` on `.revintel.lock` in the models folder —
//! while it writes. A second process waits for it, and says for whom: the
//! holder writes its process id and command into the lock file. The lock
//! ends with the process, however it ends, so a crash never leaves it held.
//!
//! Reading commands (`sql`, `import`) take no lock: what they write (score
//! caches named by their content, `out/rejects.csv`) is written atomically
//! and means the same whoever writes it.

use crate::project::Project;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

/// The lock file, in the models folder.
pub const LOCK_FILE: &str = ".revintel.lock";

/// The project's write lock, held until dropped.
#[derive(Debug)]
pub struct ProjectLock {
    /// The locked file; None when this process already held the lock
    /// (a build that trains on first use takes it twice).
    file: Option<File>,
    path: PathBuf,
}

/// The lock files this process holds, with how many guards hold each.
static HELD: std::sync::Mutex<Vec<(PathBuf, usize)>> = std::sync::Mutex::new(Vec::new());

/// Counts one more guard on `path` if this process holds it already.
fn held_here(path: &std::path::Path) -> bool {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    match held.iter_mut().find(|(p, _)| p == path) {
        Some((_, count)) => {
            *count += 1;
            true
        }
        None => false,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{}: cannot take the project's write lock: {source}", path.display())]
pub struct LockError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl ProjectLock {
    /// Takes the write lock of `project` for `command` (as the waiting
    /// side's message names it). When another process holds it, `waiting`
    /// hears who, and the call waits until it is released.
    pub fn acquire(
        project: &Project,
        command: &str,
        waiting: &mut dyn FnMut(&str),
    ) -> Result<ProjectLock, LockError> {
        let path = project.models_dir.join(LOCK_FILE);
        let err = |source| LockError {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&project.models_dir).map_err(err)?;
        // Re-entrant within the process: its own second taker must not
        // wait for itself.
        let path = std::fs::canonicalize(path.parent().unwrap_or(&path))
            .map(|dir| dir.join(LOCK_FILE))
            .unwrap_or(path);
        if held_here(&path) {
            return Ok(ProjectLock { file: None, path });
        }
        let err = |source| LockError {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "another revintel process".to_string()
                } else {
                    holder.to_string()
                };
                waiting(&format!(
                    "waiting for {holder}, which holds {} …",
                    path.display()
                ));
                file.lock().map_err(err)?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
        }
        // Who holds it, for the next one to wait.
        let holder = format!("process {} (revintel {command})\n", std::process::id());
        let written = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(holder.as_bytes()));
        written.map_err(err)?;
        HELD.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((path.clone(), 1));
        Ok(ProjectLock {
            file: Some(file),
            path,
        })
    }
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = held.iter().position(|(p, _)| *p == self.path) {
            held[i].1 -= 1;
            if held[i].1 == 0 {
                held.remove(i);
            }
        }
        if let Some(file) = &self.file {
            let _ = file.set_len(0);
            let _ = file.unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_may_take_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::demo(dir.path());
        let outer = ProjectLock::acquire(&project, "build", &mut |m| panic!("{m}")).unwrap();
        let inner =
            ProjectLock::acquire(&project, "train", &mut |m| panic!("waited for itself: {m}"))
                .unwrap();
        drop(inner);
        drop(outer);
        // Released: another open file description takes it at once.
        let file = std::fs::File::open(dir.path().join("models").join(LOCK_FILE)).unwrap();
        file.try_lock().unwrap();
    }

    #[test]
    fn a_second_taker_waits_and_is_told_for_whom() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::demo(dir.path());
        std::fs::create_dir_all(&project.models_dir).unwrap();
        // Another process's lock: an open file description of its own.
        let mut other = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(project.models_dir.join(LOCK_FILE))
            .unwrap();
        other.lock().unwrap();
        other.write_all(b"process 4242 (revintel train)\n").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let second = std::thread::spawn(move || {
            let mut heard = String::new();
            let lock = ProjectLock::acquire(&project, "build", &mut |m| {
                heard = m.to_string();
                tx.send(()).unwrap();
            })
            .unwrap();
            drop(lock);
            heard
        });
        // Told before it has the lock; only then is the other released.
        rx.recv().unwrap();
        other.unlock().unwrap();
        let heard = second.join().unwrap();
        assert!(heard.contains("process 4242 (revintel train)"), "{heard}");
    }
}
