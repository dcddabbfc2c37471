//! CSV text into a [`TableReader`]: decoding, the header, every record.
//!
//! Handles what real exports contain — a byte-order mark, Latin-1 bytes
//! (see [`super::encoding`]), CRLF line ends, quoted fields with commas and
//! line breaks, `;` or tab delimiters — and reports each record by the line
//! it starts on. Canonical files ([`load_csv`]) are the identity mapping.

use super::encoding::decode;
use super::mapping::Mapping;
use super::report::FileLoad;
use super::rows::{AcceptedDeal, ReadContext, TableReader};
use super::{Entity, SourceError};
use datafusion::arrow::record_batch::RecordBatch;
use std::path::Path;

pub use super::values::parse_iso_date;
pub use udfs::time::date_to_days;

/// Work an importer does on each record besides the entity's own reading
/// (HubSpot's stage-date columns).
pub trait RecordHook {
    /// Called with the header before the first record.
    fn header(&mut self, header: &[String]) -> Result<(), SourceError>;
    /// Checks a record before it is read: an `Err((field, value, reason))`
    /// rejects the whole record.
    fn check(&mut self, record: &csv::ByteRecord) -> Result<(), (String, Option<String>, String)>;
    /// Called after the reader loaded the deal the record described.
    fn accepted(&mut self, deal: &AcceptedDeal);
}

/// The delimiter of a header line: the most frequent of `,`, `;` and tab.
fn sniff_delimiter(text: &[u8]) -> u8 {
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| (first.iter().filter(|b| *b == d).count(), *d == b','))
        .unwrap_or(b',')
}

/// Reads the CSV bytes `raw` (from `path`) into `reader`, in the formats of
/// its mapping, and returns the file's report.
pub fn read_csv<'m>(
    reader: &mut TableReader<'m>,
    mapping: &'m Mapping,
    path: &Path,
    raw: &[u8],
    ctx: &ReadContext<'_>,
    mut hook: Option<&mut dyn RecordHook>,
) -> Result<FileLoad, SourceError> {
    let formats = &mapping.formats;
    let fingerprint = udfs::model::fingerprint(&[raw]);
    let decoded = decode(raw, formats.encoding);
    let text = &decoded.bytes[..];
    let delimiter = formats.delimiter.unwrap_or_else(|| sniff_delimiter(text));
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text);
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
    if !csv.read_byte_record(&mut record).map_err(csv_err)? {
        return Err(SourceError::Empty {
            path: path.to_path_buf(),
            expected: reader.expected_columns(),
        });
    }
    let header: Vec<String> = record
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    reader.begin(mapping, path, &header, fingerprint, false)?;
    if let Some(note) = decoded.note {
        reader.load_mut().notes.insert(0, note);
    }
    if let Some(h) = hook.as_deref_mut() {
        h.header(&header)?;
    }
    // Line numbers are counted here from byte offsets: csv-core's own count
    // misses line breaks inside quoted fields, so every later row would be
    // reported too early.
    let (mut counted_to, mut line) = (0usize, 1u64);
    while csv.read_byte_record(&mut record).map_err(csv_err)? {
        let mut start = record.position().map_or(counted_to, |p| p.byte() as usize);
        // After a CRLF the reader resumes on the LF: the record starts after it.
        if text.get(start) == Some(&b'\n') {
            start += 1;
        }
        line += text[counted_to..start.max(counted_to)]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        counted_to = start.max(counted_to);
        if let Some(h) = hook.as_deref_mut() {
            if let Err((field, value, reason)) = h.check(&record) {
                reader.reject(line, Some(&field), value, reason);
                continue;
            }
        }
        if reader.read(&record, line, ctx) {
            if let (Some(h), Some(deal)) = (hook.as_deref_mut(), reader.last_deal()) {
                h.accepted(deal);
            }
        }
    }
    Ok(reader.end())
}

/// Reads `path` as `entity` in revintel's canonical layout, returning the
/// loaded rows and what was rejected.
pub fn load_csv(path: &Path, entity: Entity) -> Result<(RecordBatch, FileLoad), SourceError> {
    // Read whole: the bytes are also the data's fingerprint, which decides
    // whether cached scores still hold.
    let bytes = std::fs::read(path).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mapping = Mapping::canonical();
    let mut reader = TableReader::new(entity);
    let load = read_csv(
        &mut reader,
        &mapping,
        path,
        &bytes,
        &ReadContext::default(),
        None,
    )?;
    let (batch, _) = reader.finish()?;
    Ok((batch, load))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

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

    #[test]
    fn lines_count_breaks_inside_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "products.csv",
            "product_id,name,list_price\r\nP1,\"two\r\nlines\",1\r\nP2,\"three\nli\nnes\",x\r\nP3,c,y\r\n",
        );
        let (_, load) = load_csv(&p, Entity::Products).unwrap();
        let lines: Vec<u64> = load.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [4, 7]);
    }

    #[test]
    fn delimiters_are_sniffed() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3"), b';');
        assert_eq!(sniff_delimiter(b"a,b\n"), b',');
        assert_eq!(sniff_delimiter(b"a\tb\n"), b'\t');
        assert_eq!(sniff_delimiter(b"single\n"), b',');
    }
}
