//! The PostgreSQL endpoint with real clients: `revintel pg` (and `serve
//! --pg`) on a free loopback port, driven by psql, Python's psycopg 3
//! (`tests/fixtures/pg_client.py`) and tokio-postgres — the catalog
//! commands, both query protocols, bound parameters, server-side cursors,
//! cancel, refused writes, logins, TLS, 50 clients at once, and tables
//! that follow a rebuild while a running query keeps its snapshot.

use crate::common::*;
use crate::live::Running;
use crate::reports::demo;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PASSWORD: &str = "wire-secret";

/// Whether `psql` and psycopg are here; outside CI a missing one skips the
/// test (it says so), in CI it fails.
fn clients_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    let available = *AVAILABLE.get_or_init(|| {
        let runs = |c: &mut Command| {
            c.stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        runs(Command::new("psql").arg("--version"))
            && runs(Command::new("python3").args(["-c", "import psycopg"]))
    });
    if !available {
        if std::env::var_os("CI").is_some() {
            panic!(
                "psql or psycopg missing in CI; .ci/run must install postgresql-client and psycopg"
            );
        }
        eprintln!(
            "\n*** SKIPPED pg test: needs psql and python3 -m pip install 'psycopg[binary]' ***\n"
        );
    }
    available
}

/// A running endpoint and where it listens.
struct Endpoint {
    server: Running,
    port: u16,
}

impl Endpoint {
    /// `revintel ARGS` in `dir` with the test password, waiting for the
    /// line that says where PostgreSQL clients connect.
    fn start(dir: &Path, args: &[&str]) -> Endpoint {
        let mut command = Command::new(env!("CARGO_BIN_EXE_revintel"));
        command
            .env("REVINTEL_PG_PASSWORD", PASSWORD)
            .env_remove("REVINTEL_PG_USER")
            .env_remove("REVINTEL_PG_PASSWORD_FILE");
        Endpoint::start_with(command, dir, args)
    }

    /// [`Endpoint::start`] from a prepared command (its own environment).
    fn start_with(command: Command, dir: &Path, args: &[&str]) -> Endpoint {
        let mut server = Running::start_with(command, dir, args);
        let line = server.wait_for("the PostgreSQL address", |l| {
            l.starts_with("serving PostgreSQL clients on ")
        });
        let port = line
            .trim_start_matches("serving PostgreSQL clients on ")
            .split([' ', ':'])
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("a port in {line}"));
        Endpoint { server, port }
    }

    fn pg(dir: &Path, extra: &[&str]) -> Endpoint {
        let mut args = vec!["pg", "--port", "0"];
        args.extend_from_slice(extra);
        Endpoint::start(dir, &args)
    }

    fn dsn(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=revintel password={PASSWORD} dbname=revintel",
            self.port
        )
    }

    /// psql with `extra` connection settings, running `commands` (-c each).
    fn psql(&self, extra: &str, commands: &[&str]) -> Output {
        let mut c = Command::new("psql");
        c.arg(format!(
            "host=127.0.0.1 port={} user=revintel dbname=revintel {extra}",
            self.port
        ))
        .args(["-X", "-v", "ON_ERROR_STOP=1"])
        .env("PGPASSWORD", PASSWORD)
        .env("PGCONNECT_TIMEOUT", "120");
        for command in commands {
            c.args(["-c", command]);
        }
        c.output().expect("psql runs")
    }

    /// `tests/fixtures/pg_client.py WHAT DSN`, its JSON.
    fn python(&self, what: &str, dsn: &str) -> Value {
        let o = Command::new("python3")
            .arg(fixture("pg_client.py"))
            .args([what, dsn])
            .output()
            .expect("python3 runs");
        assert!(o.status.success(), "pg_client.py {what}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).expect("pg_client.py prints JSON")
    }
}

