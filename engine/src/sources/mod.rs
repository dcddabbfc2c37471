//! Where pipeline data comes from and how it becomes Arrow tables.
//!
//! Every loader maps its input onto the canonical [`entities`] and returns a
//! [`LoadReport`] next to the data, so rejected rows are visible instead of
//! lost.

pub mod config;
pub mod csv_file;
pub mod derive;
pub mod drops;
pub mod encoding;
pub mod entities;
mod fields;
pub mod history;
pub mod hubspot;
mod ids;
pub mod load;
pub mod mapping;
pub mod parquet_file;
pub mod postgres;
pub mod rejects_file;
pub mod report;
mod rules;
pub mod table_reader;
pub mod values;

pub use config::{ImportKind, ImportSpec};
pub use entities::{Column, ColumnType, Entity};
pub use load::{load_sources, Assembled, OnFailure, SourceSet};
pub use report::{FileLoad, LoadReport, RejectedRow};

use datafusion::arrow::record_batch::RecordBatch;
use std::path::PathBuf;

/// A failure that stops a load as a whole (as opposed to a rejected row).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: cannot read the file: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: line 1: required column `{column}`{looked_for} is missing from the header (found: {found})", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        /// The headers a mapping accepts for it, when not just its own name.
        looked_for: String,
        found: String,
    },
    #[error("{}: the file is empty; expected a header line with columns {expected}", path.display())]
    Empty { path: PathBuf, expected: String },
    #[error("{}: line {line}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{}: {rejected} of {read} rows were rejected and strict loading is on; first: {first}", path.display())]
    Strict {
        path: PathBuf,
        read: u64,
        rejected: u64,
        first: Box<RejectedRow>,
    },
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("{source_label}: {message}")]
    Postgres {
        source_label: String,
        message: String,
    },
    #[error("{}: no source holds deals; set [sources] folder or add a [[sources.import]] of deals", path.display())]
    NoDeals { path: PathBuf },
    #[error("building the `{table}` table: {source}")]
    Arrow {
        table: String,
        #[source]
        source: datafusion::arrow::error::ArrowError,
    },
}

/// One entity's rows, ready to register as a table.
#[derive(Debug, Clone)]
pub struct LoadedTable {
    pub entity: Entity,
    pub batch: RecordBatch,
}
