//! Importers against the bad-input corpus in `tests/fixtures/bad_input/`:
//! each file either loads correctly or has each bad row rejected with its
//! file, line, field and reason, and the counts always reconcile
//! (read = loaded + rejected). Also: Salesforce history, HubSpot stage
//! dates, Parquet giving the same tables as CSV, a 100 MB file, and
//! `revintel import` end to end.

use crate::common::*;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Date32Type, Float64Type};
use revintel::sources::report::FileLoad;
use revintel::sources::{load_sources, Assembled, Entity, OnFailure, SourceError, SourceSet};
use std::path::PathBuf;

fn corpus(name: &str) -> PathBuf {
    fixture("bad_input").join(name)
}

/// `[[sources.import]]` entries (TOML) in a project rooted at the corpus.
fn set(imports: &str) -> SourceSet {
    #[derive(serde::Deserialize)]
    struct Entries {
        import: Vec<revintel::sources::ImportSpec>,
    }
    let entries: Entries = toml::from_str(imports).expect("test config parses");
    SourceSet {
        root: corpus(""),
        config: corpus("revintel.toml"),
        folder: None,
        imports: entries.import,
    }
}

/// One `[[import]]` entry with just its `kind` and `path`.
fn import(kind: &str, path: &str) -> String {
    format!("[[import]]\nkind = \"{kind}\"\npath = \"{path}\"\n")
}

fn try_load(imports: &str) -> Result<Assembled, SourceError> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(load_sources(&set(imports), None, false, OnFailure::Stop))
}

fn load(imports: &str) -> Assembled {
    try_load(imports).expect("the sources load")
}

fn load_err(imports: &str) -> String {
    try_load(imports)
        .map(|_| ())
        .expect_err("the load fails")
        .to_string()
}

fn table(a: &Assembled, e: Entity) -> &RecordBatch {
    &a.tables.iter().find(|t| t.entity == e).unwrap().batch
}

fn file<'a>(a: &'a Assembled, source: &str, table: &str) -> &'a FileLoad {
    a.report
        .files
        .iter()
        .find(|f| f.source == source && f.table == table)
        .unwrap_or_else(|| panic!("no load of {table} from {source}: {:?}", a.report.files))
}

fn text(b: &RecordBatch, col: &str, row: usize) -> Option<String> {
    let c = b.column_by_name(col).unwrap().as_string::<i32>();
    c.is_valid(row).then(|| c.value(row).to_string())
}

fn num(b: &RecordBatch, col: &str, row: usize) -> Option<f64> {
    let c = b.column_by_name(col).unwrap().as_primitive::<Float64Type>();
    c.is_valid(row).then(|| c.value(row))
}

fn date(b: &RecordBatch, col: &str, row: usize) -> Option<String> {
    let c = b.column_by_name(col).unwrap().as_primitive::<Date32Type>();
    c.is_valid(row)
        .then(|| c.value_as_date(row).unwrap().to_string())
}

/// (line, field, reason) of every rejected row.
fn rejects(f: &FileLoad) -> Vec<(u64, String, String)> {
    f.rejected
        .iter()
        .map(|r| {
            (
                r.line,
                r.field.clone().unwrap_or_default(),
                r.reason.clone(),
            )
        })
        .collect()
}

fn reconciles(f: &FileLoad, read: u64, loaded: u64, rejected: u64) {
    assert_eq!(
        (f.rows_read, f.rows_loaded, f.rows_rejected()),
        (read, loaded, rejected),
        "{}: {:?}",
        f.file.display(),
        rejects(f)
    );
    assert_eq!(f.rows_read, f.rows_loaded + f.rows_rejected());
}