fn text(o: &Output) -> String {
    assert!(
        o.status.success(),
        "psql failed: {}{}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// `revintel sql -c SQL --format csv` in `dir`: the same query in-process.
fn in_process(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let out = ok(revintel(dir, &["sql", "-c", sql, "--format", "csv"]));
    csv::Reader::from_reader(out.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn number(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("a number: {v}"))
}

#[test]
fn psql_lists_describes_calls_the_functions_and_cancels() {
    if !clients_available() {
        return;
    }
    let dir = demo();
    let server = Endpoint::pg(dir, &[]);

    let listed = text(&server.psql("", &["\\d"]));
    for name in ["scored_deals", "deal_features", "deals", "forecast"] {
        assert!(
            listed.contains(&format!(" {name} ")),
            "\\d lists {name}:\n{listed}"
        );
    }
    let described = text(&server.psql("", &["\\d scored_deals"]));
    for (column, pg_type) in [
        ("win_prob", "double precision"),
        ("amount", "double precision"),
        ("expected_close_date", "date"),
        ("deal_id", "text"),
        ("actions", "text[]"),
        ("drivers", "json"),
    ] {
        assert!(
            described
                .lines()
                .any(|l| l.contains(&format!(" {column} ")) && l.contains(pg_type)),
            "\\d scored_deals: {column} is {pg_type}:\n{described}"
        );
    }
    let functions = text(&server.psql("", &["\\df"]));
    for (name, result) in [
        ("win_prob", "double precision"),
        ("risk_score", "double precision"),
        ("shap_top", "json"),
        ("forecast_quantile", "double precision"),
    ] {
        assert!(
            functions
                .lines()
                .any(|l| l.contains(&format!(" {name} ")) && l.contains(result)),
            "\\df lists {name} returning {result}:\n{functions}"
        );
    }

    // The functions over the wire give what they give in-process.
    let sql = "SELECT risk_score(0.2, 1.5, 2.0, 30) AS r, forecast_quantile(0.5) AS q, \
               (SELECT count(*) FROM scored_deals WHERE win_prob > 0.5) AS likely";
    let wire = text(&server.psql(
        "",
        &["\\pset format unaligned", "\\pset tuples_only on", sql],
    ));
    let wire: Vec<&str> = wire.lines().last().unwrap().split('|').collect();
    let here = &in_process(dir, sql)[0];
    assert_eq!(wire.len(), 3, "{wire:?}");
    for (w, h) in wire.iter().zip(here) {
        let (w, h): (f64, f64) = (w.parse().unwrap(), h.parse().unwrap());
        assert!(
            (w - h).abs() <= 1e-9 * h.abs().max(1.0),
            "wire {w} vs in-process {h}"
        );
    }

    // Ctrl-C: psql sends a cancel request; a query that would run for hours
    // stops with PostgreSQL's message, and the server serves on.
    let mut psql = Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} user=revintel dbname=revintel",
            server.port
        ))
        .args(["-X", "-c"])
        .arg(
            "SELECT count(*) FROM deals a CROSS JOIN deals b CROSS JOIN deals c \
             WHERE a.amount + b.amount > c.amount",
        )
        .env("PGPASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql runs");
    let deadline = Instant::now() + Duration::from_secs(180);
    // SIGINT until psql ends: one arriving before the query is under way
    // is ignored by psql, the next cancels it.
    while psql.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the cancel never took");
        std::thread::sleep(Duration::from_millis(500));
        // SAFETY: kill(2) on the pid of a child we own and have not reaped.
        unsafe { libc::kill(psql.id() as i32, libc::SIGINT) };
    }
    let cancelled = psql.wait_with_output().unwrap();
    assert!(
        stderr(&cancelled).contains("canceling statement due to user request"),
        "psql after Ctrl-C: {}{}",
        stdout(&cancelled),
        stderr(&cancelled)
    );
    assert!(text(&server.psql("", &["SELECT 42"])).contains("42"));
}

