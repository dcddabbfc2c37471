//! What was sent, for which period, to whom: the record that makes a
//! delivery happen once.
//!
//! One JSON file, rewritten atomically (a temporary file renamed over it)
//! at every change, so a crash leaves either the old or the new record,
//! never half of one. Before a message goes to the server its entry says
//! `sending`, with the Message-ID it carries; only the server's acceptance
//! turns it into `sent`. A failed send stays `failed`, never `sent`.
//!
//! The one window SMTP leaves open is a crash after the server accepted a
//! message and before the ledger heard of it: the entry still says
//! `sending`, and the next run sends it again with the same Message-ID,
//! which mail systems use to drop a duplicate. A crash anywhere else in the
//! send (before or during the transfer) leaves nothing at the server, and
//! the next run sends it once.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Handed to the server; no answer recorded yet.
    Sending,
    Sent,
    Failed,
    /// A run missed while nothing was running, skipped by configuration.
    Skipped,
}

/// One message of one delivery for one period and audience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub delivery: String,
    /// The scheduled time it is for (RFC 3339 in the schedule's zone), or the
    /// as-of date for a delivery without a schedule.
    pub period: String,
    /// Which version: the audience's parameters (`team=East`), or `all`.
    pub audience: String,
    pub recipients: Vec<String>,
    pub message_id: String,
    pub state: State,
    pub attempts: u32,
    /// Why the last attempt failed, in words (`authentication refused …`).
    pub error: Option<String>,
    /// When the entry last changed (RFC 3339, UTC).
    pub updated: String,
    /// When a failure that may pass is tried again by `revintel schedule`
    /// (RFC 3339, UTC); none once the attempts are used up or the failure
    /// needs someone to act (a refused login, a rejected recipient).
    #[serde(default)]
    pub retry_at: Option<String>,
}

/// The ledger file's content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// When `revintel schedule` first ran each delivery: runs due before it
    /// were never missed, so they are not sent on a first start.
    #[serde(default)]
    pub scheduled_since: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{}: cannot read the delivery ledger: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the delivery ledger is not valid ({source}); move it away to start a new one", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: cannot write the delivery ledger: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The ledger's file under a project root.
pub fn path(root: &Path) -> PathBuf {
    root.join(".revintel").join("deliveries.json")
}

impl Ledger {
    /// The ledger at `path`, or an empty one when there is none yet.
    pub fn load(path: &Path) -> Result<Ledger, LedgerError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| LedgerError::Parse {
                path: path.to_path_buf(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger::default()),
            Err(source) => Err(LedgerError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes the whole ledger atomically.
    pub fn save(&self, path: &Path) -> Result<(), LedgerError> {
        let write = |source| LedgerError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let bytes = serde_json::to_vec_pretty(self).expect("the ledger serialises");
        utils::fs::write_atomic(path, &bytes).map_err(write)
    }

    pub fn find(&self, delivery: &str, period: &str, audience: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.delivery == delivery && e.period == period && e.audience == audience)
    }

    /// Replaces the entry for the same delivery, period and audience, or adds it.
    pub fn put(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|e| {
            e.delivery == entry.delivery && e.period == entry.period && e.audience == entry.audience
        }) {
            Some(old) => *old = entry,
            None => self.entries.push(entry),
        }
    }

    /// The latest entries of `delivery`, newest period first.
    pub fn latest(&self, delivery: &str) -> Vec<&Entry> {
        let mut mine: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.delivery == delivery)
            .collect();
        mine.sort_by(|a, b| b.period.cmp(&a.period).then(a.audience.cmp(&b.audience)));
        mine
    }
}

/// Now, as the ledger writes it.
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