#[test]
fn salesforce_export_with_bom_crlf_quotes_and_us_formats() {
    let a = load(&import("salesforce", "salesforce_export.csv"));
    let f = file(&a, "salesforce_export", "deals");
    reconciles(f, 6, 3, 3);
    let d = table(&a, Entity::Deals);
    assert_eq!(d.num_rows(), 3);
    assert_eq!(
        text(d, "deal_id", 0).as_deref(),
        Some("006A1"),
        "the BOM is not part of the header"
    );
    assert_eq!(text(d, "name", 0).as_deref(), Some("Acme, Inc. - Renewal"));
    assert_eq!(num(d, "amount", 0), Some(1200.5));
    assert_eq!(date(d, "created_date", 0).as_deref(), Some("2025-03-14"));
    assert_eq!(num(d, "amount", 1), None, "a blank amount is NULL, not 0");
    assert_eq!(text(d, "outcome", 1).as_deref(), Some("won"));
    assert_eq!(date(d, "closed_date", 1).as_deref(), Some("2025-03-01"));
    assert_eq!(text(d, "name", 2).as_deref(), Some("Initech \"Big\" deal"));
    assert_eq!(num(d, "amount", 2), Some(12000.0));
    assert_eq!(text(d, "stage", 2).as_deref(), Some("Negotiation"));
    assert_eq!(text(d, "forecast_category", 2).as_deref(), Some("Commit"));
    // The quoted line break in row 1 moves every later row down a line.
    let r = rejects(f);
    assert_eq!((r[0].0, r[0].1.as_str()), (6, "amount"));
    assert!(r[0].2.contains("negative amount -300"), "{r:?}");
    assert_eq!((r[1].0, r[1].1.as_str()), (7, "amount"));
    assert!(
        r[1].2.contains("column 5 (`Amount`)")
            && r[1].2.contains("1,234.56")
            && r[1].2.contains("`1.200,50`"),
        "{r:?}"
    );
    assert_eq!((r[2].0, r[2].1.as_str()), (8, "created_date"));
    assert!(
        r[2].2.contains("%m/%d/%Y") && r[2].2.contains("`14/3/2025`"),
        "{r:?}"
    );
    assert!(f.rejected[0].file.ends_with("salesforce_export.csv"));
    // Reps and accounts come from the deals, accounts named by Account Name.
    assert_eq!(table(&a, Entity::Reps).num_rows(), 2);
    let acc = table(&a, Entity::Accounts);
    assert_eq!(text(acc, "account_id", 0).as_deref(), Some("Acme"));
    assert_eq!(
        table(&a, Entity::StageHistory).num_rows(),
        4,
        "synthesized: 1 + 2 + 1"
    );
}

#[test]
fn latin1_export_is_detected_and_transcoded() {
    let a = load(&import("salesforce", "latin1.csv"));
    let f = file(&a, "latin1", "deals");
    reconciles(f, 2, 2, 0);
    assert!(
        f.notes.iter().any(|n| n.contains("Latin-1")),
        "{:?}",
        f.notes
    );
    let d = table(&a, Entity::Deals);
    assert_eq!(
        text(d, "name", 0).as_deref(),
        Some("Société Générale - Expansion")
    );
    assert_eq!(text(d, "owner_id", 1).as_deref(), Some("José Müller"));
}

#[test]
fn declared_german_locale_reads_comma_decimals_and_dotted_dates() {
    let a = load(&(import("csv", "locale_de.csv") + "mapping = \"locale_de.toml\"\n"));
    let f = file(&a, "locale_de", "deals");
    reconciles(f, 5, 3, 2);
    let d = table(&a, Entity::Deals);
    assert_eq!(num(d, "amount", 0), Some(1200.5));
    assert_eq!(date(d, "created_date", 0).as_deref(), Some("2025-03-14"));
    assert_eq!(text(d, "stage", 0).as_deref(), Some("Proposal"));
    assert_eq!(num(d, "amount", 1), Some(3000.0));
    assert_eq!(text(d, "outcome", 1).as_deref(), Some("won"));
    assert_eq!(num(d, "amount", 2), None);
    assert_eq!(text(d, "currency", 2).as_deref(), Some("EUR"));
    let r = rejects(f);
    assert_eq!((r[0].0, r[0].1.as_str()), (5, "amount"));
    assert!(
        r[0].2.contains("1.234,56") && r[0].2.contains("`1,200.50`"),
        "{r:?}"
    );
    assert_eq!((r[1].0, r[1].1.as_str()), (6, "created_date"));
    assert!(r[1].2.contains("%d.%m.%Y"), "{r:?}");
}

