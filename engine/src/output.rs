//! Printing query results as a table, CSV or JSON.

use crate::query::QueryResult;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::pretty::pretty_format_batches;
use std::io::Write;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table with a row count, for people.
    Table,
    /// RFC 4180 CSV with a header line.
    Csv,
    /// A JSON array of objects, one per row.
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("formatting results: {0}")]
    Arrow(#[from] ArrowError),
    #[error("writing results: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes one statement's result in `format`.
pub fn write_result(
    out: &mut impl Write,
    result: &QueryResult,
    format: Format,
) -> Result<(), OutputError> {
    let rows: usize = result.batches.iter().map(|b| b.num_rows()).sum();
    match format {
        Format::Table => {
            if result.schema.fields().is_empty() {
                writeln!(out, "OK")?;
            } else {
                // An empty result still shows its header, so the columns are visible.
                let batches = if rows == 0 {
                    vec![datafusion::arrow::record_batch::RecordBatch::new_empty(
                        result.schema.clone(),
                    )]
                } else {
                    result.batches.clone()
                };
                writeln!(out, "{}", pretty_format_batches(&batches)?)?;
                writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
            }
        }
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if rows == 0 {
                writer.write(&datafusion::arrow::record_batch::RecordBatch::new_empty(
                    result.schema.clone(),
                ))?;
            }
            for batch in &result.batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            // Explicit nulls: every object has every column, as consumers expect.
            let mut writer = datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, datafusion::arrow::json::writer::JsonArray>(&mut *out);
            for batch in &result.batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            drop(writer);
            writeln!(out)?;
        }
    }
    Ok(())
}
