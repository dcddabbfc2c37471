//! Printing query results as a table, CSV or JSON — as they are produced.
//!
//! CSV and JSON are written batch by batch as the query yields them, so
//! printing 25 million rows holds no more in memory than printing one
//! batch. A table must be laid out whole, so it shows the first
//! [`DEFAULT_TABLE_ROWS`] rows (or `--max-rows`) and counts the rest.
//!
//! What reaches a terminal passes no control characters: CRM text can hold
//! escape sequences that would retitle the terminal, move the cursor or
//! write to the clipboard. CSV meant for spreadsheets can neutralise cells
//! that a spreadsheet would run as formulas.

use crate::query::{QueryError, QueryResult, QueryStream};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

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

/// Rows a table shows unless told otherwise.
pub const DEFAULT_TABLE_ROWS: usize = 1_000;

/// How to print a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputOptions {
    pub format: Format,
    /// Most rows a table shows; the rest are counted.
    pub max_table_rows: usize,
    /// In CSV, prefix text cells that a spreadsheet would run as a formula
    /// (see [`neutralise_formula`]).
    pub escape_formulas: bool,
}

impl OutputOptions {
    pub fn new(format: Format) -> OutputOptions {
        OutputOptions {
            format,
            max_table_rows: DEFAULT_TABLE_ROWS,
            escape_formulas: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("formatting results: {0}")]
    Arrow(#[from] ArrowError),
    #[error("writing results: {0}")]
    Io(#[from] std::io::Error),
    /// The query failed while its rows were being written.
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl OutputError {
    /// The reader went away (`revintel sql … | head`): not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        let pipe = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
        match self {
            OutputError::Io(e) => pipe(e),
            // Arrow's writers keep the I/O error, or only its text (CSV).
            OutputError::Arrow(ArrowError::IoError(_, e)) => pipe(e),
            OutputError::Arrow(ArrowError::CsvError(text)) => {
                text.contains(&std::io::Error::from(std::io::ErrorKind::BrokenPipe).to_string())
                    || text.contains("Broken pipe")
            }
            _ => false,
        }
    }
}

/// Writes one statement's result as it is produced; returns its row count.
pub async fn write_stream(
    out: &mut impl Write,
    mut stream: QueryStream,
    options: &OutputOptions,
) -> Result<u64, OutputError> {
    let schema = stream.schema.clone();
    let mut rows = 0u64;
    match options.format {
        Format::Table => {
            let mut shown: Vec<RecordBatch> = Vec::new();
            let mut kept = 0usize;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                let room = options.max_table_rows - kept;
                if room > 0 {
                    let take = room.min(batch.num_rows());
                    shown.push(batch.slice(0, take));
                    kept += take;
                }
            }
            write_table(
                out,
                &QueryResult {
                    schema,
                    batches: shown,
                },
                rows,
            )?;
        }
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            let mut wrote = false;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                let batch = if options.escape_formulas {
                    neutralise_batch(&batch)?
                } else {
                    batch
                };
                writer.write(&batch)?;
                wrote = true;
            }
            if !wrote {
                // The header alone, so the columns are known.
                writer.write(&RecordBatch::new_empty(schema))?;
            }
        }
        Format::Json => {
            // Explicit nulls: every object has every column, as consumers expect.
            let mut writer = datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, ArrayOfLines>(&mut *out);
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch)?;
            }
            writer.finish()?;
            drop(writer);
            writeln!(out)?;
        }
    }
    Ok(rows)
}

