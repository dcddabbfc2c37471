//! Parquet files into a [`TableReader`].
//!
//! Columns are matched by name like CSV headers. Each value is turned into
//! its canonical text (Arrow's cast: ISO dates, plain decimal numbers) and
//! read by the same reader as CSV, so a Parquet file and a CSV of the same
//! rows load into identical tables, with the same rules and rejections. A
//! rejected row's "line" is its 1-based row number in the file.

use super::mapping::Mapping;
use super::report::FileLoad;
use super::table_reader::{ReadContext, TableReader};
use super::SourceError;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;

/// Reads the Parquet file at `path` into `reader` and returns its report.
pub fn read_parquet<'m>(
    reader: &mut TableReader<'m>,
    mapping: &'m Mapping,
    path: &Path,
    ctx: &ReadContext<'_>,
) -> Result<FileLoad, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |e: &dyn std::fmt::Display| SourceError::Malformed {
        path: path.to_path_buf(),
        line: 0,
        message: format!("not a readable Parquet file: {e}"),
    };
    // Read once: the bytes are both the fingerprint and what is decoded.
    let bytes = bytes::Bytes::from(std::fs::read(path).map_err(io)?);
    let fingerprint = ml::trained::fingerprint(&[&bytes]);
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| bad(&e))?;
    let header: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    reader.begin(mapping, path, &header, fingerprint, true)?;
    // Arrow strings are valid UTF-8 by construction.
    reader.trusted_utf8 = true;
    let batches = builder.build().map_err(|e| bad(&e))?;
    let mut record = csv::ByteRecord::new();
    let mut row = 0u64;
    for batch in batches {
        let batch = batch.map_err(|e| bad(&e))?;
        let columns = batch
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Utf8))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(&e))?;
        let columns: Vec<_> = columns.iter().map(|c| c.as_string::<i32>()).collect();
        for i in 0..batch.num_rows() {
            record.clear();
            for c in &columns {
                record.push_field(if c.is_valid(i) {
                    c.value(i).as_bytes()
                } else {
                    b""
                });
            }
            row += 1;
            reader.read(&record, row, ctx);
        }
    }
    Ok(reader.end())
}