#[test]
fn rule_violations_are_each_rejected_with_their_reason() {
    let a = load(&(import("csv", "rule_violations.csv") + "entity = \"deals\"\n"));
    let f = file(&a, "rule_violations", "deals");
    reconciles(f, 9, 2, 7);
    let r = rejects(f);
    let expect: [(u64, &str, &str); 7] = [
        (3, "amount", "negative amount -50"),
        (
            4,
            "deal_id",
            "duplicate deal_id `D1`: already loaded from line 2",
        ),
        (
            5,
            "closed_date",
            "closed on 2025-01-15 is before the created date 2025-02-01",
        ),
        (6, "stage", "unknown stage `Signed`"),
        (
            7,
            "outcome",
            "outcome `lost` contradicts stage `Closed Won` (won)",
        ),
        (
            8,
            "closed_date",
            "an open deal cannot have closed on 2025-02-01",
        ),
        (9, "closed_date", "a lost deal needs the date it closed"),
    ];
    for ((line, field, reason), got) in expect.iter().zip(&r) {
        assert_eq!((*line, *field), (got.0, got.1.as_str()), "{r:?}");
        assert!(got.2.contains(reason), "line {line}: {:?}", got.2);
    }
    let d = table(&a, Entity::Deals);
    assert_eq!(text(d, "deal_id", 0).as_deref(), Some("D1"));
    assert_eq!(
        num(d, "amount", 0),
        Some(100.0),
        "the first D1 stays, the later one is rejected"
    );
    assert_eq!(
        text(d, "outcome", 1).as_deref(),
        Some("open"),
        "outcome follows the stage"
    );
}

#[test]
fn missing_required_column_empty_and_header_only_files() {
    let err = load_err(&import("salesforce", "missing_stage.csv"));
    assert!(
        err.contains("missing_stage.csv")
            && err.contains("required column `stage` (looked for Stage, StageName)"),
        "{err}"
    );
    let err = load_err(&import("salesforce", "empty.csv"));
    assert!(err.contains("empty.csv") && err.contains("empty"), "{err}");
    let a = load(&import("salesforce", "header_only.csv"));
    reconciles(file(&a, "header_only", "deals"), 0, 0, 0);
    assert_eq!(table(&a, Entity::Deals).num_rows(), 0);
}

#[test]
fn salesforce_history_becomes_intervals() {
    let a = load(
        &(import("salesforce", "salesforce_export.csv")
            + &import("salesforce_history", "opportunity_history.csv")),
    );
    let f = file(&a, "opportunity_history", "stage_history");
    reconciles(f, 7, 6, 1);
    let r = rejects(f);
    assert_eq!((r[0].0, r[0].1.as_str()), (8, "stage"));
    assert!(r[0].2.contains("unknown stage `Pending`"), "{r:?}");
    assert!(
        f.notes.iter().any(|n| n.contains("1 change(s) replaced")),
        "{:?}",
        f.notes
    );
    let h = table(&a, Entity::StageHistory);
    let rows: Vec<_> = (0..h.num_rows())
        .map(|i| {
            (
                text(h, "deal_id", i).unwrap(),
                text(h, "stage", i).unwrap(),
                date(h, "entered_at", i).unwrap(),
                date(h, "exited_at", i),
                num(h, "amount", i),
            )
        })
        .collect();
    let row = |d: &str, s: &str, e: &str, x: Option<&str>, a: f64| {
        (
            d.to_string(),
            s.to_string(),
            e.to_string(),
            x.map(str::to_string),
            Some(a),
        )
    };
    assert_eq!(
        rows,
        vec![
            row("006A1", "Prospecting", "2025-03-14", None, 1300.0),
            row(
                "006A2",
                "Prospecting",
                "2025-01-02",
                Some("2025-01-20"),
                1000.0
            ),
            row(
                "006A2",
                "Qualification",
                "2025-01-20",
                Some("2025-02-10"),
                1000.0
            ),
            row(
                "006A2",
                "Negotiation",
                "2025-02-10",
                Some("2025-03-01"),
                900.0
            ),
            row("006A2", "Closed Won", "2025-03-01", None, 900.0),
        ]
    );
}

