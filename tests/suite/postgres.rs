//! PostgreSQL for real: a throw-away server on loopback (its own `initdb`
//! in a temporary folder, a free port, password authentication), a seeded
//! pipeline loaded into it, and revintel reading it through
//! `[[sources.import]] kind = "postgres"` — which must give exactly the same
//! tables, features and scores as reading the same rows from CSV.
//!
//! Skipped, loudly, only where the PostgreSQL server binaries are absent and
//! this is not CI; `.ci/run` installs them.

use crate::common::*;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ADMIN_PASSWORD: &str = "admin-secret";
const READER_PASSWORD: &str = "reader-secret";

/// The newest `/usr/lib/postgresql/*/bin` holding `initdb`.
fn server_binaries() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// A running server; stopped (immediately) when dropped.
struct Server {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().expect("the command starts");
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

impl Server {
    /// `initdb` + `pg_ctl start` on 127.0.0.1 and a free port, as the
    /// `postgres` user when running as root (the server refuses root).
    fn start(bin: PathBuf) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, ADMIN_PASSWORD).unwrap();
        if as_postgres {
            let out = run(Command::new("id").args(["-u", "postgres"]));
            let uid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            let out = run(Command::new("id").args(["-g", "postgres"]));
            let gid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = Server {
            bin,
            data,
            port,
            as_postgres,
            _dir: dir,
        };
        run(&mut server.tool(
            "initdb",
            &[
                "-D",
                server.data.to_str().unwrap(),
                "-U",
                "admin",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "--pwfile",
                pwfile.to_str().unwrap(),
            ],
        ));
        server.restart();
        server
    }

    fn tool(&self, name: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(name);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args);
        cmd
    }

    /// `psql` as the admin over TCP with a password from the environment,
    /// in UTC so dates stored as timestamps keep their day.
    fn psql(&self, db: &str, sql: &str) -> Output {
        let psql = if self.bin.join("psql").is_file() {
            self.bin.join("psql")
        } else {
            PathBuf::from("psql")
        };
        run(Command::new(psql)
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "admin",
                "-d",
                db,
            ])
            .args(["-p", &self.port.to_string(), "-c", sql])
            .env("PGPASSWORD", ADMIN_PASSWORD)
            .env("PGTZ", "UTC"))
    }
}

impl Server {
    /// Stops the server (fast shutdown); [`Server::restart`] brings it back
    /// on the same port with the same data (and [`Server::start`] starts it
    /// the first time).
    fn stop(&self) {
        run(&mut self.tool(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        ));
    }

    /// `pg_ctl start` on the server's port and data, waiting until it is up.
    fn restart(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.display()
        );
        run(&mut self.tool(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                self.data.join("log").to_str().unwrap(),
                "-w",
                "start",
            ],
        ));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self
            .tool(
                "pg_ctl",
                &["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"],
            )
            .output();
    }
}

