//! Output files that appear whole or not at all.
//!
//! Each file is written to a hidden temporary file in the target folder and
//! renamed over its final name only once complete, so a reader (or a crashed
//! or failed run) never sees half a table. The temporary file lives in the
//! same folder because a rename is only atomic within one file system.
//! Uncommitted temporary files are removed when dropped.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::SeedError;

/// A file being written under a temporary name.
pub(crate) struct AtomicFile {
    final_path: PathBuf,
    temp_path: PathBuf,
    out: Option<BufWriter<File>>,
    rows: usize,
}

impl AtomicFile {
    /// Starts `dir/name` under a temporary name beside it.
    pub(crate) fn create(dir: &Path, name: &str) -> Result<Self, SeedError> {
        let final_path = dir.join(name);
        let temp_path = utils::fs::temp_path(&final_path).map_err(|cause| SeedError::Write {
            path: final_path.clone(),
            cause,
        })?;
        let file = File::create(&temp_path).map_err(|cause| SeedError::Write {
            path: temp_path.clone(),
            cause,
        })?;
        Ok(Self {
            final_path,
            temp_path,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            rows: 0,
        })
    }

    /// Appends encoded bytes holding `rows` data rows (0 for a header).
    pub(crate) fn append(&mut self, bytes: &[u8], rows: usize) -> Result<(), SeedError> {
        let out = self
            .out
            .as_mut()
            .expect("an AtomicFile is written only before commit");
        out.write_all(bytes).map_err(|cause| SeedError::Write {
            path: self.temp_path.clone(),
            cause,
        })?;
        self.rows += rows;
        Ok(())
    }

    /// Data rows appended so far.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Flushes the file to disk and moves it to its final name.
    pub(crate) fn commit(mut self) -> Result<usize, SeedError> {
        let out = self.out.take().expect("commit happens once");
        let file = out.into_inner().map_err(|e| SeedError::Write {
            path: self.temp_path.clone(),
            cause: e.into_error(),
        })?;
        file.sync_all().map_err(|cause| SeedError::Write {
            path: self.temp_path.clone(),
            cause,
        })?;
        drop(file);
        fs::rename(&self.temp_path, &self.final_path).map_err(|cause| SeedError::Rename {
            from: self.temp_path.clone(),
            to: self.final_path.clone(),
            cause,
        })?;
        Ok(self.rows)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.is_some() {
            self.out = None;
            // Best effort: the run already failed and reports that error.
            let _ = fs::remove_file(&self.temp_path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("revintel-seed-write-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn file_appears_only_on_commit() {
        let dir = scratch_dir("commit");
        let mut f = AtomicFile::create(&dir, "t.csv").unwrap();
        f.append(b"a\n", 0).unwrap();
        f.append(b"1\n2\n", 2).unwrap();
        assert!(!dir.join("t.csv").exists());
        assert_eq!(f.commit().unwrap(), 2);
        assert_eq!(fs::read(dir.join("t.csv")).unwrap(), b"a\n1\n2\n");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn abandoned_file_leaves_nothing() {
        let dir = scratch_dir("drop");
        let mut f = AtomicFile::create(&dir, "t.csv").unwrap();
        f.append(b"a\n", 0).unwrap();
        drop(f);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
