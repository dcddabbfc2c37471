//! Export drops: an import `path` that is a glob (`exports/opportunities-*.csv`)
//! reads the newest matching file, so a nightly export under a new, dated
//! name is picked up without editing the config.
//!
//! "Newest" is the last by name (dated names sort by date) or, with
//! `newest = "modified"`, the last modified. A file is read only once it has
//! settled: when it was modified within the last `settle_seconds` (1 s by
//! default), its size and modification time are watched until they hold
//! still that long, so a file still being written is never read half-way.
//! (Writers that write to another name and rename it in place are never
//! seen half-way anyway: the rename is the only event.) Wildcards belong in
//! the file name; the folder is named as it is.

use super::SourceError;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How the newest matching file is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Newest {
    ByName,
    ByModified,
}

/// Longest a drop is waited for while it is still being written.
pub const LONGEST_WAIT: Duration = Duration::from_secs(120);

/// Whether `path` is a pattern rather than a file.
pub fn is_pattern(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// Whether the changed file `file` is one `pattern` would read.
pub fn matches(pattern: &Path, file: &Path) -> bool {
    let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
        return false;
    };
    file.parent() == Some(dir)
        && file.file_name().is_some_and(|f| {
            glob::Pattern::new(&name.to_string_lossy())
                .is_ok_and(|p| p.matches(&f.to_string_lossy()))
        })
}

/// The file a pattern reads now: the newest match, once settled; and how
/// many files matched.
pub fn pick(
    pattern: &Path,
    newest: Newest,
    settle: Duration,
    config: &Path,
) -> Result<(PathBuf, usize), SourceError> {
    let bad = |message: String| SourceError::Config {
        path: config.to_path_buf(),
        message,
    };
    let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
        return Err(bad(format!("{}: not a file pattern", pattern.display())));
    };
    if is_pattern(dir) {
        return Err(bad(format!(
            "{}: wildcards may be used in the file name only, not in its folder",
            pattern.display()
        )));
    }
    let glob = glob::Pattern::new(&name.to_string_lossy())
        .map_err(|e| bad(format!("{}: {e}", pattern.display())))?;
    let entries = std::fs::read_dir(dir).map_err(|source| SourceError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found: Vec<(PathBuf, SystemTime)> = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        // Hidden files are editors' and uploaders' temporaries.
        if file_name.starts_with('.') || !glob.matches(&file_name) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() {
            found.push((
                entry.path(),
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            ));
        }
    }
    let count = found.len();
    let chosen = match newest {
        Newest::ByName => found.into_iter().max_by(|a, b| a.0.cmp(&b.0)),
        Newest::ByModified => found
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0))),
    };
    let Some((path, _)) = chosen else {
        return Err(bad(format!("no file matches {} (yet)", pattern.display())));
    };
    wait_until_settled(&path, settle)?;
    Ok((path, count))
}

/// Returns once `path` has not changed for `settle` (at once when its last
/// change is older than that).
fn wait_until_settled(path: &Path, settle: Duration) -> Result<(), SourceError> {
    let started = std::time::Instant::now();
    let state = |path: &Path| {
        std::fs::metadata(path)
            .map(|m| (m.len(), m.modified().ok()))
            .map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })
    };
    let mut last = state(path)?;
    let mut still_since =
        last.1
            .and_then(|m| m.elapsed().ok())
            .map_or(std::time::Instant::now(), |age| {
                std::time::Instant::now()
                    .checked_sub(age)
                    .unwrap_or_else(std::time::Instant::now)
            });
    loop {
        if still_since.elapsed() >= settle {
            return Ok(());
        }
        if started.elapsed() > LONGEST_WAIT {
            return Err(SourceError::Malformed {
                path: path.to_path_buf(),
                line: 0,
                message: format!(
                    "still being written after {} s; not read",
                    LONGEST_WAIT.as_secs()
                ),
            });
        }
        std::thread::sleep(
            (settle / 4).clamp(Duration::from_millis(20), Duration::from_millis(250)),
        );
        let now = state(path)?;
        if now != last {
            last = now;
            still_since = std::time::Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_match_by_name_or_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("revintel.toml");
        for name in [
            "opps-2026-11-29.csv",
            "opps-2026-11-30.csv",
            ".opps-2026-12-01.csv",
            "other.csv",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        // Touched last, but an older date.
        let old = dir.path().join("opps-2026-11-28.csv");
        std::fs::write(&old, "x").unwrap();
        let pattern = dir.path().join("opps-*.csv");
        let settle = Duration::ZERO;
        let (by_name, n) = pick(&pattern, Newest::ByName, settle, &config).unwrap();
        assert_eq!(
            (by_name.file_name().unwrap().to_str(), n),
            (Some("opps-2026-11-30.csv"), 3)
        );
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let (by_time, _) = pick(&pattern, Newest::ByModified, settle, &config).unwrap();
        assert_eq!(by_time, old);
        assert!(matches(&pattern, &dir.path().join("opps-2027.csv")));
        assert!(!matches(&pattern, &dir.path().join("other.csv")));
        let none = pick(
            &dir.path().join("deals-*.csv"),
            Newest::ByName,
            settle,
            &config,
        )
        .unwrap_err();
        assert!(none.to_string().contains("no file matches"), "{none}");
        let folder =
            pick(&dir.path().join("*/x.csv"), Newest::ByName, settle, &config).unwrap_err();
        assert!(folder.to_string().contains("file name only"), "{folder}");
    }
}