fn revintel(dir: &Path, args: &[&str]) -> Output {
    let o = command(dir)
        .args(args)
        .env("CRM_READER_PASSWORD", READER_PASSWORD)
        .env("PGPASSWORD", READER_PASSWORD)
        .env_remove("DATABASE_URL")
        .output()
        .expect("the binary runs");
    assert!(
        o.status.success(),
        "revintel {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn query(dir: &Path, sql: &str) -> String {
    String::from_utf8(revintel(dir, &["sql", "--format", "csv", "-c", sql]).stdout).unwrap()
}

const SCHEMA: &str = "
CREATE SCHEMA crm;
CREATE TABLE crm.reps (rep_id text PRIMARY KEY, name text NOT NULL, manager text, team text, start_date date, quota numeric(14,2));
CREATE TABLE crm.accounts (account_id text PRIMARY KEY, name text NOT NULL, sector text, employees integer, revenue numeric(16,2), region text, segment text, parent_account_id text);
CREATE TABLE crm.products (product_id text PRIMARY KEY, name text NOT NULL, series text, list_price numeric(14,2));
CREATE TABLE crm.deals (deal_id text PRIMARY KEY, name text, account_id text, owner_id text NOT NULL, product_id text, amount numeric(14,2), currency char(3), stage text NOT NULL, forecast_category text, created_date date NOT NULL, close_date date, closed_date date, outcome text NOT NULL, lead_source text, deal_type text, last_activity_date timestamptz);
CREATE TABLE crm.stage_history (deal_id text NOT NULL, stage text NOT NULL, entered_at date NOT NULL, exited_at date, amount numeric(14,2), close_date date, forecast_category text);
CREATE ROLE reader LOGIN PASSWORD 'reader-secret';
GRANT USAGE ON SCHEMA crm TO reader;
GRANT SELECT ON ALL TABLES IN SCHEMA crm TO reader;
";

#[test]
fn postgres_gives_the_same_tables_features_and_scores_as_csv() {
    let Some(bin) = server_binaries() else {
        if std::env::var_os("CI").is_some() {
            panic!("PostgreSQL server binaries are missing under /usr/lib/postgresql in CI; .ci/run must install the postgresql package");
        }
        eprintln!("\n*** SKIPPED postgres test: no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql) ***\n");
        return;
    };
    // The same rows as CSV: a seeded demo pipeline, big enough to train on.
    let csv_project = tempfile::tempdir().unwrap();
    revintel(
        csv_project.path(),
        &[
            "seed",
            "--deals",
            "2400",
            "--seed",
            "11",
            "--as-of",
            "2026-06-30",
        ],
    );
    std::fs::write(
        csv_project.path().join("revintel.toml"),
        "as_of = \"2026-06-30\"\n[sources]\nfolder = \"seeds\"\n",
    )
    .unwrap();

    let server = Server::start(bin);
    server.psql("postgres", "CREATE DATABASE crm_test");
    server.psql("crm_test", SCHEMA);
    for table in ["reps", "accounts", "products", "deals", "stage_history"] {
        let file = csv_project
            .path()
            .join("seeds")
            .join(format!("{table}.csv"));
        server.psql(
            "crm_test",
            &format!(
                "\\copy crm.{table} FROM '{}' WITH (FORMAT csv, HEADER true)",
                file.display()
            ),
        );
    }

    // Models trained on the CSV rows, copied (without any cached scores) to
    // the PostgreSQL project, so each scores its own data.
    revintel(csv_project.path(), &["train"]);
    let pg_project = tempfile::tempdir().unwrap();
    std::fs::create_dir(pg_project.path().join("models")).unwrap();
    for e in std::fs::read_dir(csv_project.path().join("models")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(
                &p,
                pg_project
                    .path()
                    .join("models")
                    .join(p.file_name().unwrap()),
            )
            .unwrap();
        }
    }

    // The PostgreSQL project: no password in its config; stage history
    // through a query, the rest by table.
    let mut config = "as_of = \"2026-06-30\"\n".to_string();
    for table in ["reps", "accounts", "products", "deals"] {
        config.push_str(&format!(
            "[[sources.import]]\nkind = \"postgres\"\nentity = \"{table}\"\ntable = \"crm.{table}\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"reader\"\ndbname = \"crm_test\"\n",
            server.port
        ));
    }
    config.push_str(&format!(
        "[[sources.import]]\nname = \"history\"\nkind = \"postgres\"\nentity = \"stage_history\"\nquery = \"SELECT * FROM crm.stage_history WHERE entered_at IS NOT NULL;\"\nurl = \"postgres://reader@127.0.0.1:{}/crm_test\"\npassword_env = \"CRM_READER_PASSWORD\"\n",
        server.port
    ));
    std::fs::write(pg_project.path().join("revintel.toml"), config).unwrap();
    assert!(
        !std::fs::read_to_string(pg_project.path().join("revintel.toml"))
            .unwrap()
            .contains("secret")
    );

    let check = String::from_utf8(revintel(pg_project.path(), &["import"]).stdout).unwrap();
    assert!(
        check.contains("postgres") && check.contains("crm.deals"),
        "{check}"
    );
    assert!(check.contains("2,400"), "{check}");

    let queries = [
        "SELECT * FROM reps ORDER BY rep_id",
        "SELECT * FROM accounts ORDER BY account_id",
        "SELECT * FROM products ORDER BY product_id",
        "SELECT * FROM deals ORDER BY deal_id",
        "SELECT * FROM stage_history ORDER BY deal_id, entered_at",
        "SELECT * FROM deal_features ORDER BY deal_id",
        "SELECT table_name, rows_read, rows_loaded, rows_rejected FROM load_report ORDER BY table_name",
    ];
    for sql in queries {
        let (a, b) = (
            query(csv_project.path(), sql),
            query(pg_project.path(), sql),
        );
        assert!(a.lines().count() > 1, "{sql}: {a}");
        assert_eq!(a, b, "{sql}: CSV and PostgreSQL differ");
    }
    let deals = query(pg_project.path(), "SELECT count(*) FROM deals");
    assert_eq!(deals, "count(*)\n2400\n");

    // Scores: the same models score both the same.
    let scores = "SELECT deal_id, win_prob, risk_score, ttc_p10_days, ttc_p50_days, ttc_p90_days, drivers FROM scored_deals ORDER BY deal_id";
    let json = |dir: &Path| {
        String::from_utf8(revintel(dir, &["sql", "--format", "json", "-c", scores]).stdout).unwrap()
    };
    let (a, b) = (json(csv_project.path()), json(pg_project.path()));
    assert!(a.matches("win_prob").count() > 10, "{a}");
    assert_eq!(a, b, "scores differ between CSV and PostgreSQL");

    // A query that writes is refused by the read-only transaction.
    std::fs::write(
        pg_project.path().join("revintel.toml"),
        format!(
            "[[sources.import]]\nkind = \"postgres\"\nentity = \"deals\"\nquery = \"DELETE FROM crm.deals RETURNING *\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"admin\"\ndbname = \"crm_test\"\npassword_env = \"PG_ADMIN\"\n",
            server.port
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_revintel"))
        .args(["import"])
        .current_dir(pg_project.path())
        .env("PG_ADMIN", ADMIN_PASSWORD)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.status.success() && out.contains("read-only transaction"),
        "{out}"
    );
    let left = server.psql("crm_test", "SELECT count(*) FROM crm.deals");
    assert!(
        String::from_utf8_lossy(&left.stdout).contains("2400"),
        "nothing was deleted"
    );

    // The time zone is passed as a value: a real one is used, and text
    // that would be SQL if pasted is only a wrong time zone.
    for (timezone, ok) in [
        ("America/New_York", true),
        (
            "UTC'; SET LOCAL transaction_read_only = off; DELETE FROM crm.deals; --",
            false,
        ),
    ] {
        std::fs::write(
            pg_project.path().join("revintel.toml"),
            format!(
                "[[sources.import]]\nkind = \"postgres\"\nentity = \"deals\"\ntable = \"crm.deals\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"admin\"\ndbname = \"crm_test\"\npassword_env = \"PG_ADMIN\"\ntimezone = \"{}\"\n",
                server.port,
                timezone.replace('\\', "\\\\").replace('"', "\\\"")
            ),
        )
        .unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_revintel"))
            .args(["import"])
            .current_dir(pg_project.path())
            .env("PG_ADMIN", ADMIN_PASSWORD)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.success(), ok, "{timezone}: {out}");
        if !ok {
            assert!(out.contains("time zone"), "{out}");
        }
        let left = server.psql("crm_test", "SELECT count(*) FROM crm.deals");
        assert!(
            String::from_utf8_lossy(&left.stdout).contains("2400"),
            "{timezone}"
        );
    }
}