#[test]
fn hubspot_stage_dates_beside_a_history_import_are_noted() {
    let a = load(
        &(import("hubspot", "hubspot-crm-exports-all-deals-2025-06-30.csv")
            + &import("salesforce_history", "opportunity_history.csv")),
    );
    let f = file(&a, "hubspot-crm-exports-all-deals-2025-06-30", "deals");
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("not used: stage history comes from a stage_history import")),
        "{:?}",
        f.notes
    );
}

#[test]
fn hubspot_export_gives_deals_and_stage_history() {
    let a = load(&import(
        "hubspot",
        "hubspot-crm-exports-all-deals-2025-06-30.csv",
    ));
    let name = "hubspot-crm-exports-all-deals-2025-06-30";
    let f = file(&a, name, "deals");
    reconciles(f, 3, 2, 1);
    let r = rejects(f);
    assert_eq!(r[0].0, 4);
    assert!(r[0].1.contains("Date entered \"Qualified To Buy"), "{r:?}");
    assert!(r[0].2.contains("`yesterday`"), "{r:?}");
    let d = table(&a, Entity::Deals);
    assert_eq!(text(d, "owner_id", 1).as_deref(), Some("(no owner)"));
    assert_eq!(date(d, "created_date", 0).as_deref(), Some("2025-01-02"));
    let hf = file(&a, name, "stage_history");
    assert!(
        hf.notes.iter().any(|n| n.contains("Custom Step")),
        "an unknown stage's column is named as unused: {:?}",
        hf.notes
    );
    let h = table(&a, Entity::StageHistory);
    let rows: Vec<_> = (0..h.num_rows())
        .map(|i| {
            format!(
                "{} {} {} {}",
                text(h, "deal_id", i).unwrap(),
                text(h, "stage", i).unwrap(),
                date(h, "entered_at", i).unwrap(),
                date(h, "exited_at", i).unwrap_or_else(|| "-".into())
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "101 Prospecting 2025-01-02 2025-01-10",
            "101 Qualification 2025-01-10 2025-02-01",
            "101 Negotiation 2025-02-01 2025-03-01",
            "101 Closed Won 2025-03-01 -",
            "102 Prospecting 2025-05-05 2025-05-20",
            "102 Qualification 2025-05-20 -",
        ]
    );
    assert_eq!(date(h, "close_date", 5).as_deref(), Some("2025-07-31"));
    assert_eq!(
        date(h, "close_date", 4),
        None,
        "no expected close date is made up for the past"
    );
}

#[test]
fn parquet_gives_the_same_tables_as_csv() {
    use datafusion::parquet::arrow::ArrowWriter;
    let tiny = fixture("tiny");
    let dir = tempfile::tempdir().unwrap();
    let mut csv_entries = String::new();
    let mut pq_entries = String::new();
    for e in Entity::ALL {
        let (batch, _) =
            revintel::sources::csv_file::load_csv(&tiny.join(e.file_name()), e).unwrap();
        let path = dir.path().join(format!("{}.parquet", e.table()));
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None)
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        csv_entries.push_str(&format!(
            "[[import]]\nkind = \"csv\"\nentity = \"{t}\"\npath = \"{}\"\n",
            tiny.join(e.file_name()).display(),
            t = e.table()
        ));
        pq_entries.push_str(&format!(
            "[[import]]\nkind = \"parquet\"\nentity = \"{t}\"\npath = \"{}\"\n",
            path.display(),
            t = e.table()
        ));
    }
    let from_csv = load(&csv_entries);
    let from_pq = load(&pq_entries);
    for e in Entity::ALL {
        assert_eq!(table(&from_csv, e), table(&from_pq, e), "{}", e.table());
        assert!(table(&from_csv, e).num_rows() > 0);
    }
}