#[test]
fn psycopg_speaks_both_protocols_with_parameters_cursors_and_the_catalog() {
    if !clients_available() {
        return;
    }
    let dir = demo();
    let server = Endpoint::pg(dir, &[]);
    let got = server.python("session", &server.dsn());

    // Types as clients expect: text, float8, date, json (decoded), text[].
    assert_eq!(
        got["extended_types"],
        serde_json::json!(["str", "float", "date", "list", "list"])
    );
    assert_eq!(
        got["extended_type_oids"],
        serde_json::json!([25, 701, 1082, 114, 1009])
    );
    let expected = in_process(
        dir,
        "SELECT deal_id, amount, expected_close_date FROM scored_deals \
         WHERE amount > 50000 AND segment = 'Enterprise' ORDER BY deal_id LIMIT 5",
    );
    let rows = got["extended"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len());
    assert!(!rows.is_empty());
    for (row, want) in rows.iter().zip(&expected) {
        assert_eq!(row[0].as_str().unwrap(), want[0]);
        assert!((number(&row[1]) - want[1].parse::<f64>().unwrap()).abs() < 1e-9);
        assert_eq!(row[2].as_str().unwrap(), want[2]);
        let drivers = row[3].as_array().expect("drivers arrive as a JSON array");
        assert!(!drivers.is_empty());
        for driver in drivers {
            assert!(
                driver["feature"].is_string() && driver["contribution"].is_f64(),
                "{driver}"
            );
        }
    }

    let by_segment = in_process(
        dir,
        "SELECT segment, count(*) FROM scored_deals GROUP BY segment",
    );
    let count_of = |segment: &str| -> i64 {
        by_segment
            .iter()
            .find(|r| r[0] == segment)
            .map_or(0, |r| r[1].parse().unwrap())
    };
    for pair in got["prepared"].as_array().unwrap() {
        assert_eq!(
            pair[1].as_i64().unwrap(),
            count_of(pair[0].as_str().unwrap()),
            "{pair}"
        );
    }
    assert_eq!(got["simple"].as_i64().unwrap(), count_of("Enterprise"));
    let binary = in_process(
        dir,
        "SELECT deal_id, amount, expected_close_date FROM scored_deals ORDER BY deal_id LIMIT 3",
    );
    for (row, want) in got["binary"].as_array().unwrap().iter().zip(&binary) {
        assert_eq!(row[0].as_str().unwrap(), want[0]);
        assert!((number(&row[1]) - want[1].parse::<f64>().unwrap()).abs() < 1e-9);
        assert_eq!(row[2].as_str().unwrap(), want[2]);
    }
    let udfs = &in_process(
        dir,
        "SELECT risk_score(0.2, 1.5, 2.0, 30), forecast_quantile(0.5)",
    )[0];
    for (wire, here) in got["udfs"].as_array().unwrap().iter().zip(udfs) {
        assert!((number(wire) - here.parse::<f64>().unwrap()).abs() < 1e-6);
    }

    // Server-side cursor, read in pages: every row, in order.
    assert_eq!(
        got["cursor_columns"],
        serde_json::json!(["deal_id", "amount"])
    );
    assert_eq!(got["cursor_rows"], got["deal_features_rows"]);
    assert!(
        got["cursor_rows"].as_i64().unwrap() > 100,
        "more than one page"
    );
    let first = in_process(
        dir,
        "SELECT deal_id FROM deal_features ORDER BY deal_id LIMIT 3",
    );
    let first: Vec<&str> = first.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(got["cursor_first"], serde_json::json!(first));

    // What GUI tools read when they connect.
    let tables: Vec<&str> = got["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for name in [
        "deals",
        "scored_deals",
        "deal_features",
        "forecast",
        "model_quality",
    ] {
        assert!(
            tables.contains(&name),
            "information_schema.tables has {name}: {tables:?}"
        );
    }
    let wire_columns: Vec<&str> = got["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for column in ["deal_id", "win_prob", "drivers", "expected_close_date"] {
        assert!(wire_columns.contains(&column), "{wire_columns:?}");
    }
    let relations = got["pg_class"].as_array().unwrap();
    assert!(
        relations.contains(&serde_json::json!(["deals", "r"])),
        "{relations:?}"
    );
    assert!(
        relations.contains(&serde_json::json!(["scored_deals", "v"])),
        "{relations:?}"
    );
    let attributes = got["pg_attribute"].as_array().unwrap();
    for column in [
        ["expected_close_date", "date"],
        ["drivers", "json"],
        ["win_prob", "double precision"],
    ] {
        assert!(
            attributes.contains(&serde_json::json!(column)),
            "{attributes:?}"
        );
    }

    // Read-only and safe.
    for (sql, refusal) in got["settings"].as_object().unwrap() {
        assert!(refusal.is_null(), "{sql} is accepted: {refusal}");
    }
    assert_eq!(got["set_engine"]["sqlstate"], "42501");
    for (sql, refusal) in got["writes"].as_object().unwrap() {
        assert_eq!(refusal["sqlstate"], "25006", "{sql}: {refusal}");
        assert!(
            refusal["message"].as_str().unwrap().contains("read-only"),
            "the reason is given: {refusal}"
        );
    }
    assert_eq!(
        got["deals_after_writes"].as_i64().unwrap(),
        in_process(dir, "SELECT count(*) FROM deals")[0][0]
            .parse::<i64>()
            .unwrap()
    );
    assert_eq!(got["timeout"]["sqlstate"], "57014", "{}", got["timeout"]);
    assert!(got["timeout"]["message"]
        .as_str()
        .unwrap()
        .contains("statement timeout"));
    assert_eq!(got["after_timeout"], 1);
    assert_eq!(got["ssl_in_use"], false);
}