/// The tiny fixture's deals in PostgreSQL, the rest from its CSV files, and
/// a template listing the deals; `extra` goes into the deals import.
fn live_project(server: &Server, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("tiny")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "deals.csv" {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/a.md"),
        "---\ntitle: Deals\n---\n```sql names\nSELECT deal_id, name FROM deals ORDER BY deal_id\n```\n\n{{ table(names) }}\n",
    )
    .unwrap();
    let config = dir.path().join("revintel.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[sources.import]]\nkind = \"postgres\"\nentity = \"deals\"\ntable = \"crm.deals\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"reader\"\ndbname = \"crm_live\"\n{extra}",
        server.port
    ));
    std::fs::write(&config, text).unwrap();
    dir
}

#[test]
fn a_running_watch_follows_the_database_and_survives_it_going_away() {
    let Some(bin) = server_binaries() else {
        if std::env::var_os("CI").is_some() {
            panic!("PostgreSQL server binaries are missing under /usr/lib/postgresql in CI; .ci/run must install the postgresql package");
        }
        eprintln!("\n*** SKIPPED postgres test: no PostgreSQL server binaries under /usr/lib/postgresql ***\n");
        return;
    };
    let server = Server::start(bin);
    server.psql("postgres", "CREATE DATABASE crm_live");
    server.psql("crm_live", SCHEMA);
    server.psql(
        "crm_live",
        &format!(
            "\\copy crm.deals FROM '{}' WITH (FORMAT csv, HEADER true)",
            fixture("tiny/deals.csv").display()
        ),
    );
    // Without and with a change query.
    for extra in [
        "refresh = \"1s\"\n",
        "refresh = \"1s\"\nchange_query = \"SELECT max(last_activity_date), count(*) FROM crm.deals\"\n",
    ] {
        let dir = live_project(&server, extra);
        let html = || std::fs::read_to_string(dir.path().join("out/a.html")).unwrap_or_default();
        let mut watch = {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_revintel"));
            c.env("PGPASSWORD", READER_PASSWORD)
                .env_remove("DATABASE_URL");
            crate::live::Running::start_with(c, dir.path(), &["watch"])
        };
        watch.wait_for("the first build", |l| {
            l.starts_with("rebuilt a (first build)")
        });
        assert!(html().contains("Acme Core"));
        // An UPDATE in the source table: rebuilt with the usual line.
        server.psql(
            "crm_live",
            "UPDATE crm.deals SET name = 'Acme Renamed', last_activity_date = now() WHERE deal_id = 'D1'",
        );
        let line = watch.wait_for("the rebuild after the UPDATE", |l| {
            l.starts_with("rebuilt a")
        });
        assert!(line.contains("deals changed"), "{line}");
        assert!(html().contains("Acme Renamed"), "{extra}");
        // An INSERT too.
        server.psql(
            "crm_live",
            "INSERT INTO crm.deals SELECT 'D99', 'Inserted Deal', account_id, owner_id, product_id, amount, currency, stage, forecast_category, created_date, close_date, closed_date, outcome, lead_source, deal_type, last_activity_date FROM crm.deals WHERE deal_id = 'D1'",
        );
        watch.wait_for("the rebuild after the INSERT", |l| {
            l.starts_with("rebuilt a")
        });
        assert!(html().contains("Inserted Deal"));
        // The server goes away: the error is shown, the last outputs stay.
        let before = html();
        server.stop();
        let failed = watch.wait_for("the failure", |l| l.starts_with("failed *"));
        assert!(failed.contains("last good outputs stay"), "{failed}");
        assert_eq!(html(), before);
        // Back again: the error clears by itself.
        server.restart();
        watch.wait_for("the error cleared", |l| l.starts_with("cleared *"));
        server.psql("crm_live", "DELETE FROM crm.deals WHERE deal_id = 'D99'");
        watch.wait_for("the rebuild after the DELETE", |l| {
            l.starts_with("rebuilt a")
        });
        assert!(!html().contains("Inserted Deal"));
        server.psql(
            "crm_live",
            "UPDATE crm.deals SET name = 'Acme Core', last_activity_date = now() WHERE deal_id = 'D1'",
        );
        watch.wait_for("the rebuild after the UPDATE back", |l| {
            l.starts_with("rebuilt a")
        });
    }
}
