//! `out/rejects.csv`: every rejected row of the last load, for people who
//! fix data in a spreadsheet rather than in SQL.
//!
//! Written atomically (a temporary file in the same folder, synced, then
//! renamed over the old one), so a reader never sees half a file. When a load
//! rejects nothing, a previous file is removed rather than left to mislead.
//!
//! The file is opened in spreadsheets, and a rejected value is whatever the
//! export held: a cell beginning with `=`, `+`, `-`, `@`, a tab or a CR is
//! written with a leading `'` ([`crate::output::neutralise_formula`]), so
//! `=HYPERLINK(…)` shows as text instead of running.

use super::report::LoadReport;
use std::path::{Path, PathBuf};

/// The file name under the project's output folder.
pub const REJECTS_FILE: &str = "rejects.csv";

/// The columns of the file.
pub const COLUMNS: [&str; 7] = [
    "source", "table", "file", "line", "field", "value", "reason",
];

/// Writes the rejects of `report` to `path` (or removes it when there are
/// none); returns how many rows were written.
pub fn write(path: &Path, report: &LoadReport) -> std::io::Result<usize> {
    let rows: Vec<_> = report
        .files
        .iter()
        .flat_map(|f| f.rejected.iter().map(move |r| (f, r)))
        .collect();
    if rows.is_empty() {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => return Ok(0),
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for (f, r) in &rows {
        let cells = [
            f.source.as_str(),
            f.table.as_str(),
            &r.file.display().to_string(),
            &r.line.to_string(),
            r.field.as_deref().unwrap_or(""),
            r.value.as_deref().unwrap_or(""),
            r.reason.as_str(),
        ];
        w.write_record(
            cells
                .map(crate::output::neutralise_formula)
                .iter()
                .map(|c| c.as_ref()),
        )?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    utils::fs::write_atomic(path, &bytes)?;
    Ok(rows.len())
}

/// The default location under an output folder.
pub fn default_path(out_dir: &Path) -> PathBuf {
    out_dir.join(REJECTS_FILE)
}

/// Writes the rejects of a load to the default location under `out_dir`
/// (after every load, so the file always describes the data last read); a
/// failure is returned as a warning, since the rows stay queryable in
/// `load_rejects`.
pub fn publish(out_dir: &Path, report: &LoadReport) -> Option<String> {
    let path = default_path(out_dir);
    write(&path, report)
        .err()
        .map(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::report::{FileLoad, RejectedRow};

    #[test]
    fn written_whole_and_removed_when_clean() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out").join(REJECTS_FILE);
        let mut report = LoadReport::default();
        report.files.push(FileLoad {
            source: "opps".into(),
            table: "deals".into(),
            file: "opps.csv".into(),
            rows_read: 2,
            rows_loaded: 1,
            rejected: vec![RejectedRow {
                file: "opps.csv".into(),
                line: 3,
                field: Some("amount".into()),
                value: Some("1,2\n3".into()),
                reason: "expected a number".into(),
            }],
            fingerprint: String::new(),
            notes: Vec::new(),
        });
        assert_eq!(write(&path, &report).unwrap(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rows = csv::Reader::from_reader(text.as_bytes()).into_records();
        let row = rows.next().unwrap().unwrap();
        assert_eq!(&row[3], "3");
        assert_eq!(&row[5], "1,2\n3", "the value survives quoting");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temp file left"
        );
        // A value a spreadsheet would run is written as text.
        report.files[0].rejected[0].value = Some("=HYPERLINK(\"http://e.vil\",\"x\")".into());
        write(&path, &report).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let row = csv::Reader::from_reader(text.as_bytes())
            .into_records()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(&row[5], "'=HYPERLINK(\"http://e.vil\",\"x\")");

        report.files[0].rejected.clear();
        assert_eq!(write(&path, &report).unwrap(), 0);
        assert!(!path.exists());
    }
}
