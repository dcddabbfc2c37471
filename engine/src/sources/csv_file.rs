//! CSV text into a [`TableReader`]: decoding, the header, every record.
//!
//! Handles what real exports contain — a byte-order mark, Latin-1 bytes
//! (see [`super::encoding`]), CRLF line ends, quoted fields with commas and
//! line breaks, `;` or tab delimiters — and reports each record by the line
//! it starts on. Canonical files ([`load_csv`]) are the identity mapping.

use super::encoding::decode;
use super::mapping::Mapping;
use super::report::FileLoad;
use super::table_reader::{AcceptedDeal, ReadContext, TableReader};
use super::{Entity, SourceError};
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

pub use super::values::parse_iso_date;
pub use ml::time::date_to_days;

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

/// The records of a CSV text with the line each starts on.
struct Records<'t> {
    csv: csv::Reader<&'t [u8]>,
    text: &'t [u8],
    path: &'t Path,
    counted_to: usize,
    line: u64,
}

impl<'t> Records<'t> {
    fn new(text: &'t [u8], delimiter: u8, path: &'t Path) -> Records<'t> {
        Records {
            csv: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(text),
            text,
            path,
            counted_to: 0,
            line: 1,
        }
    }

    fn error(&self, e: csv::Error) -> SourceError {
        let line = e.position().map_or(0, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(source) => SourceError::Io {
                path: self.path.to_path_buf(),
                source,
            },
            other => SourceError::Malformed {
                path: self.path.to_path_buf(),
                line,
                message: format!("{other:?}"),
            },
        }
    }

    /// Reads the next record into `record`; returns its line, or `None` at the end.
    fn next_into(&mut self, record: &mut csv::ByteRecord) -> Result<Option<u64>, SourceError> {
        if !self
            .csv
            .read_byte_record(record)
            .map_err(|e| self.error(e))?
        {
            return Ok(None);
        }
        // Line numbers are counted here from byte offsets: csv-core's own
        // count misses line breaks inside quoted fields, so every later row
        // would be reported too early.
        let mut start = record
            .position()
            .map_or(self.counted_to, |p| p.byte() as usize);
        // After a CRLF the reader resumes on the LF: the record starts after it.
        if self.text.get(start) == Some(&b'\n') {
            start += 1;
        }
        let start = start.max(self.counted_to);
        self.line += memchr::memchr_iter(b'\n', &self.text[self.counted_to..start]).count() as u64;
        self.counted_to = start;
        Ok(Some(self.line))
    }
}

/// Files at least this big are read in parallel: one thread splits the
/// records, workers read them (see [`read_parallel`]).
const PARALLEL_BYTES: usize = 4 << 20;
/// Records handed over at a time.
const BATCH: usize = 1024;

type Batch = Vec<(csv::ByteRecord, u64)>;

/// Reads the records of `records` with `workers` copies of `reader`'s plan,
/// then lets `reader` take their rows in file order (checking ids there).
/// The result is the same table, report and rejects as reading in one
/// thread.
fn read_parallel<'m>(
    reader: &mut TableReader<'m>,
    mut records: Records<'_>,
    ctx: &ReadContext<'_>,
    workers: usize,
) -> Result<(), SourceError> {
    let readers: Vec<TableReader<'m>> = (0..workers).map(|_| reader.worker()).collect();
    let (full_tx, full_rx) =
        std::sync::mpsc::sync_channel::<(usize, Result<Batch, SourceError>)>(2 * workers);
    let full_rx = std::sync::Mutex::new(full_rx);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Batch>();
    let results = std::thread::scope(|scope| {
        scope.spawn(move || {
            for k in 0.. {
                let mut batch = empty_rx.try_recv().unwrap_or_default();
                batch.resize_with(BATCH, Default::default);
                let mut n = 0;
                while n < BATCH {
                    match records.next_into(&mut batch[n].0) {
                        Ok(Some(line)) => {
                            batch[n].1 = line;
                            n += 1;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = full_tx.send((k, Err(e)));
                            return;
                        }
                    }
                }
                batch.truncate(n);
                // Receivers stop early only on an error.
                if n == 0 || full_tx.send((k, Ok(batch))).is_err() {
                    return;
                }
            }
        });
        let handles: Vec<_> = readers
            .into_iter()
            .enumerate()
            .map(|(w, mut worker)| {
                let (full_rx, empty_tx) = (&full_rx, empty_tx.clone());
                scope.spawn(move || -> Result<_, SourceError> {
                    let mut spans = Vec::new();
                    loop {
                        let next = full_rx.lock().map_err(|_| poisoned())?.recv();
                        let Ok((k, batch)) = next else { break };
                        let batch = batch?;
                        let start = worker.appended();
                        for (record, line) in &batch {
                            worker.read(record, *line, ctx);
                        }
                        spans.push((k, w, start, worker.appended()));
                        let _ = empty_tx.send(batch);
                    }
                    Ok((worker, spans))
                })
            })
            .collect();
        drop(empty_tx);
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| poisoned())?)
            .collect::<Result<Vec<_>, SourceError>>()
    })?;
    let mut spans: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut readers = Vec::with_capacity(results.len());
    for (worker, s) in results {
        spans.extend(s);
        readers.push(worker);
    }
    spans.sort_unstable();
    let spans: Vec<(usize, usize, usize)> =
        spans.into_iter().map(|(_, w, a, b)| (w, a, b)).collect();
    reader.absorb(readers, &spans)
}

fn poisoned() -> SourceError {
    SourceError::Io {
        path: "<reader thread>".into(),
        source: std::io::Error::other("a reader thread failed"),
    }
}