/// ~100 MB of Salesforce rows, every 1,000th with an amount in the wrong
/// locale and every 1,500th a repeated id: all read, the bad ones rejected.
#[test]
fn a_100_mb_export_is_read_whole_and_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    use std::io::Write;
    writeln!(out, "Opportunity ID,Opportunity Name,Account Name,Opportunity Owner,Amount,Stage,Created Date,Close Date,Lead Source,Opportunity Type,Next Step,Description").unwrap();
    let filler = "x".repeat(60);
    let mut rows = 0u64;
    let mut bytes = 0u64;
    let (mut bad_amount, mut dup) = (0u64, 0u64);
    while bytes < 100 * 1024 * 1024 {
        rows += 1;
        let id = if rows.is_multiple_of(1500) {
            dup += 1;
            rows - 1
        } else {
            rows
        };
        let amount = if rows.is_multiple_of(1000) {
            bad_amount += 1;
            "\"1.234,50\"".to_string()
        } else {
            format!("\"${},{:03}.50\"", rows % 90 + 1, rows % 1000)
        };
        let line = format!(
            "006{id:012},\"Deal {rows}, renewal\",Account {a},Owner {o},{amount},Prospecting,{m}/{d}/2025,12/31/2025,Web,New Business,\"call\nback\",{filler}\n",
            a = rows % 5000,
            o = rows % 97,
            m = rows % 12 + 1,
            d = rows % 28 + 1,
        );
        bytes += line.len() as u64;
        out.write_all(line.as_bytes()).unwrap();
    }
    out.flush().unwrap();
    drop(out);
    // Rows that are both: rejected for the amount, so the duplicate id's
    // first holder was never loaded either way (ids repeat the previous row).
    let both = (1..=rows)
        .filter(|r| r % 1500 == 0 && r % 1000 == 0)
        .count() as u64;
    let dup_of_rejected = (1..=rows)
        .filter(|r| r % 1500 == 0 && (r - 1) % 1000 == 0)
        .count() as u64;
    let expected_rejected = bad_amount + dup - both - dup_of_rejected;
    let a = load(&import("salesforce", &path.display().to_string()));
    let f = file(&a, "big", "deals");
    reconciles(f, rows, rows - expected_rejected, expected_rejected);
    // Each row spans two lines (a quoted line break): row r starts on line 2r.
    let first = &f.rejected[0];
    assert_eq!(
        (first.line, first.field.as_deref()),
        (2000, Some("amount")),
        "{first}"
    );
    let last = f.rejected.last().unwrap();
    let last_bad = (1..=rows)
        .rev()
        .find(|r| r % 1000 == 0 || r % 1500 == 0)
        .unwrap();
    assert_eq!(last.line, 2 * last_bad, "{last}");
    assert!(std::fs::metadata(&path).unwrap().len() >= 100 * 1024 * 1024);
    assert_eq!(
        table(&a, Entity::Deals).num_rows() as u64,
        rows - expected_rejected
    );
}