/// Writes one collected result in `format` (whole; for small results).
pub fn write_result(
    out: &mut impl Write,
    result: &QueryResult,
    format: Format,
) -> Result<(), OutputError> {
    let rows: usize = result.batches.iter().map(|b| b.num_rows()).sum();
    match format {
        Format::Table => write_table(out, result, rows as u64)?,
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            writer.write(&RecordBatch::new_empty(result.schema.clone()))?;
            for batch in &result.batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, ArrayOfLines>(&mut *out);
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

/// A JSON array with one object per line: valid JSON for any parser, and
/// readable (and followable line by line) while it streams.
#[derive(Debug, Default)]
struct ArrayOfLines;

impl datafusion::arrow::json::writer::JsonFormat for ArrayOfLines {
    fn start_stream<W: Write>(&self, writer: &mut W) -> Result<(), ArrowError> {
        writer.write_all(b"[")?;
        Ok(())
    }

    fn start_row<W: Write>(&self, writer: &mut W, is_first_row: bool) -> Result<(), ArrowError> {
        writer.write_all(if is_first_row { b"\n" } else { b",\n" })?;
        Ok(())
    }

    fn end_stream<W: Write>(&self, writer: &mut W) -> Result<(), ArrowError> {
        writer.write_all(b"\n]")?;
        Ok(())
    }
}

/// A table of `result`'s batches (perhaps the first rows only) and a line
/// counting all `rows`.
fn write_table(out: &mut impl Write, result: &QueryResult, rows: u64) -> Result<(), OutputError> {
    if result.schema.fields().is_empty() {
        writeln!(out, "OK")?;
        return Ok(());
    }
    let shown: usize = result.batches.iter().map(|b| b.num_rows()).sum();
    // An empty result still shows its header, so the columns are visible.
    let batches = if shown == 0 {
        vec![RecordBatch::new_empty(result.schema.clone())]
    } else {
        result.batches.clone()
    };
    let table = pretty_format_batches(&batches)?.to_string();
    writeln!(out, "{}", terminal_safe(&table))?;
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    if (shown as u64) < rows {
        writeln!(
            out,
            "({rows} rows; the first {shown} shown — use --max-rows N to see more, or --format csv or json for all)"
        )?;
    } else {
        writeln!(out, "({rows} row{})", plural(rows))?;
    }
    Ok(())
}

/// `text` with every control character (but the line feed and the tab)
/// and every bidirectional-formatting or line-separator character shown as
/// an escape (`\u{1b}`), so data cannot drive the terminal it is printed
/// on, nor reorder what it shows.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(
                c,
                '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}'
                    | '\u{202a}'..='\u{202e}'
                    | '\u{2066}'..='\u{2069}'
            )
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A writer for a terminal: each complete line written through it is made
/// [`terminal_safe`] (CSV or JSON printed to a terminal rather than a file).
pub struct TerminalWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> TerminalWriter<W> {
    pub fn new(inner: W) -> TerminalWriter<W> {
        TerminalWriter {
            inner,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, line: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(line);
        self.inner.write_all(terminal_safe(&text).as_bytes())
    }
}

impl<W: Write> Write for TerminalWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') {
            let rest = self.pending.split_off(end + 1);
            let lines = std::mem::replace(&mut self.pending, rest);
            self.emit(&lines)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let rest = std::mem::take(&mut self.pending);
        self.emit(&rest)?;
        self.inner.flush()
    }
}

/// A cell as a spreadsheet can open it safely: text that begins with `=`,
/// `+`, `-`, `@`, a tab or a carriage return would be run as a formula
/// (`=HYPERLINK(…)`, `=cmd|…`), so it gets a leading `'`, which spreadsheets
/// read as "this is text" (OWASP's advice for CSV injection).
pub fn neutralise_formula(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// `batch` with every text cell passed through [`neutralise_formula`].
fn neutralise_batch(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|column| -> Result<ArrayRef, ArrowError> {
            let text = match column.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    datafusion::arrow::compute::cast(column, &DataType::Utf8)?
                }
                DataType::Dictionary(_, value)
                    if matches!(
                        value.as_ref(),
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    ) =>
                {
                    datafusion::arrow::compute::cast(column, &DataType::Utf8)?
                }
                _ => return Ok(column.clone()),
            };
            let text = text.as_string::<i32>();
            let safe: StringArray = text
                .iter()
                .map(|v| v.map(|s| neutralise_formula(s).into_owned()))
                .collect();
            Ok(Arc::new(safe) as ArrayRef)
        })
        .collect::<Result<_, _>>()?;
    let fields: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
        .collect();
    let schema = datafusion::arrow::datatypes::Schema::new(fields);
    RecordBatch::try_new(Arc::new(schema), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert!(matches!(terminal_safe("Acme\nCorp"), Cow::Borrowed(_)));
        assert_eq!(
            terminal_safe("Acme\u{1b}]0;pwned\u{7}\r\t\u{9b}\u{202e}\u{200f}x"),
            "Acme\\u{1b}]0;pwned\\u{7}\\r\t\\u{9b}\\u{202e}\\u{200f}x"
        );
        let mut out = TerminalWriter::new(Vec::new());
        out.write_all(b"a\x1b[2J,b\nc").unwrap();
        out.write_all(b"\x07\n").unwrap();
        out.flush().unwrap();
        assert_eq!(
            String::from_utf8(out.inner).unwrap(),
            "a\\u{1b}[2J,b\nc\\u{7}\n"
        );
    }

    #[test]
    fn formulas_are_neutralised_and_other_text_kept() {
        for cell in [
            "=HYPERLINK(\"http://e.vil\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(neutralise_formula(cell), format!("'{cell}"));
        }
        for cell in ["Acme", "", "1=1", " =x"] {
            assert_eq!(neutralise_formula(cell), cell);
        }
    }
}
