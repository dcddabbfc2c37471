//! `revintel-bench --pg`: the PostgreSQL endpoint (`revintel pg`).
//!
//! * `SELECT count(*) FROM scored_deals` over the wire (tokio-postgres, one
//!   round trip per query), p50 and p95, with 1 client and with 50 at once,
//!   against the same query run in-process on the same data;
//! * rows per second streaming `SELECT * FROM deal_features` at 1,000,000
//!   deals (`--pg-deals`) over the wire, against PostgreSQL itself (a throw-away server
//!   started here with `initdb`/`pg_ctl`) serving the same rows to the same
//!   client. The goal is within 2× of PostgreSQL.

use crate::child::{median, ms, percentile, run_child};
use anyhow::{bail, Context};
use futures_util::{pin_mut, TryStreamExt};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

pub(crate) const PASSWORD: &str = "bench-secret";

/// A child process killed when dropped.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `revintel pg --port 0` in `dir`; its port.
fn start_endpoint(exe: &Path, dir: &Path) -> anyhow::Result<(Killed, u16)> {
    let mut child = Command::new(exe)
        .args(["pg", "--port", "0"])
        .current_dir(dir)
        .env("REVINTEL_PG_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting revintel pg")?;
    let stdout = child.stdout.take().context("its stdout")?;
    let child = Killed(child);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("serving PostgreSQL clients on ") {
            let port = rest
                .split([' ', ':'])
                .nth(1)
                .and_then(|p| p.parse().ok())
                .context("a port")?;
            return Ok((child, port));
        }
    }
    bail!("revintel pg ended before serving")
}

pub(crate) async fn connect(
    port: u16,
    user: &str,
    password: &str,
    db: &str,
) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user={user} password={password} dbname={db}"),
        NoTls,
    )
    .await?;
    tokio::spawn(connection);
    Ok(client)
}

fn stats(label: &str, xs: &[Duration], baseline: Duration) {
    let p50 = median(xs.to_vec());
    println!(
        "  {label}: p50 {:.2} ms, p95 {:.2} ms ({} queries; p50 {:.1}x in-process)",
        ms(p50),
        ms(percentile(xs.to_vec(), 0.95)),
        xs.len(),
        p50.as_secs_f64() / baseline.as_secs_f64()
    );
}

pub async fn run(exe: &Path, scratch: &Path, runs: usize, deals: usize) -> anyhow::Result<()> {
    latency(exe, &scratch.join("pg-demo"), runs.max(10) * 10).await?;
    streaming(exe, &scratch.join("pg-stream"), runs.clamp(1, 5), deals).await
}

const COUNT: &str = "SELECT count(*) FROM scored_deals";

async fn latency(exe: &Path, demo: &Path, queries: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(demo)?;
    run_child(exe, &["seed"], demo)?;
    run_child(exe, &["train"], demo)?;

    let project = revintel::project::Project::discover(demo, None)?;
    let opened =
        revintel::open::open(&project, revintel::open::ModelUse::Required, &|_| {}).await?;
    let ctx = opened.session.ctx;
    let mut here = Vec::new();
    for _ in 0..queries {
        let started = Instant::now();
        ctx.sql(COUNT).await?.collect().await?;
        here.push(started.elapsed());
    }
    let baseline = median(here.clone());

    let (_server, port) = start_endpoint(exe, demo)?;
    println!("`{COUNT}` on the 5,000-deal demo:");
    println!(
        "  in-process: p50 {:.2} ms, p95 {:.2} ms ({queries} queries)",
        ms(baseline),
        ms(percentile(here, 0.95))
    );
    let one = connect(port, "revintel", PASSWORD, "revintel").await?;
    one.simple_query(COUNT).await?; // warm
    let mut wire = Vec::new();
    for _ in 0..queries {
        let started = Instant::now();
        one.simple_query(COUNT).await?;
        wire.push(started.elapsed());
    }
    stats("over the wire, 1 client", &wire, baseline);

    let per_client = (queries / 50).max(5);
    let together = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let mut clients = Vec::new();
    for _ in 0..50 {
        let together = together.clone();
        clients.push(tokio::spawn(async move {
            let client = connect(port, "revintel", PASSWORD, "revintel").await?;
            together.wait().await;
            let mut times = Vec::new();
            for _ in 0..per_client {
                let started = Instant::now();
                client.simple_query(COUNT).await?;
                times.push(started.elapsed());
            }
            anyhow::Ok(times)
        }));
    }
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await??);
    }
    stats("over the wire, 50 clients at once", &all, baseline);
    Ok(())
}

/// The newest PostgreSQL server binaries installed.
fn server_binaries() -> anyhow::Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL server binaries under /usr/lib/postgresql")?
        .filter_map(|e| {
            let e = e.ok()?;
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .context("no initdb under /usr/lib/postgresql/*/bin")
}

/// A throw-away PostgreSQL server on a free port (as the `postgres` user
/// when running as root, which initdb refuses); stopped when dropped.
pub(crate) struct Postgres {
    bin: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) port: u16,
    as_postgres: bool,
}

