//! Loads one entity from a CSV file in revintel's canonical layout.
//!
//! Columns are matched by header name (extra columns are ignored, missing
//! optional ones become NULL, a missing required one stops the load). Each
//! row is validated completely before any of it is appended, so a bad row is
//! rejected whole, with the line, the field and the reason recorded.

use super::report::{FileLoad, RejectedRow};
use super::{ColumnType, Entity, SourceError};
use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::record_batch::RecordBatch;
use std::path::Path;
use std::sync::Arc;

/// A validated cell, borrowed from the record until it is appended.
enum Cell<'a> {
    Null,
    Text(&'a str),
    Integer(i64),
    Number(f64),
    Date(i32),
}

enum ColumnBuilder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Number(Float64Builder),
    Date(Date32Builder),
}

impl ColumnBuilder {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Text => ColumnBuilder::Text(StringBuilder::new()),
            ColumnType::Integer => ColumnBuilder::Integer(Int64Builder::new()),
            ColumnType::Number => ColumnBuilder::Number(Float64Builder::new()),
            ColumnType::Date => ColumnBuilder::Date(Date32Builder::new()),
        }
    }

    fn append(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (ColumnBuilder::Text(b), Cell::Text(v)) => b.append_value(v),
            (ColumnBuilder::Integer(b), Cell::Integer(v)) => b.append_value(*v),
            (ColumnBuilder::Number(b), Cell::Number(v)) => b.append_value(*v),
            (ColumnBuilder::Date(b), Cell::Date(v)) => b.append_value(*v),
            (ColumnBuilder::Text(b), _) => b.append_null(),
            (ColumnBuilder::Integer(b), _) => b.append_null(),
            (ColumnBuilder::Number(b), _) => b.append_null(),
            (ColumnBuilder::Date(b), _) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Integer(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Number(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Date(mut b) => Arc::new(b.finish()),
        }
    }
}

pub use udfs::time::date_to_days;

/// Parses `YYYY-MM-DD`, the only date layout of canonical files.
pub fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

fn parse_cell(ty: ColumnType, raw: &str) -> Result<Cell<'_>, String> {
    let bad = || format!("expected {}, found `{raw}`", ty.describe());
    match ty {
        ColumnType::Text => Ok(Cell::Text(raw)),
        ColumnType::Integer => raw.parse::<i64>().map(Cell::Integer).map_err(|_| bad()),
        ColumnType::Number => match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Cell::Number(v)),
            _ => Err(bad()),
        },
        ColumnType::Date => parse_iso_date(raw)
            .map(|d| Cell::Date(date_to_days(d)))
            .ok_or_else(bad),
    }
}

