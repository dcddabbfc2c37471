//! End-to-end runs of the `revintel` binary: seeding, one-shot SQL in every
//! format, the read-only rule, located errors, bad input and the shell.

use crate::common::*;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// A demo project with a small seeded data set.
fn seeded_project(deals: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = revintel(dir.path(), &["seed", "--deals", deals, "--seed", "7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn seed_is_deterministic_and_reported() {
    let a = seeded_project("400");
    let b = seeded_project("400");
    let fa = files_of(&a.path().join("seeds"));
    let fb = files_of(&b.path().join("seeds"));
    let names: Vec<_> = fa.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "accounts.csv",
        "deals.csv",
        "manifest.json",
        "products.csv",
        "reps.csv",
        "stage_history.csv",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert_eq!(fa, fb, "same seed and arguments give byte-identical files");

    let c = tempfile::tempdir().unwrap();
    let o = revintel(c.path(), &["seed", "--deals", "400", "--seed", "8"]);
    assert!(o.status.success());
    let fc = files_of(&c.path().join("seeds"));
    let deals =
        |f: &[(String, Vec<u8>)]| f.iter().find(|(n, _)| n == "deals.csv").unwrap().1.clone();
    assert_ne!(deals(&fa), deals(&fc), "another seed gives other data");
}

#[test]
fn sql_answers_in_every_format() {
    let dir = seeded_project("400");
    let sql = "SELECT outcome, count(*) AS n FROM deals GROUP BY outcome ORDER BY outcome";

    let o = revintel(dir.path(), &["sql", "-c", sql, "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut reader = csv::Reader::from_reader(o.stdout.as_slice());
    assert_eq!(reader.headers().unwrap(), vec!["outcome", "n"]);
    let rows: Vec<(String, u64)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].parse().unwrap())
        })
        .collect();
    let outcomes: Vec<&str> = rows.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(outcomes, ["lost", "open", "won"]);
    assert_eq!(rows.iter().map(|(_, n)| n).sum::<u64>(), 400);

    let o = revintel(dir.path(), &["sql", "-c", sql, "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let array = json.as_array().unwrap();
    assert_eq!(array.len(), 3);
    for (obj, (outcome, n)) in array.iter().zip(&rows) {
        assert_eq!(obj["outcome"], outcome.as_str());
        assert_eq!(obj["n"].as_u64(), Some(*n));
    }

    let o = revintel(dir.path(), &["sql", "-c", sql]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.contains("| outcome |") && table.contains("(3 rows)"),
        "{table}"
    );
    for (outcome, n) in &rows {
        assert!(
            table
                .lines()
                .any(|l| l.contains(outcome.as_str()) && l.contains(&n.to_string())),
            "{table}"
        );
    }
}

#[test]
fn sql_file_with_several_statements() {
    let dir = seeded_project("300");
    std::fs::write(
        dir.path().join("q.sql"),
        "-- two queries\nSELECT count(*) AS deals FROM deals;\nSELECT count(*) AS features FROM deal_features;\n",
    )
    .unwrap();
    let o = revintel(dir.path(), &["sql", "-f", "q.sql", "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("deals\n300\nfeatures\n"), "{out}");
}

#[test]
fn writes_are_refused_and_change_nothing() {
    let dir = tiny_project();
    let target = dir.path().join("copied.csv");
    for (sql, kind) in [
        ("DELETE FROM deals", "DELETE"),
        ("INSERT INTO deals (deal_id) VALUES ('x')", "INSERT"),
        ("UPDATE deals SET amount = 1", "UPDATE"),
        ("DROP TABLE deals", "DROP TABLE"),
        ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
        (&format!("COPY deals TO '{}'", target.display()), "COPY"),
    ] {
        let o = revintel(dir.path(), &["sql", "-c", sql]);
        assert!(!o.status.success(), "{sql} must fail");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("{kind} is not allowed")) && err.contains("read-only"),
            "{sql}: {err}"
        );
    }
    assert!(!target.exists(), "COPY wrote nothing");
    let o = revintel(
        dir.path(),
        &["sql", "-c", "SELECT count(*) FROM deals", "--format", "csv"],
    );
    assert_eq!(stdout(&o), "count(*)\n7\n");
}

#[test]
fn sql_errors_point_into_the_statement() {
    let dir = tiny_project();
    let o = revintel(
        dir.path(),
        &["sql", "-c", "SELECT deal_id,\n  amont FROM deals"],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("amont") && err.contains("<command line>:2:3"),
        "{err}"
    );
    assert!(
        err.contains("2 |   amont FROM deals") && err.contains("^^^^^"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("bad.sql"),
        "SELECT 1;\nSELECT amount FROM deals WHERE;\n",
    )
    .unwrap();
    let o = revintel(dir.path(), &["sql", "-f", "bad.sql"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("syntax error") && err.contains("bad.sql:2:"),
        "{err}"
    );
}

/// Statements nested too deeply for the engine get a located error; the
/// process exits normally (a stack overflow would abort it with a signal).
#[test]
fn no_statement_can_crash_the_process() {
    let dir = tiny_project();
    let n = |k: usize| -> Vec<usize> { (0..k).collect() };
    let deep: Vec<(&str, String)> = vec![
        (
            "a 5,000-term sum",
            format!("SELECT {}", vec!["1"; 5000].join("+")),
        ),
        (
            "deep parentheses",
            format!("SELECT {}1{}", "(".repeat(3000), ")".repeat(3000)),
        ),
        (
            "a long OR chain",
            format!(
                "SELECT count(*) FROM deals WHERE {}",
                n(5000)
                    .iter()
                    .map(|i| format!("amount = {i}"))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
        ),
        (
            "a long AND chain",
            format!(
                "SELECT count(*) FROM deals WHERE {}",
                vec!["amount > 0"; 5000].join(" AND ")
            ),
        ),
        (
            "nested subqueries",
            format!("SELECT {}1{}", "(SELECT ".repeat(200), ")".repeat(200)),
        ),
        (
            "nested CASE",
            format!(
                "SELECT {}1{}",
                "CASE WHEN 1=1 THEN ".repeat(500),
                " END".repeat(500)
            ),
        ),
        ("a NOT chain", format!("SELECT {}true", "NOT ".repeat(5000))),
        (
            "a UNION chain",
            vec!["SELECT 1 AS x"; 3000].join(" UNION ALL "),
        ),
        (
            "200 joins",
            format!(
                "SELECT count(*) FROM deals d {}",
                n(200)
                    .iter()
                    .map(|i| format!("JOIN reps r{i} ON r{i}.rep_id = d.owner_id "))
                    .collect::<String>()
            ),
        ),
    ];
    for (what, sql) in &deep {
        std::fs::write(dir.path().join("deep.sql"), sql).unwrap();
        let o = revintel(dir.path(), &["sql", "-f", "deep.sql"]);
        let err = stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{what}: exits with an error, not a signal: {err}"
        );
        assert!(
            err.contains("error:") && err.contains("deep.sql:1:"),
            "{what}: located: {err}"
        );
        assert!(!err.contains("overflow"), "{what}: {err}");
    }
    // Just inside the bounds, each shape runs.
    let fine: Vec<(&str, String)> = vec![
        (
            "a 400-term sum",
            format!("SELECT {} AS s", vec!["1"; 400].join("+")),
        ),
        (
            "a 240-term OR chain",
            format!(
                "SELECT count(*) AS s FROM deals WHERE {}",
                n(240)
                    .iter()
                    .map(|i| format!("amount = {i}"))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
        ),
        (
            "10 nested subqueries",
            format!("SELECT {}1{} AS s", "(SELECT ".repeat(10), ")".repeat(10)),
        ),
        (
            "60 nested CASE",
            format!(
                "SELECT {}1{} AS s",
                "CASE WHEN 1=1 THEN ".repeat(60),
                " END".repeat(60)
            ),
        ),
        (
            "a 490-deep NOT chain",
            format!("SELECT {}true AS s", "NOT ".repeat(490)),
        ),
    ];
    for (what, sql) in &fine {
        std::fs::write(dir.path().join("fine.sql"), sql).unwrap();
        let o = revintel(dir.path(), &["sql", "-f", "fine.sql", "--format", "csv"]);
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        assert!(stdout(&o).starts_with("s\n"), "{what}: {}", stdout(&o));
    }
}

/// CSV and JSON are written as the query produces them: an endless query's
/// first rows arrive, and a reader that stops early ends the process
/// cleanly. (Collected whole first, nothing would ever be printed.)
#[test]
fn large_results_stream() {
    use std::io::{BufRead, BufReader};
    let dir = tiny_project();
    for format in ["csv", "json"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_revintel"))
            .args([
                "sql",
                "--format",
                format,
                "-c",
                "SELECT value AS n FROM range(1000000000000)",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let lines: Vec<String> = BufReader::new(stdout)
                .lines()
                .take(10_001)
                .map(Result::unwrap)
                .collect();
            let _ = tx.send(lines);
            // The pipe closes here, mid-stream.
        });
        // A deadline for the failure only: any machine prints these rows in seconds.
        let lines = rx
            .recv_timeout(std::time::Duration::from_secs(300))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("{format}: no rows arrived while the query ran")
            });
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{format}: a closed pipe ends the process cleanly: {status:?}"
        );
        match format {
            "csv" => {
                assert_eq!(lines[0], "n");
                assert_eq!(lines[10_000], "9999");
            }
            _ => {
                assert_eq!(lines[0], "[");
                assert_eq!(lines[1], "{\"n\":0},");
                assert_eq!(lines[10_000], "{\"n\":9999},");
            }
        }
    }
}

#[test]
fn tables_show_their_first_rows_and_count_the_rest() {
    let dir = tiny_project();
    let o = revintel(dir.path(), &["sql", "-c", "SELECT value FROM range(3000)"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("| 999 ") && !out.contains("| 1000 "), "{out}");
    assert!(out.contains("3000 rows; the first 1000 shown"), "{out}");
    let o = revintel(
        dir.path(),
        &["sql", "--max-rows", "5", "-c", "SELECT value FROM range(7)"],
    );
    assert!(
        stdout(&o).contains("7 rows; the first 5 shown"),
        "{}",
        stdout(&o)
    );
    let o = revintel(dir.path(), &["sql", "--max-rows", "0", "-c", "SELECT 1"]);
    assert!(!o.status.success());
}

/// A query that needs more memory than the limit fails with an error that
/// names the limit and where it was set; queries that can spill finish.
#[test]
fn memory_limit_is_named_when_a_query_needs_more() {
    let dir = tiny_project();
    let hungry = "SELECT count(*) FROM range(4000000) a JOIN range(4000000) b ON a.value = b.value";
    let o = Command::new(env!("CARGO_BIN_EXE_revintel"))
        .args(["sql", "-c", hungry])
        .current_dir(dir.path())
        .env("REVINTEL_MEMORY_LIMIT", "32MiB")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("more memory than the limit of 32.0 MiB (set by $REVINTEL_MEMORY_LIMIT)"),
        "{err}"
    );
    // A sort larger than the limit spills to disk and finishes.
    let o = Command::new(env!("CARGO_BIN_EXE_revintel"))
        .args([
            "sql",
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM (SELECT value FROM range(6000000) ORDER BY random())",
        ])
        .current_dir(dir.path())
        .env("REVINTEL_MEMORY_LIMIT", "32MiB")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "n\n6000000\n");

    // The config sets it too, and a bad value is named.
    let config = dir.path().join("revintel.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[engine]\nmemory_limit = \"32MiB\"\n"),
    )
    .unwrap();
    let o = revintel(dir.path(), &["sql", "-c", hungry]);
    assert!(
        stderr(&o).contains("32.0 MiB (set by")
            && stderr(&o).contains("revintel.toml: [engine] memory_limit"),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        &config,
        format!("{text}\n[engine]\nmemory_limit = \"lots\"\n"),
    )
    .unwrap();
    let o = revintel(dir.path(), &["sql", "-c", "SELECT 1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("memory limit `lots`"), "{}", stderr(&o));
}

/// CRM text is shown, never obeyed: escape sequences in a deal name do not
/// reach the terminal, and a formula in a cell can be neutralised for
/// spreadsheets (as it always is in out/rejects.csv).
#[test]
fn crm_text_cannot_drive_the_terminal_or_a_spreadsheet() {
    let dir = tiny_project();
    let deals = dir.path().join("deals.csv");
    let text = std::fs::read_to_string(&deals).unwrap();
    let evil = "\u{1b}]0;pwned\u{7}\u{1b}]52;c;ZXZpbA==\u{7}";
    let text = text
        .replacen("Acme Core", &format!("Acme{evil} Core"), 1)
        .replacen("Globex Scale", "\"=HYPERLINK(\"\"http://e.vil\"\")\"", 1);
    // And a row rejected for its amount, which holds an escape too.
    let text = format!(
        "{text}D99,Bad,A1,R1,P1,1\u{1b}[2J,USD,Prospecting,Pipeline,2025-01-06,2025-09-01,,open,Inbound,New Business,\n"
    );
    std::fs::write(&deals, text).unwrap();
    for args in [
        vec![
            "sql",
            "-c",
            "SELECT deal_id, name FROM deals ORDER BY deal_id",
        ],
        vec!["sql", "-c", "SELECT name FROM deals WHERE nope = 1"],
        vec!["import"],
    ] {
        let o = revintel(dir.path(), &args);
        for stream in [&o.stdout, &o.stderr] {
            assert!(
                !stream.contains(&0x1b) && !stream.contains(&0x07),
                "{args:?}: a control character reached the terminal: {}",
                String::from_utf8_lossy(stream)
            );
        }
        if args[0] == "sql" && args[2].contains("ORDER BY") {
            assert!(stdout(&o).contains("Acme\\u{1b}]0;pwned"), "{}", stdout(&o));
        }
        if args[0] == "import" {
            assert!(stdout(&o).contains("\\u{1b}[2J"), "{}", stdout(&o));
        }
    }
    let o = revintel(
        dir.path(),
        &[
            "sql",
            "--format",
            "csv",
            "--escape-formulas",
            "-c",
            "SELECT name FROM deals WHERE deal_id = 'D2'",
        ],
    );
    assert_eq!(stdout(&o), "name\n\"'=HYPERLINK(\"\"http://e.vil\"\")\"\n");
    // Without the flag CSV is the data as it is.
    let o = revintel(
        dir.path(),
        &[
            "sql",
            "--format",
            "csv",
            "-c",
            "SELECT name FROM deals WHERE deal_id = 'D2'",
        ],
    );
    assert_eq!(stdout(&o), "name\n\"=HYPERLINK(\"\"http://e.vil\"\")\"\n");
}

#[test]
fn missing_file_is_named() {
    let dir = tiny_project();
    std::fs::remove_file(dir.path().join("reps.csv")).unwrap();
    let o = revintel(dir.path(), &["sql", "-c", "SELECT 1"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("reps.csv") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn malformed_row_and_wrong_type_are_rejected_with_line_and_field() {
    let dir = tiny_project();
    let deals = dir.path().join("deals.csv");
    let mut text = std::fs::read_to_string(&deals).unwrap();
    // Line 9: one field short. Line 10: an amount that is not a number.
    text.push_str("D8,Short row,A1,R1\n");
    text.push_str("D9,Bad amount,A1,R1,P1,lots,USD,Prospecting,Pipeline,2025-06-10,2025-08-01,,open,Inbound,New Business,2025-06-11\n");
    std::fs::write(&deals, text).unwrap();

    let o = revintel(
        dir.path(),
        &["sql", "-c", "SELECT count(*) FROM deals", "--format", "csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "count(*)\n7\n");
    let err = stderr(&o);
    assert!(
        err.contains("deals.csv") && err.contains("2 of 9 rows rejected"),
        "{err}"
    );
    assert!(
        err.contains("deals.csv:9") && err.contains("expected 16 fields"),
        "{err}"
    );

    let o = revintel(
        dir.path(),
        &[
            "sql",
            "-c",
            "SELECT line, field, reason FROM load_rejects ORDER BY line",
            "--format",
            "csv",
        ],
    );
    let out = stdout(&o);
    let mut rows = csv::Reader::from_reader(out.as_bytes())
        .into_records()
        .map(|r| r.unwrap());
    let first = rows.next().unwrap();
    assert_eq!((&first[0], &first[1]), ("9", ""));
    let second = rows.next().unwrap();
    assert_eq!((&second[0], &second[1]), ("10", "amount"));
    assert!(
        second[2].contains("column 6") && second[2].contains("`lots`"),
        "{out}"
    );

    let o = revintel(dir.path(), &["sql", "--strict", "-c", "SELECT 1"]);
    assert!(!o.status.success(), "strict loading refuses rejected rows");
    assert!(stderr(&o).contains("deals.csv:9"), "{}", stderr(&o));
}

#[test]
fn shell_survives_bad_statements_and_lists_tables() {
    let dir = tiny_project();
    let mut child = Command::new(env!("CARGO_BIN_EXE_revintel"))
        .args(["sql", "--format", "csv"])
        .current_dir(dir.path())
        .env("REVINTEL_HISTORY", dir.path().join(".history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT nope FROM deals;\nDROP TABLE deals;\nSELECT count(*)\n  AS n\nFROM deals;\n\\d\n\\q\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(err.contains("nope"), "{err}");
    assert!(err.contains("DROP TABLE is not allowed"), "{err}");
    assert!(
        out.contains("n\n7\n"),
        "the multi-line statement ran after two bad ones: {out}"
    );
    assert!(
        out.contains("deal_features") && out.contains("days_in_stage"),
        "\\d lists views and columns: {out}"
    );
    assert!(
        out.contains("stage_history") && out.contains("entered_at"),
        "{out}"
    );
}

#[test]
fn demo_data_is_generated_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let o = revintel(
        dir.path(),
        &[
            "sql",
            "-c",
            "SELECT count(*) AS n FROM deals",
            "--format",
            "csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("generating"), "{}", stderr(&o));
    assert_eq!(stdout(&o), "n\n5000\n");
    assert!(dir.path().join("seeds/deals.csv").is_file());
}

#[test]
fn scored_deals_train_on_first_use_then_reuse_cached_scores() {
    let dir = tempfile::tempdir().unwrap();
    let example = repo().join("examples/at_risk.sql");
    let example = example.to_str().unwrap();
    let o = revintel(dir.path(), &["sql", "-f", example, "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("training one first") && err.contains("AUC"),
        "{err}"
    );
    let first = stdout(&o);
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(first.as_bytes())
        .records()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), 10);
    let at_stake: Vec<f64> = rows.iter().map(|r| r[7].parse().unwrap()).collect();
    assert!(
        at_stake.windows(2).all(|w| w[0] >= w[1]),
        "ranked by value at stake: {at_stake:?}"
    );
    for r in &rows {
        let win: f64 = r[6].parse().unwrap();
        assert!((10.0..100.0).contains(&win), "can still be saved: {win}");
        assert!(!r[8].is_empty(), "every deal has a top driver: {first}");
    }
    for file in [
        "win_prob.txt",
        "win_prob.json",
        "time_to_close_p50.txt",
        "metrics.json",
    ] {
        assert!(dir.path().join("models").join(file).is_file(), "{file}");
    }

    // Second run: no training, same answer from the cached scores.
    let o = revintel(dir.path(), &["sql", "-f", example, "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("training"), "{}", stderr(&o));
    assert_eq!(stdout(&o), first);
}

/// Out-of-range flags are refused by name before any work starts.
#[test]
fn out_of_range_flags_are_refused_not_panicked_on() {
    let dir = tiny_project();
    for args in [
        vec!["backtest", "--quarters", "2000000"],
        vec!["backtest", "--quarters", "0"],
        vec!["seed", "--deals", "18446744073709551615"],
        vec!["seed", "--deals", "0"],
        vec!["--as-of", "0001-01-01", "sql", "-c", "SELECT 1"],
        vec!["--as-of", "9999-12-31", "sql", "-c", "SELECT 1"],
        vec!["sql", "--max-rows", "99999999999", "-c", "SELECT 1"],
    ] {
        let o = revintel(dir.path(), &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("error:"), "{args:?}: {err}");
    }
}

/// Two writers on one project do not interleave: while another process
/// holds the write lock, `build` says whom it waits for and writes nothing;
/// once released it builds.
#[test]
fn a_second_writer_waits_and_says_for_whom() {
    use std::io::{BufRead, BufReader, Write as _};
    let dir = tiny_project();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/a.md"),
        "---\ntitle: A\nformats: [html]\n---\n```sql n\nSELECT count(*) AS n FROM deals\n```\n\n{{ n.rows[0].n }} deals.\n",
    )
    .unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let mut held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(models.join(".revintel.lock"))
        .unwrap();
    held.lock().unwrap();
    held.write_all(b"process 4242 (revintel train)\n").unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_revintel"))
        .args(["build"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "build ended without waiting"
        );
        if line.contains("waiting for") {
            break;
        }
    }
    assert!(line.contains("process 4242 (revintel train)"), "{line}");
    assert!(
        !dir.path().join("out/a.html").exists(),
        "nothing written while waiting"
    );
    held.unlock().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(std::fs::read_to_string(dir.path().join("out/a.html"))
        .unwrap()
        .contains("7 deals."));
}

/// A config found in a parent folder is named, so nobody is surprised by
/// which data a command read; one in the working folder is not.
#[test]
fn a_config_in_a_parent_folder_is_named() {
    let dir = tiny_project();
    let sub = dir.path().join("reports/drafts");
    std::fs::create_dir_all(&sub).unwrap();
    let o = revintel(&sub, &["sql", "-c", "SELECT count(*) AS n FROM deals"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let config = dir.path().join("revintel.toml");
    assert!(
        err.contains(&format!("using {}", config.display())) && err.contains("parent folder"),
        "{err}"
    );
    let o = revintel(dir.path(), &["sql", "-c", "SELECT 1"]);
    assert!(!stderr(&o).contains("parent folder"), "{}", stderr(&o));
}

/// One malformed DATAFUSION_* variable is named (it used to drop all of
/// them silently); a well-formed one still applies.
#[test]
fn a_malformed_datafusion_variable_is_named() {
    let dir = tiny_project();
    let run = |vars: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_revintel"));
        c.args(["sql", "--format", "csv", "-c", "SELECT value AS v FROM information_schema.df_settings WHERE name = 'datafusion.execution.target_partitions'"])
            .current_dir(dir.path());
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let o = run(&[
        ("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "3"),
        ("DATAFUSION_EXECUTION_BATCH_SIZE", "lots"),
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("$DATAFUSION_EXECUTION_BATCH_SIZE = `lots`"),
        "{err}"
    );
    let o = run(&[("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "3")]);
    assert_eq!(stdout(&o), "v\n3\n", "{}", stderr(&o));
    let o = run(&[("DATAFUSION_EXECUTION_TARGET_PARTITION", "3")]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("DATAFUSION_EXECUTION_TARGET_PARTITION names no DataFusion setting"),
        "{}",
        stderr(&o)
    );
}