/// Reads the CSV bytes `raw` (from `path`) into `reader`, in the formats of
/// its mapping, and returns the file's report.
pub fn read_csv<'m>(
    reader: &mut TableReader<'m>,
    mapping: &'m Mapping,
    path: &Path,
    raw: &[u8],
    ctx: &ReadContext<'_>,
    hook: Option<&mut dyn RecordHook>,
) -> Result<FileLoad, SourceError> {
    read_csv_from(reader, mapping, path, raw, ctx, hook, PARALLEL_BYTES)
}

/// [`read_csv`], reading in parallel from `parallel_bytes` of text on.
fn read_csv_from<'m>(
    reader: &mut TableReader<'m>,
    mapping: &'m Mapping,
    path: &Path,
    raw: &[u8],
    ctx: &ReadContext<'_>,
    mut hook: Option<&mut dyn RecordHook>,
    parallel_bytes: usize,
) -> Result<FileLoad, SourceError> {
    let formats = &mapping.formats;
    let fingerprint = ml::trained::fingerprint(&[raw]);
    let decoded = decode(raw, formats.encoding);
    let text = &decoded.bytes[..];
    let delimiter = formats.delimiter.unwrap_or_else(|| sniff_delimiter(text));
    let mut records = Records::new(text, delimiter, path);
    let mut record = csv::ByteRecord::new();
    if records.next_into(&mut record)?.is_none() {
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
    reader.trusted_utf8 = decoded.valid_utf8;
    if let Some(note) = decoded.note {
        reader.load_mut().notes.insert(0, note);
    }
    if let Some(h) = hook.as_deref_mut() {
        h.header(&header)?;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if text.len() >= parallel_bytes && cores > 1 && hook.is_none() && reader.parallel_ok() {
        read_parallel(reader, records, ctx, cores.min(4))?;
    } else {
        let mut take = |record: &csv::ByteRecord, line: u64| {
            if let Some(h) = hook.as_deref_mut() {
                if let Err((field, value, reason)) = h.check(record) {
                    reader.reject(line, Some(&field), value, reason);
                    return;
                }
            }
            if reader.read(record, line, ctx) {
                if let (Some(h), Some(deal)) = (hook.as_deref_mut(), reader.last_deal()) {
                    h.accepted(deal);
                }
            }
        };
        while let Some(line) = records.next_into(&mut record)? {
            take(&record, line);
        }
    }
    Ok(reader.end())
}

/// The last load of each canonical file, by path and entity (its report
/// holds the fingerprint of the bytes it was read from).
type LoadMemo = HashMap<(PathBuf, Entity), (RecordBatch, FileLoad)>;

/// Reads `path` as `entity` in revintel's canonical layout, returning the
/// loaded rows and what was rejected.
///
/// The result for the same bytes is kept: a long-running process (live
/// rebuild) reloads its sources on every data change, and then only the
/// files whose bytes changed are parsed again.
pub fn load_csv(path: &Path, entity: Entity) -> Result<(RecordBatch, FileLoad), SourceError> {
    static LAST: LazyLock<Mutex<LoadMemo>> = LazyLock::new(Default::default);
    // Read whole: the bytes are also the data's fingerprint, which decides
    // whether cached scores still hold.
    let bytes = std::fs::read(path).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let fingerprint = ml::trained::fingerprint(&[&bytes]);
    let key = (path.to_path_buf(), entity);
    if let Some((batch, load)) = LAST.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        if load.fingerprint == fingerprint {
            return Ok((batch.clone(), load.clone()));
        }
    }
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
    LAST.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, (batch.clone(), load.clone()));
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
    fn parallel_reading_equals_reading_in_one_thread() {
        use std::fmt::Write;
        let mut text =
            String::from("deal_id,owner_id,amount,stage,created_date,close_date,outcome,name,account_id,account_name\n");
        for i in 0..20_000 {
            // Ids repeat across distant batches; some rows are bad; names
            // hold quoted line breaks.
            let id = if i % 997 == 0 { i / 3 } else { i };
            let amount = if i % 1009 == 0 {
                "lots".to_string()
            } else {
                format!("{}", i % 500)
            };
            writeln!(
                text,
                "D{id},R{},{amount},Prospecting,2025-01-01,2025-03-01,open,\"deal\n{i}\",A{},Name {i}",
                i % 7,
                i % 50
            )
            .unwrap();
        }
        let mapping = Mapping::canonical();
        let path = Path::new("deals.csv");
        let read = |parallel_bytes| {
            let mut reader = TableReader::new(Entity::Deals);
            let load = read_csv_from(
                &mut reader,
                &mapping,
                path,
                text.as_bytes(),
                &ReadContext::default(),
                None,
                parallel_bytes,
            )
            .unwrap();
            let names = reader.account_names.clone();
            (reader.finish().unwrap().0, load, names)
        };
        let (one, one_load, one_names) = read(usize::MAX);
        let (many, many_load, many_names) = read(0);
        assert_eq!(one_load, many_load);
        assert_eq!(one_names, many_names, "the first name seen wins either way");
        assert_eq!(one_names["A7"].0, "Name 7");
        assert_eq!(one, many);
        assert!(
            one_load.rows_rejected() > 30,
            "{}",
            one_load.rows_rejected()
        );
        assert_eq!(one_load.rows_read, 20_000);
    }

    #[test]
    fn delimiters_are_sniffed() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3"), b';');
        assert_eq!(sniff_delimiter(b"a,b\n"), b',');
        assert_eq!(sniff_delimiter(b"a\tb\n"), b'\t');
        assert_eq!(sniff_delimiter(b"single\n"), b',');
    }
}