/// Reads `path` as `entity`, returning the loaded rows and what was rejected.
pub fn load_csv(path: &Path, entity: Entity) -> Result<(RecordBatch, FileLoad), SourceError> {
    // Read whole: the bytes are also the data's fingerprint, which decides
    // whether cached scores still hold.
    let bytes = std::fs::read(path).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let fingerprint = udfs::model::fingerprint(&[&bytes]);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes.as_slice());
    let columns = entity.columns();
    let expected = || {
        columns
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    };

    let csv_err = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(source) => SourceError::Io {
                path: path.to_path_buf(),
                source,
            },
            other => SourceError::Malformed {
                path: path.to_path_buf(),
                line,
                message: format!("{other:?}"),
            },
        }
    };

    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(csv_err)? {
        return Err(SourceError::Empty {
            path: path.to_path_buf(),
            expected: expected(),
        });
    }
    let header: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = String::from_utf8_lossy(h);
            let h = if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                &h
            };
            h.trim().to_ascii_lowercase()
        })
        .collect();
    // Position in the file of each canonical column, if present.
    let mut positions = Vec::with_capacity(columns.len());
    for column in columns {
        let pos = header.iter().position(|h| h == column.name);
        if pos.is_none() && column.required {
            return Err(SourceError::MissingColumn {
                path: path.to_path_buf(),
                column: column.name.to_string(),
                found: header.join(", "),
            });
        }
        positions.push(pos);
    }

    let mut builders: Vec<ColumnBuilder> =
        columns.iter().map(|c| ColumnBuilder::new(c.ty)).collect();
    let mut load = FileLoad {
        table: entity.table().to_string(),
        file: path.to_path_buf(),
        rows_read: 0,
        rows_loaded: 0,
        rejected: Vec::new(),
        fingerprint,
    };
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(csv_err)? {
        let line = record.position().map_or(0, |p| p.line());
        // A blank line is not a row; the csv reader already skips those.
        load.rows_read += 1;
        let reject = |field: Option<&str>, value: Option<&[u8]>, reason: String| RejectedRow {
            file: path.to_path_buf(),
            line,
            field: field.map(str::to_string),
            value: value.map(|v| String::from_utf8_lossy(v).into_owned()),
            reason,
        };
        if record.len() != header.len() {
            load.rejected.push(reject(
                None,
                None,
                format!(
                    "expected {} fields as in the header, found {}",
                    header.len(),
                    record.len()
                ),
            ));
            continue;
        }
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(columns.len());
        let mut failure = None;
        for (column, pos) in columns.iter().zip(&positions) {
            let raw = pos.and_then(|p| record.get(p)).unwrap_or(b"");
            let text = match std::str::from_utf8(raw) {
                Ok(t) => t.trim(),
                Err(e) => {
                    failure = Some(reject(
                        Some(column.name),
                        Some(raw),
                        format!(
                            "not valid UTF-8 (byte {} of the field)",
                            e.valid_up_to() + 1
                        ),
                    ));
                    break;
                }
            };
            if text.is_empty() {
                if column.required {
                    failure = Some(reject(
                        Some(column.name),
                        None,
                        "required value is empty".into(),
                    ));
                    break;
                }
                cells.push(Cell::Null);
                continue;
            }
            match parse_cell(column.ty, text) {
                Ok(cell) => cells.push(cell),
                Err(reason) => {
                    let col = pos.map_or(0, |p| p + 1);
                    failure = Some(reject(
                        Some(column.name),
                        Some(raw),
                        format!("column {col}: {reason}"),
                    ));
                    break;
                }
            }
        }
        match failure {
            Some(rejected) => load.rejected.push(rejected),
            None => {
                for (builder, cell) in builders.iter_mut().zip(&cells) {
                    builder.append(cell);
                }
                load.rows_loaded += 1;
            }
        }
    }
    let arrays: Vec<ArrayRef> = builders.into_iter().map(ColumnBuilder::finish).collect();
    let batch =
        RecordBatch::try_new(entity.schema(), arrays).map_err(|source| SourceError::Arrow {
            table: entity.table().to_string(),
            source,
        })?;
    Ok((batch, load))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn iso_dates_parse_and_reject() {
        assert_eq!(
            parse_iso_date("2025-03-14"),
            NaiveDate::from_ymd_opt(2025, 3, 14)
        );
        assert_eq!(parse_iso_date("2025-02-30"), None);
        assert_eq!(parse_iso_date("3/14/2025"), None);
        assert_eq!(
            date_to_days(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()),
            1
        );
    }

    #[test]
    fn bad_rows_are_rejected_with_line_and_field_and_counts_reconcile() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "products.csv",
            "\u{feff}product_id,name,extra,list_price\nP1,Alpha,x,10.5\nP2,Beta,y,ten\nP3,Gamma,z\n,Delta,w,3\nP5,\"Eps, ilon\",v,\n",
        );
        let (batch, load) = load_csv(&p, Entity::Products).unwrap();
        assert_eq!(load.rows_read, 5);
        assert_eq!(load.rows_loaded, 2);
        assert_eq!(load.rows_read, load.rows_loaded + load.rows_rejected());
        assert_eq!(batch.num_rows(), 2);
        let r = &load.rejected;
        assert_eq!((r[0].line, r[0].field.as_deref()), (3, Some("list_price")));
        assert!(
            r[0].reason.contains("column 4") && r[0].reason.contains("`ten`"),
            "{}",
            r[0]
        );
        assert_eq!(r[1].line, 4);
        assert!(r[1].reason.contains("expected 4 fields"));
        assert_eq!((r[2].line, r[2].field.as_deref()), (5, Some("product_id")));
    }

    #[test]
    fn missing_required_column_names_file_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "products.csv", "product_id,label\nP1,A\n");
        let err = load_csv(&p, Entity::Products).unwrap_err().to_string();
        assert!(
            err.contains("products.csv") && err.contains("`name`"),
            "{err}"
        );
    }

    #[test]
    fn missing_file_and_empty_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_csv(&dir.path().join("nope.csv"), Entity::Reps)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.csv"), "{err}");
        let p = write(dir.path(), "reps.csv", "");
        let err = load_csv(&p, Entity::Reps).unwrap_err().to_string();
        assert!(err.contains("empty") && err.contains("rep_id"), "{err}");
    }
}
