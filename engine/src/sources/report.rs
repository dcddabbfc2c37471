//! What a load did: rows read, loaded and rejected per file, with reasons.
//!
//! Nothing is dropped silently: every row read is either loaded or listed
//! here as rejected, so `rows_read == rows_loaded + rows_rejected` holds for
//! every file, and the report is queryable as the `load_report` and
//! `load_rejects` tables.

use std::fmt;
use std::path::PathBuf;

/// One rejected row: where it was and why it was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRow {
    pub file: PathBuf,
    /// 1-based line in the file where the record starts.
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// The offending value, when there is one.
    pub value: Option<String>,
    pub reason: String,
}

impl fmt::Display for RejectedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The outcome of loading one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileLoad {
    pub table: String,
    /// The source it came from: an import's name, `folder` or `derived`.
    pub source: String,
    pub file: PathBuf,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rejected: Vec<RejectedRow>,
    /// Hash of the file's bytes.
    pub fingerprint: String,
    /// What else the reader noticed: the encoding it decoded from, columns
    /// it did not use, same-day history changes it folded.
    pub notes: Vec<String>,
}

impl FileLoad {
    pub fn rows_rejected(&self) -> u64 {
        self.rejected.len() as u64
    }
}

/// The outcome of loading every source of a project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    pub files: Vec<FileLoad>,
}

impl LoadReport {
    pub fn rows_rejected(&self) -> u64 {
        self.files.iter().map(FileLoad::rows_rejected).sum()
    }

    /// Hash of every loaded file: changes whenever any input byte does.
    pub fn fingerprint(&self) -> String {
        let parts: Vec<&[u8]> = self
            .files
            .iter()
            .map(|f| f.fingerprint.as_bytes())
            .collect();
        ml::trained::fingerprint(&parts)
    }

    pub fn rejected(&self) -> impl Iterator<Item = &RejectedRow> {
        self.files.iter().flat_map(|f| f.rejected.iter())
    }
}