impl Postgres {
    fn tool(&self, name: &str) -> Command {
        let exe = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    pub(crate) fn start(dir: &Path) -> anyhow::Result<Postgres> {
        std::fs::create_dir_all(dir)?;
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD)?;
        if as_postgres {
            let id = |flag: &str| -> anyhow::Result<u32> {
                let o = Command::new("id").args([flag, "postgres"]).output()?;
                Ok(String::from_utf8_lossy(&o.stdout).trim().parse()?)
            };
            let (uid, gid) = (id("-u")?, id("-g")?);
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let server = Postgres {
            bin: server_binaries()?,
            data: dir.join("data"),
            port,
            as_postgres,
        };
        let check = |mut c: Command, what: &str| -> anyhow::Result<()> {
            let o = c.output()?;
            if !o.status.success() {
                bail!("{what}: {}", String::from_utf8_lossy(&o.stderr));
            }
            Ok(())
        };
        let mut initdb = server.tool("initdb");
        initdb
            .arg("-D")
            .arg(&server.data)
            .args([
                "-U",
                "admin",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "--pwfile",
            ])
            .arg(&pwfile);
        check(initdb, "initdb")?;
        let mut start = server.tool("pg_ctl");
        start
            .arg("-D")
            .arg(&server.data)
            .args(["-w", "-l"])
            .arg(dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -c listen_addresses=127.0.0.1 -k {}",
                dir.display()
            ))
            .arg("start");
        check(start, "pg_ctl start")?;
        Ok(server)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// Rows of `sql` streamed to the client (binary, extended protocol), and
/// how long that took.
async fn stream(client: &Client, sql: &str) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let rows = client
        .query_raw(
            sql,
            std::iter::empty::<&(dyn tokio_postgres::types::ToSql + Sync)>(),
        )
        .await?;
    pin_mut!(rows);
    let mut n = 0u64;
    while rows.try_next().await?.is_some() {
        n += 1;
    }
    Ok((n, started.elapsed()))
}

const FEATURES: &str = "SELECT * FROM deal_features";

async fn streaming(exe: &Path, dir: &Path, runs: usize, deals: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let project = dir.join("project");
    std::fs::create_dir_all(&project)?;
    run_child(exe, &["seed", "--deals", &deals.to_string()], &project)?;
    let (_server, port) = start_endpoint(exe, &project)?;
    let ours = connect(port, "revintel", PASSWORD, "revintel").await?;

    // The same rows into PostgreSQL, in the types the endpoint reports.
    let postgres = Postgres::start(&dir.join("postgres"))?;
    let theirs = connect(postgres.port, "admin", PASSWORD, "postgres").await?;
    let described = ours.prepare(FEATURES).await?;
    let columns: Vec<String> = described
        .columns()
        .iter()
        .map(|c| format!("\"{}\" {}", c.name(), c.type_().name()))
        .collect();
    theirs
        .batch_execute(&format!(
            "CREATE UNLOGGED TABLE deal_features ({})",
            columns.join(", ")
        ))
        .await?;
    let csv = Command::new(exe)
        .args(["sql", "--format", "csv", "-c", FEATURES])
        .current_dir(&project)
        .output()?;
    if !csv.status.success() {
        bail!(
            "exporting deal_features: {}",
            String::from_utf8_lossy(&csv.stderr)
        );
    }
    let sink = theirs
        .copy_in("COPY deal_features FROM STDIN (FORMAT csv, HEADER true)")
        .await?;
    pin_mut!(sink);
    futures_util::SinkExt::send(&mut sink, bytes::Bytes::from(csv.stdout)).await?;
    sink.finish().await?;
    theirs.batch_execute("VACUUM ANALYZE deal_features").await?;

    println!("streaming `{FEATURES}` at {deals} deals (tokio-postgres, binary rows):");
    // The endpoint computes deal_features once per snapshot, in the
    // background from its start (`KEPT_VIEWS` in engine/src/pg/snapshot.rs): run 1 waits for
    // whatever of that work is left; later runs are what any tool pulling
    // the view sees once it is ready.
    let mut ratios = Vec::with_capacity(runs);
    for run in 1..=runs {
        let (n_ours, t_ours) = stream(&ours, FEATURES).await?;
        let (n_theirs, t_theirs) = stream(&theirs, FEATURES).await?;
        if n_ours != n_theirs {
            bail!("{n_ours} rows from revintel, {n_theirs} from PostgreSQL");
        }
        let (r_ours, r_theirs) = (
            n_ours as f64 / t_ours.as_secs_f64(),
            n_theirs as f64 / t_theirs.as_secs_f64(),
        );
        let ratio = r_theirs / r_ours;
        if run > 1 {
            ratios.push(ratio);
        }
        println!(
            "  run {run}{}: revintel {:.0} rows/s ({n_ours} rows, {:.2} s); PostgreSQL {:.0} rows/s ({:.2} s); PostgreSQL is {:.2}x as fast (goal ≤ 2x)",
            if run == 1 { " (first read: waits for the view if not ready)" } else { "" },
            r_ours,
            t_ours.as_secs_f64(),
            r_theirs,
            t_theirs.as_secs_f64(),
            ratio
        );
    }
    if !ratios.is_empty() {
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        println!(
            "  after the first read, median over {} runs: PostgreSQL is {median:.2}x as fast; goal ≤ 2x: {}",
            ratios.len(),
            if median <= 2.0 { "met" } else { "NOT met" }
        );
    }
    drop(postgres);
    Ok(())
}