#[test]
fn logins_need_the_password_from_the_environment_or_a_file() {
    if !clients_available() {
        return;
    }
    let dir = demo();
    let server = Endpoint::pg(dir, &[]);
    let wrong = server.python(
        "login",
        &format!(
            "host=127.0.0.1 port={} user=revintel password=guess dbname=revintel",
            server.port
        ),
    );
    assert_eq!(wrong["connected"], false);
    assert!(
        wrong["message"]
            .as_str()
            .unwrap()
            .contains("assword authentication failed"),
        "{wrong}"
    );
    let stranger = server.python(
        "login",
        &format!(
            "host=127.0.0.1 port={} user=mallory password={PASSWORD} dbname=revintel",
            server.port
        ),
    );
    assert_eq!(
        stranger["connected"], false,
        "only the configured user: {stranger}"
    );
    assert_eq!(server.python("login", &server.dsn())["connected"], true);

    // From a file, for a named user; without any password it will not start.
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("pg-password");
    std::fs::write(&file, "from-a-file\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_revintel"));
    command
        .env_remove("REVINTEL_PG_PASSWORD")
        .env("REVINTEL_PG_USER", "analyst");
    let filed = Endpoint::start_with(
        command,
        dir,
        &[
            "pg",
            "--port",
            "0",
            "--password-file",
            file.to_str().unwrap(),
        ],
    );
    let port = filed.port;
    let login = server.python(
        "login",
        &format!("host=127.0.0.1 port={port} user=analyst password=from-a-file dbname=revintel"),
    );
    assert_eq!(login["connected"], true, "{login}");

    let o = command_without_password(dir);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("REVINTEL_PG_PASSWORD") && stderr(&o).contains("never revintel.toml"),
        "{}",
        stderr(&o)
    );
}

fn command_without_password(dir: &Path) -> Output {
    command(dir)
        .args(["pg", "--port", "0"])
        .env_remove("REVINTEL_PG_PASSWORD")
        .env_remove("REVINTEL_PG_PASSWORD_FILE")
        .output()
        .unwrap()
}