#[test]
fn import_command_reports_without_writing_and_sessions_keep_rejects() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("revintel.toml"),
        format!(
            "[[sources.import]]\nkind = \"salesforce\"\npath = \"{}\"\n\
             [[sources.import]]\nname = \"history\"\nkind = \"salesforce_history\"\npath = \"{}\"\n\
             [[sources.import]]\nname = \"broken\"\nkind = \"salesforce\"\npath = \"{}\"\n",
            corpus("salesforce_export.csv").display(),
            corpus("opportunity_history.csv").display(),
            corpus("missing_stage.csv").display(),
        ),
    )
    .unwrap();
    let o = revintel(dir.path(), &["import"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.status.success(),
        "a source that cannot be read fails the check: {out}"
    );
    assert!(
        out.contains("salesforce_export") && out.contains("salesforce"),
        "{out}"
    );
    assert!(
        out.contains("rejected: ") && out.contains("salesforce_export.csv:6, field `amount`"),
        "{out}"
    );
    assert!(
        out.contains("broken: NOT LOADED") && out.contains("`stage`"),
        "{out}"
    );
    assert!(out.contains("rows read = "), "{out}");
    assert!(
        !dir.path().join("out").exists(),
        "import writes nothing by default"
    );

    let o = revintel(dir.path(), &["import", "history", "--write-rejects"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(
        !out.contains("salesforce_export  "),
        "only the named source is listed: {out}"
    );
    let written = std::fs::read_to_string(dir.path().join("out/rejects.csv")).unwrap();
    assert!(
        written.starts_with("source,table,file,line,field,value,reason"),
        "{written}"
    );
    assert_eq!(
        written.lines().count(),
        1 + 3 + 1,
        "every rejected row of the load: {written}"
    );
    assert!(written.contains("Pending"), "{written}");

    let o = revintel(dir.path(), &["import", "nosuch"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no source named `nosuch`"));

    // A session over the readable sources keeps its rejects in out/rejects.csv and in SQL.
    std::fs::remove_file(dir.path().join("out/rejects.csv")).unwrap();
    let config = std::fs::read_to_string(dir.path().join("revintel.toml")).unwrap();
    let config = config[..config
        .find("[[sources.import]]\nname = \"broken\"")
        .unwrap()]
        .to_string();
    std::fs::write(dir.path().join("revintel.toml"), config).unwrap();
    let o = revintel(
        dir.path(),
        &["sql", "--format", "csv", "-c", "SELECT table_name, rows_read, rows_loaded, rows_rejected FROM load_report ORDER BY table_name, file"],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("deals,6,3,3") && out.contains("stage_history,7,6,1"),
        "{out}"
    );
    let kept = std::fs::read_to_string(dir.path().join("out/rejects.csv")).unwrap();
    assert_eq!(kept.lines().count(), 1 + 4, "{kept}");
}

mod properties {
    //! Whatever bytes an export holds, loading never panics and never loses
    //! a row silently: every file reports rows read = loaded + rejected,
    //! and the table holds exactly the rows reported loaded.

    use super::*;
    use proptest::prelude::*;

    /// Loads `bytes` as the only file of a `kind` import; the report of it,
    /// or the error that refused the whole file.
    fn load_bytes(kind: &str, bytes: &[u8]) -> Result<Assembled, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("export.csv"), bytes).unwrap();
        #[derive(serde::Deserialize)]
        struct Entries {
            import: Vec<revintel::sources::ImportSpec>,
        }
        let entries: Entries = toml::from_str(&format!(
            "[[import]]\nkind = \"{kind}\"\npath = \"export.csv\"\n{}",
            if kind == "csv" {
                "entity = \"deals\"\n"
            } else {
                ""
            }
        ))
        .unwrap();
        let set = SourceSet {
            root: dir.path().to_path_buf(),
            config: dir.path().join("revintel.toml"),
            folder: None,
            imports: entries.import,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(load_sources(&set, None, false, OnFailure::Stop))
            .map_err(|e| e.to_string())
    }

    fn reconciled(a: &Assembled) {
        for f in &a.report.files {
            assert_eq!(
                f.rows_read,
                f.rows_loaded + f.rows_rejected(),
                "{}",
                f.file.display()
            );
            if let Some(t) = a.tables.iter().find(|t| t.entity.table() == f.table) {
                if a.report.files.iter().filter(|g| g.table == f.table).count() == 1 {
                    assert!(
                        t.batch.num_rows() as u64 <= f.rows_loaded.max(t.batch.num_rows() as u64)
                    );
                }
            }
        }
    }

    const DEALS_HEADER: &str = "deal_id,name,account_id,owner_id,product_id,amount,currency,stage,forecast_category,created_date,close_date,closed_date,outcome,lead_source,deal_type,last_activity_date";

    /// A cell as exports write them: plausible values, near misses and junk.
    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[A-Za-z0-9 ]{0,12}",
            "-?[0-9]{1,9}(\\.[0-9]{1,3})?",
            "(19|20|00|99)[0-9]{2}-[01][0-9]-[0-3][0-9]",
            "[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}",
            Just("\"quoted, with comma\"".to_string()),
            Just("\"line\nbreak\"".to_string()),
            Just("\"unterminated".to_string()),
            Just("=HYPERLINK(\"x\")".to_string()),
            Just("\u{1b}[2J".to_string()),
            Just("Closed Won".to_string()),
            Just("Prospecting".to_string()),
            Just("won".to_string()),
            Just("open".to_string()),
            Just("1e400".to_string()),
            Just("NaN".to_string()),
            any::<String>(),
        ]
    }

    fn rows() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::collection::vec(cell(), 0..20), 0..30).prop_map(
            |rows| {
                let mut text = format!("{DEALS_HEADER}\n");
                for row in rows {
                    text.push_str(&row.join(","));
                    text.push('\n');
                }
                text
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            kind in prop_oneof![Just("csv"), Just("salesforce"), Just("hubspot")],
        ) {
            if let Ok(a) = load_bytes(kind, &bytes) {
                reconciled(&a);
            }
        }

        #[test]
        fn arbitrary_rows_are_loaded_or_rejected_never_lost(text in rows()) {
            match load_bytes("csv", text.as_bytes()) {
                Ok(a) => {
                    reconciled(&a);
                    let f = a.report.files.iter().find(|f| f.table == "deals").unwrap();
                    let loaded = table(&a, Entity::Deals).num_rows() as u64;
                    prop_assert_eq!(loaded, f.rows_loaded);
                    // Read as an independent CSV reader counts the records.
                    let records = csv::ReaderBuilder::new()
                        .flexible(true)
                        .from_reader(text.as_bytes())
                        .records()
                        .count() as u64;
                    prop_assert_eq!(f.rows_read, records);
                }
                // A file refused whole says why; nothing was half-loaded.
                Err(e) => prop_assert!(!e.is_empty()),
            }
        }
    }
}