#[test]
fn tls_is_used_when_configured_and_refused_when_not() {
    if !clients_available() {
        return;
    }
    let dir = demo();
    let keys = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_certificate(keys.path());
    let secured = Endpoint::pg(
        dir,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    // verify-full: encrypted, and the server proved it holds the key.
    let verified = secured.psql(
        &format!(
            "sslmode=verify-full sslrootcert={} host=localhost",
            cert.display()
        ),
        &["SELECT 7 AS seven"],
    );
    assert!(text(&verified).contains('7'));
    let got = secured.python("session", &format!("{} sslmode=require", secured.dsn()));
    assert_eq!(got["ssl_in_use"], true);

    let plain = Endpoint::pg(dir, &[]);
    let refused = plain.psql("sslmode=require", &["SELECT 1"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("does not support SSL"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn fifty_clients_at_once_get_the_in_process_answer() {
    if !clients_available() {
        return;
    }
    let dir = demo();
    let server = Endpoint::pg(dir, &["--max-connections", "60"]);
    let expected: i64 = in_process(dir, "SELECT count(*) FROM scored_deals")[0][0]
        .parse()
        .unwrap();
    let dsn = server.dsn();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let counts = runtime.block_on(async move {
        let together = std::sync::Arc::new(tokio::sync::Barrier::new(50));
        let clients = (0..50).map(|_| {
            let dsn = dsn.clone();
            let together = together.clone();
            tokio::spawn(async move {
                let (client, connection) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
                    .await
                    .expect("connects");
                tokio::spawn(connection);
                // All 50 are connected before any queries.
                together.wait().await;
                let row = client
                    .query_one("SELECT count(*) FROM scored_deals", &[])
                    .await
                    .expect("answers");
                row.get::<_, i64>(0)
            })
        });
        let mut all = Vec::new();
        for client in clients.collect::<Vec<_>>() {
            all.push(client.await.unwrap());
        }
        all
    });
    assert_eq!(counts.len(), 50);
    assert!(
        counts.iter().all(|&c| c == expected),
        "{counts:?} vs {expected}"
    );
}

#[test]
fn serve_pg_follows_a_rebuild_while_a_running_query_keeps_its_snapshot() {
    if !clients_available() {
        return;
    }
    let dir = crate::live::project();
    let Endpoint { mut server, port } =
        Endpoint::start(dir.path(), &["serve", "--port", "0", "--pg", "0"]);
    server.wait_for("watching", |l| l.starts_with("watching"));
    let dsn =
        format!("host=127.0.0.1 port={port} user=revintel password={PASSWORD} dbname=revintel");
    let deals = dir.path().join("deals.csv");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (mut client, connection) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
            .await
            .expect("connects");
        tokio::spawn(connection);
        let before: i64 = client
            .query_one("SELECT count(*) FROM deals", &[])
            .await
            .unwrap()
            .get(0);
        // A query under way: its first row read, the rest still to come.
        let running = client.transaction().await.unwrap();
        let portal = running
            .bind("SELECT deal_id FROM deals ORDER BY deal_id", &[])
            .await
            .unwrap();
        let first = running.query_portal(&portal, 1).await.unwrap();
        assert_eq!(first.len(), 1);

        // A new deal lands in the data.
        let mut text = std::fs::read_to_string(&deals).unwrap();
        text.push_str("D99,Initech Extra,A1,R1,P1,5000.00,USD,Prospecting,Pipeline,2025-06-01,2025-09-30,,,Inbound,New Business,2025-06-01\n");
        let temp = dir.path().join(".deals.csv.tmp");
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(&temp, &deals).unwrap();
        server.wait_for("the rebuild", |l| l.starts_with("rebuilt a"));

        // New queries see the new tables…
        let (fresh, connection) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let after: i64 = fresh
            .query_one("SELECT count(*) FROM deals", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(after, before + 1, "a query after the rebuild sees the new deal");
        // …and so does a statement prepared before it, run again.
        let again: i64 = running
            .query_one("SELECT count(*) FROM deals", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(again, before + 1);
        // The query under way finishes on the snapshot it started with.
        let rest = running.query_portal(&portal, 0).await.unwrap();
        let ids: Vec<String> = first
            .iter()
            .chain(&rest)
            .map(|r| r.get::<_, String>(0))
            .collect();
        assert_eq!(ids.len() as i64, before, "{ids:?}");
        assert!(!ids.contains(&"D99".to_string()));
        running.commit().await.unwrap();
    });
}

#[test]
fn a_query_over_its_memory_limit_fails_alone() {
    if !clients_available() {
        return;
    }
    let dir = demo();
    let server = Endpoint::pg(dir, &["--query-memory", "16MiB"]);
    // A hash join whose build side (1,500,000 keys) cannot fit 16 MiB.
    let greedy = "SELECT count(*) FROM \
        (SELECT a.deal_id || b.deal_id AS k FROM deals a CROSS JOIN (SELECT deal_id FROM deals LIMIT 300) b) x \
        JOIN (SELECT a.deal_id || b.deal_id AS k FROM deals a CROSS JOIN (SELECT deal_id FROM deals LIMIT 300) b) y \
        ON x.k = y.k";
    let o = server.psql("", &["\\set VERBOSITY verbose", greedy]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("53200") && stderr(&o).contains("memory limit"),
        "{}",
        stderr(&o)
    );
    // The server and other queries carry on.
    let fine = text(&server.psql("", &["SELECT count(*) FROM scored_deals"]));
    let expected = &in_process(dir, "SELECT count(*) FROM scored_deals")[0][0];
    assert!(fine.contains(expected.as_str()), "{fine}");
}

#[test]
fn pg_alone_follows_the_data_too() {
    if !clients_available() {
        return;
    }
    let dir = crate::live::project();
    // It builds no reports, so it needs no templates.
    std::fs::remove_dir_all(dir.path().join("templates")).unwrap();
    let server = Endpoint::pg(dir.path(), &[]);
    let count = |table: &str| -> i64 {
        let o = server.psql(
            "",
            &[
                "\\pset tuples_only on",
                &format!("SELECT count(*) FROM {table}"),
            ],
        );
        let out = text(&o);
        let line = out
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or_default();
        line.trim()
            .parse()
            .unwrap_or_else(|_| panic!("a count: {out}"))
    };
    let before = count("deals");
    // deal_features is computed once per snapshot and kept (pg::snapshot::KEPT_VIEWS):
    // read now, the old snapshot keeps it when the data change.
    let features_before = count("deal_features");
    let append = |file: &str, line: &str| {
        let path = dir.path().join(file);
        let mut data = std::fs::read_to_string(&path).unwrap();
        if !data.ends_with('\n') {
            data.push('\n');
        }
        data.push_str(line);
        let temp = dir.path().join(format!(".{file}.tmp"));
        std::fs::write(&temp, data).unwrap();
        std::fs::rename(&temp, &path).unwrap();
    };
    // An open deal with its stage history: it has features.
    append(
        "stage_history.csv",
        "D98,Prospecting,2025-06-01,,6000.00,2025-09-30,Pipeline\n",
    );
    append("deals.csv", "D98,Initech Later,A1,R1,P1,6000.00,USD,Prospecting,Pipeline,2025-06-01,2025-09-30,,,Inbound,New Business,2025-06-01\n");
    // Only a guard against a hung test: the reload takes well under a second.
    let deadline = Instant::now() + Duration::from_secs(120);
    while count("deals") != before + 1 || count("deal_features") != features_before + 1 {
        assert!(
            Instant::now() < deadline,
            "the new deal never showed in deals and deal_features"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        in_process(dir.path(), "SELECT count(*) FROM deal_features")[0][0],
        (features_before + 1).to_string()
    );
    assert!(
        !dir.path().join("out").join("a.html").exists(),
        "revintel pg builds no reports"
    );
}