/// A sentinel date where a date is optional (`9999-12-31` meaning "no end")
/// is read as no date, with a note; an implausible date where one is
/// required rejects the row. Nothing is lost silently either way.
#[test]
fn implausible_dates_are_empty_where_optional_and_rejected_where_required() {
    let dir = tempfile::tempdir().unwrap();
    let header = "deal_id,name,account_id,owner_id,product_id,amount,currency,stage,forecast_category,created_date,close_date,closed_date,outcome,lead_source,deal_type,last_activity_date";
    let text = format!(
        "{header}\nD1,A,A1,R1,P1,100,USD,Prospecting,Pipeline,2025-01-06,9999-12-31,,open,Inbound,New Business,\n\
         D2,B,A1,R1,P1,100,USD,Prospecting,Pipeline,0001-01-01,2025-09-01,,open,Inbound,New Business,\n\
         D3,C,A1,R1,P1,1e17,USD,Prospecting,Pipeline,2025-01-06,2025-09-01,,open,Inbound,New Business,\n"
    );
    std::fs::write(dir.path().join("deals.csv"), text).unwrap();
    #[derive(serde::Deserialize)]
    struct Entries {
        import: Vec<revintel::sources::ImportSpec>,
    }
    let entries: Entries =
        toml::from_str("[[import]]\nkind = \"csv\"\npath = \"deals.csv\"\nentity = \"deals\"\n")
            .unwrap();
    let set = SourceSet {
        root: dir.path().to_path_buf(),
        config: dir.path().join("revintel.toml"),
        folder: None,
        imports: entries.import,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let a = rt
        .block_on(load_sources(&set, None, false, OnFailure::Stop))
        .unwrap();
    let f = a.report.files.iter().find(|f| f.table == "deals").unwrap();
    reconciles(f, 3, 1, 2);
    let reasons = rejects(f);
    assert!(
        reasons[0].1 == "created_date" && reasons[0].2.contains("1970-01-01 to 2099-12-31"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].1 == "amount" && reasons[1].2.contains("implausibly large"),
        "{reasons:?}"
    );
    let deals = table(&a, Entity::Deals);
    assert_eq!(date(deals, "close_date", 0), None, "read as no date");
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("1 date(s) outside") && n.contains("close_date = `9999-12-31`")),
        "{:?}",
        f.notes
    );
}
