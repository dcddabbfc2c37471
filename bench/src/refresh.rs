//! `revintel-bench --refresh`: a PostgreSQL import followed by `revintel
//! watch` (issue 18). 10,000 seeded deals live in a throw-away PostgreSQL
//! server (`crm.deals`: the seed's columns plus an indexed `last_modified`,
//! read as `reader` over TCP with SCRAM), the rest of the demo data stays CSV;
//! the import has `refresh = "1s"`, with `change_query = "SELECT
//! max(last_modified), count(*) FROM crm.deals"` or without one (the check
//! then reads all rows again and compares their content hash).
//!
//! * **Committed UPDATE → briefing rewritten.** A running `watch
//!   weekly_briefing`; 10 times per variant, one open deal's amount (+100,
//!   `last_modified = clock_timestamp()`) is committed and the time from the
//!   server's acknowledgement of the commit to the briefing's HTML and PDF
//!   both rewritten (their modification times, polled every millisecond) is
//!   taken. Each UPDATE waits for the previous rebuild to settle and then
//!   0–1 s: stratified, one random point in each tenth of a second (in a
//!   shuffled order, the same for both variants), so the 10 commits cover
//!   the refresh cycle evenly instead of wherever 10 random draws fall.
//!   Baseline, same watch: saving `stage_history.csv` (one open deal's
//!   amount) to both rewritten — a like rebuild (one deal's amount, deals
//!   re-read from PostgreSQL too), noticed at once.
//! * **One refresh check when nothing changed.** In-process: the function
//!   the watch calls (`sources::postgres::change_fingerprint`) on the import
//!   resolved from the same `revintel.toml`, 100 times in a row: wall time
//!   per check, this process's CPU, and the PostgreSQL server's (its
//!   backends, one per check, reaped by the postmaster: its children's CPU).
//!   From outside: each watch left idle 30 s, its CPU (the kernel's
//!   per-process clock) and the server's per check, the checks counted by
//!   the server (one rolled-back read-only transaction each), less the same
//!   watch's idle CPU without a refresh.

use crate::child::{median, ms, percentile, run_child_env};
use crate::pg::{connect, Killed, Postgres, PASSWORD};
use anyhow::{bail, Context};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_postgres::Client;

const DEALS: usize = 10_000;
const UPDATES: usize = 10;
const CHECKS: usize = 100;
const IDLE: Duration = Duration::from_secs(30);
const PASSWORD_ENV: &str = "REVINTEL_BENCH_PGPASSWORD";
const CHANGE_QUERY: &str = "SELECT max(last_modified), count(*) FROM crm.deals";

const SCHEMA: &str = "
CREATE SCHEMA crm;
CREATE TABLE crm.deals (deal_id text PRIMARY KEY, name text, account_id text, owner_id text NOT NULL, product_id text, amount numeric(14,2), currency char(3), stage text NOT NULL, forecast_category text, created_date date NOT NULL, close_date date, closed_date date, outcome text NOT NULL, lead_source text, deal_type text, last_activity_date timestamptz, last_modified timestamptz NOT NULL DEFAULT now());
GRANT USAGE ON SCHEMA crm TO reader;
GRANT SELECT ON crm.deals TO reader;
";

/// How the import is checked.
#[derive(Clone, Copy, PartialEq)]
enum Refresh {
    None,
    ContentHash,
    ChangeQuery,
}

impl Refresh {
    fn config(self) -> String {
        match self {
            Refresh::None => String::new(),
            Refresh::ContentHash => "refresh = \"1s\"\n".into(),
            Refresh::ChangeQuery => {
                format!("refresh = \"1s\"\nchange_query = \"{CHANGE_QUERY}\"\n")
            }
        }
    }

    fn label(self) -> &'static str {
        match self {
            Refresh::None => "no refresh",
            Refresh::ContentHash => "without change_query (content hash)",
            Refresh::ChangeQuery => "with change_query",
        }
    }
}

pub async fn run(exe: &Path, scratch: &Path) -> anyhow::Result<()> {
    let dir = scratch.join("refresh");
    let project = dir.join("project");
    crate::reports::with_briefing(&project)?;
    revintel(exe, &project, &["seed", "--deals", &DEALS.to_string()])?;

    // The deals into PostgreSQL; the seed's deals.csv goes, the rest stays.
    let postgres = Postgres::start(&dir.join("postgres"))?;
    let admin = connect(postgres.port, "admin", PASSWORD, "postgres").await?;
    admin.batch_execute("CREATE DATABASE crm").await?;
    admin
        .batch_execute(&format!("CREATE ROLE reader LOGIN PASSWORD '{PASSWORD}'"))
        .await?;
    let crm = connect(postgres.port, "admin", PASSWORD, "crm").await?;
    crm.batch_execute(SCHEMA).await?;
    let deals_csv = project.join("seeds/deals.csv");
    let csv = std::fs::read(&deals_csv)?;
    let header = csv
        .split(|&b| b == b'\n')
        .next()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .context("deals.csv has a header")?;
    let sink = crm
        .copy_in(&format!(
            "COPY crm.deals ({header}) FROM STDIN (FORMAT csv, HEADER true)"
        ))
        .await?;
    futures_util::pin_mut!(sink);
    let csv_bytes = csv.len();
    futures_util::SinkExt::send(&mut sink, bytes::Bytes::from(csv)).await?;
    let copied = sink.finish().await?;
    // Analysed now, and no autovacuum worker adding to the server's CPU.
    crm.batch_execute("CREATE INDEX deals_last_modified ON crm.deals (last_modified)")
        .await?;
    crm.batch_execute("VACUUM ANALYZE crm.deals").await?;
    admin
        .batch_execute("ALTER SYSTEM SET autovacuum = off")
        .await?;
    admin.batch_execute("SELECT pg_reload_conf()").await?;
    std::fs::remove_file(&deals_csv)?;
    let port = postgres.port;
    let config = |refresh: Refresh| -> anyhow::Result<()> {
        let extra = refresh.config();
        let text = format!(
            r#"as_of = "2026-11-23"

[sources]
folder = "seeds"

[[sources.import]]
kind = "postgres"
entity = "deals"
table = "crm.deals"
host = "127.0.0.1"
port = {port}
user = "reader"
dbname = "crm"
password_env = "{PASSWORD_ENV}"
{extra}"#
        );
        std::fs::write(project.join("revintel.toml"), text)?;
        Ok(())
    };
    config(Refresh::ChangeQuery)?;
    eprintln!("bench: first build (trains, backtests and caches scores; not measured) …");
    revintel(exe, &project, &["build", "weekly_briefing"])?;
    let mut cold = Vec::new();
    for _ in 0..3 {
        cold.push(revintel(exe, &project, &["build", "weekly_briefing"])?);
    }
    println!(
        "refresh: {} deals in PostgreSQL ({:.1} MB as CSV), the rest CSV; `watch weekly_briefing` with refresh = \"1s\" (release build, {} cores):",
        thousands(copied),
        csv_bytes as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // One check, in-process.
    let checks = check_in_process(&project, &postgres).await?;
    // For scale: the change query alone, on a connection already open.
    let mut alone = Vec::with_capacity(CHECKS);
    for _ in 0..CHECKS {
        let started = Instant::now();
        crm.simple_query(CHANGE_QUERY).await?;
        alone.push(started.elapsed());
    }

    // The latency, and each watch's cost when idle.
    let open: Vec<String> = crm
        .query(
            "SELECT deal_id FROM crm.deals WHERE outcome = 'open' ORDER BY deal_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if open.is_empty() {
        bail!("no open deals in crm.deals");
    }
    // Stratified delays: one in each tenth of the 1 s cycle.
    let delays: Vec<Duration> = {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
        let mut d: Vec<Duration> = (0..UPDATES)
            .map(|i| {
                Duration::from_secs_f64((i as f64 + rng.random_range(0.0..1.0)) / UPDATES as f64)
            })
            .collect();
        d.shuffle(&mut rng);
        d
    };
    let mut latencies = Vec::new();
    let mut idle = Vec::new();
    let (mut file_edits, mut file_renders) = (Vec::new(), Vec::new());
    for (round, refresh) in [Refresh::ChangeQuery, Refresh::ContentHash, Refresh::None]
        .into_iter()
        .enumerate()
    {
        config(refresh)?;
        let mut watch = Watch::start(exe, &project).await?;
        watch.settle(Duration::from_millis(1500)).await?;
        if refresh == Refresh::ChangeQuery {
            (file_edits, file_renders) = watch.file_edits(&project).await?;
        }
        if refresh != Refresh::None {
            let mut times = Vec::new();
            let mut renders = Vec::new();
            for i in 0..UPDATES {
                let deal = &open[((round * UPDATES + i) * 37) % open.len()];
                tokio::time::sleep(delays[i]).await;
                let before = watch.outputs();
                crm.execute(
                    "UPDATE crm.deals SET amount = amount + 100, last_modified = clock_timestamp() WHERE deal_id = $1",
                    &[deal],
                )
                .await?;
                let committed = Instant::now();
                times.push(
                    watch
                        .rewritten(before, committed, &format!("UPDATE {}", i + 1))
                        .await?,
                );
                let lines = watch.settle(Duration::from_millis(300)).await?;
                renders.extend(rebuilt_ms(&lines, "deals changed"));
            }
            latencies.push((refresh, times, renders));
        }
        watch.settle(Duration::from_millis(1500)).await?;
        idle.push((refresh, watch.idle(&admin, &postgres).await?));
    }

    println!("  one check when nothing changed ({CHECKS} in a row, in-process `change_fingerprint`, the function the watch calls: connect + SCRAM login, read-only transaction, result hashed):");
    for c in &checks {
        println!(
            "    {}: p50 {:.1} ms, p95 {:.1} ms wall; CPU per check: revintel {:.2} ms, PostgreSQL {:.2} ms{}",
            c.refresh.label(),
            ms(c.p50),
            ms(c.p95),
            ms(c.cpu),
            ms(c.server),
            if c.differing > 0 {
                format!(
                    "; {} of {CHECKS} fingerprints differed from the first (nothing changed!)",
                    c.differing
                )
            } else {
                String::new()
            }
        );
    }
    if let [with, without] = &checks[..] {
        println!(
            "    without / with change_query: wall {:.1}x, revintel CPU {:.1}x, PostgreSQL CPU {:.1}x",
            without.p50.as_secs_f64() / with.p50.as_secs_f64(),
            without.cpu.as_secs_f64() / with.cpu.as_secs_f64().max(1e-9),
            without.server.as_secs_f64() / with.server.as_secs_f64().max(1e-9)
        );
    }
    println!(
        "    for scale: the change_query alone on a connection already open: p50 {:.2} ms, p95 {:.2} ms",
        ms(median(alone.clone())),
        ms(percentile(alone, 0.95))
    );
    let baseline = idle
        .iter()
        .find(|(r, _)| *r == Refresh::None)
        .map(|(_, i)| i.cpu)
        .unwrap_or_default();
    println!(
        "  the same in a running watch left idle {} s (CPU per check, less the watch's idle CPU without refresh: {:.1} ms over {} s; checks counted by the server):",
        IDLE.as_secs(),
        ms(baseline),
        IDLE.as_secs()
    );
    for (refresh, i) in idle.iter().filter(|(r, _)| *r != Refresh::None) {
        let n = i.checks.max(1) as f64;
        println!(
            "    {}: {} checks; per check: revintel {:.2} ms, PostgreSQL {:.2} ms{}",
            refresh.label(),
            i.checks,
            ms(i.cpu.saturating_sub(baseline)) / n,
            ms(i.server) / n,
            if i.rebuilds > 0 {
                format!("; {} rebuilds while nothing changed!", i.rebuilds)
            } else {
                String::new()
            }
        );
    }
    let per_check = |r: Refresh| {
        idle.iter().find(|(x, _)| *x == r).map(|(_, i)| {
            let n = i.checks.max(1) as f64;
            (
                i.cpu.saturating_sub(baseline).as_secs_f64() / n,
                i.server.as_secs_f64() / n,
            )
        })
    };
    if let (Some(with), Some(without)) = (
        per_check(Refresh::ChangeQuery),
        per_check(Refresh::ContentHash),
    ) {
        println!(
            "    without / with change_query: revintel CPU {:.1}x, PostgreSQL CPU {:.1}x",
            without.0 / with.0.max(1e-9),
            without.1 / with.1.max(1e-9)
        );
    }
    if let Some((_, i)) = idle.iter().find(|(r, _)| *r == Refresh::None) {
        if i.checks > 0 || i.rebuilds > 0 {
            println!(
                "    (without refresh: {} checks, {} rebuilds — expected none)",
                i.checks, i.rebuilds
            );
        }
    }

    let (f50, f95) = (median(file_edits.clone()), percentile(file_edits, 0.95));
    println!("  committed UPDATE (an open deal's amount) to the briefing's HTML and PDF both rewritten, {UPDATES} per variant, committed at stratified random points of the 1 s cycle:");
    for (refresh, times, renders) in &latencies {
        let (p50, p95) = (median(times.clone()), percentile(times.clone(), 0.95));
        let render = median_ms(renders);
        println!(
            "    {}: {} ms",
            refresh.label(),
            times
                .iter()
                .map(|t| format!("{:.0}", ms(*t)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "      p50 {:.0} ms, p95 {:.0} ms; {:.1}x the file-save baseline's p50 ({} rebuilds, `deals changed`; the log's render times: p50 {render} ms)",
            ms(p50),
            ms(p95),
            p50.as_secs_f64() / f50.as_secs_f64(),
            renders.len()
        );
    }
    println!(
        "  baseline, same watch: saving stage_history.csv (an open deal's amount) to both rewritten, {UPDATES} saves: p50 {:.0} ms, p95 {:.0} ms (render times: p50 {} ms); a cold `build weekly_briefing` (median of 3): {:.0} ms",
        ms(f50),
        ms(f95),
        median_ms(&file_renders),
        ms(median(cold))
    );
    drop(postgres);
    Ok(())
}

/// `revintel ARGS` in `dir` with the database password; its wall time.
fn revintel(exe: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<Duration> {
    Ok(run_child_env(exe, args, dir, &[(PASSWORD_ENV, PASSWORD)])?.wall)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn median_ms(xs: &[u64]) -> String {
    let mut xs = xs.to_vec();
    xs.sort_unstable();
    xs.get(xs.len() / 2).map_or("?".into(), |x| x.to_string())
}

/// The render times (ms) of `rebuilt … (why): N files in T ms` lines.
fn rebuilt_ms(lines: &[String], why: &str) -> Vec<u64> {
    lines
        .iter()
        .filter(|l| l.starts_with("rebuilt") && l.contains(why))
        .filter_map(|l| l.rsplit(" in ").next()?.strip_suffix(" ms")?.parse().ok())
        .collect()
}

struct Checked {
    refresh: Refresh,
    p50: Duration,
    p95: Duration,
    cpu: Duration,
    server: Duration,
    differing: usize,
}

async fn check_in_process(project: &Path, postgres: &Postgres) -> anyhow::Result<Vec<Checked>> {
    use revintel::sources::postgres::change_fingerprint;
    let opened = revintel::project::Project::discover(project, None)?;
    let set = &opened.sources;
    let spec = set.imports.first().context("the postgres import")?;
    let mut import = spec.resolve(&set.root, &set.config)?;
    // The password the watch reads from the environment, given here as a
    // connection string holding only it (this process's environment stays
    // as it is); host, port, user and database come from the entry.
    import.spec.password_env = None;
    import.spec.url = Some(format!("password={PASSWORD}"));
    let mut out = Vec::new();
    for refresh in [Refresh::ChangeQuery, Refresh::ContentHash] {
        let mut import = import.clone();
        if refresh == Refresh::ContentHash {
            import.spec.change_query = None;
        }
        let first = change_fingerprint(&import).await?;
        for _ in 0..3 {
            change_fingerprint(&import).await?;
        }
        let (cpu0, server0) = (own_cpu()?, server_cpu(postgres)?);
        let mut walls = Vec::with_capacity(CHECKS);
        let mut differing = 0;
        for _ in 0..CHECKS {
            let started = Instant::now();
            let f = change_fingerprint(&import).await?;
            walls.push(started.elapsed());
            differing += usize::from(f != first);
        }
        let cpu = own_cpu()? - cpu0;
        // The last backend is reaped once it has exited.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let server = server_cpu(postgres)? - server0;
        out.push(Checked {
            refresh,
            p50: median(walls.clone()),
            p95: percentile(walls, 0.95),
            cpu: cpu / CHECKS as u32,
            server: server / CHECKS as u32,
            differing,
        });
    }
    Ok(out)
}

/// This process's CPU time.
fn own_cpu() -> anyhow::Result<Duration> {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Another process's CPU time (all its threads, living and ended).
fn cpu_of(pid: u32) -> anyhow::Result<Duration> {
    let mut id: libc::clockid_t = 0;
    // SAFETY: `id` is a valid place for the clock id.
    let rc = unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut id) };
    if rc != 0 {
        bail!(
            "the CPU clock of process {pid}: {}",
            std::io::Error::from_raw_os_error(rc)
        );
    }
    clock(id)
}

fn clock(id: libc::clockid_t) -> anyhow::Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid place for the time.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        bail!("clock_gettime: {}", std::io::Error::last_os_error());
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// The CPU time of the PostgreSQL server's ended children (the backends of
/// closed connections), from the postmaster's `/proc/<pid>/stat`.
fn server_cpu(postgres: &Postgres) -> anyhow::Result<Duration> {
    let pid: u32 = std::fs::read_to_string(postgres.data.join("postmaster.pid"))?
        .lines()
        .next()
        .context("postmaster.pid names the postmaster")?
        .trim()
        .parse()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("/proc/<pid>/stat")?
        .1
        .split_whitespace()
        .collect();
    // Fields 16 and 17 (cutime, cstime); the first after the name is 3.
    let ticks: u64 = fields.get(13).context("cutime")?.parse::<u64>()?
        + fields.get(14).context("cstime")?.parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(Duration::from_secs_f64(ticks as f64 / hz))
}

/// Rolled-back transactions in the `crm` database: one per check.
async fn rollbacks(admin: &Client) -> anyhow::Result<i64> {
    Ok(admin
        .query_one(
            "SELECT xact_rollback FROM pg_stat_database WHERE datname = 'crm'",
            &[],
        )
        .await?
        .get(0))
}

struct Idle {
    cpu: Duration,
    server: Duration,
    checks: i64,
    rebuilds: usize,
}

/// A running `revintel watch weekly_briefing` and its log lines.
struct Watch {
    child: Killed,
    lines: UnboundedReceiver<String>,
    html: PathBuf,
    pdf: PathBuf,
}

impl Watch {
    async fn start(exe: &Path, dir: &Path) -> anyhow::Result<Watch> {
        let mut child = Command::new(exe)
            .args(["watch", "weekly_briefing"])
            .current_dir(dir)
            .env(PASSWORD_ENV, PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting revintel watch")?;
        let stdout = child.stdout.take().context("watch's stdout")?;
        let child = Killed(child);
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut watch = Watch {
            child,
            lines,
            html: dir.join("out/weekly_briefing.html"),
            pdf: dir.join("out/weekly_briefing.pdf"),
        };
        loop {
            let line = tokio::time::timeout(Duration::from_secs(600), watch.lines.recv())
                .await
                .context("watch did not start within 600 s")?
                .context("watch ended before watching")?;
            if line.starts_with("failed") {
                bail!("watch: {line}");
            }
            if line.starts_with("watching") {
                return Ok(watch);
            }
        }
    }

    /// Log lines until none came for `quiet`.
    async fn settle(&mut self, quiet: Duration) -> anyhow::Result<Vec<String>> {
        let mut lines = Vec::new();
        while let Ok(line) = tokio::time::timeout(quiet, self.lines.recv()).await {
            let line = line.context("watch ended")?;
            if line.starts_with("failed") {
                bail!("watch: {line}");
            }
            lines.push(line);
        }
        Ok(lines)
    }

    fn outputs(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        (modified(&self.html), modified(&self.pdf))
    }

    /// Waits for the HTML and PDF both rewritten since `before`; the time
    /// since `from`.
    async fn rewritten(
        &self,
        before: (Option<SystemTime>, Option<SystemTime>),
        from: Instant,
        what: &str,
    ) -> anyhow::Result<Duration> {
        let deadline = from + Duration::from_secs(30);
        loop {
            let (html, pdf) = self.outputs();
            if html != before.0 && pdf != before.1 {
                return Ok(from.elapsed());
            }
            if Instant::now() > deadline {
                bail!("{what}: the briefing was not rewritten within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Saves to `stage_history.csv`, one open deal's amount each.
    async fn file_edits(&mut self, dir: &Path) -> anyhow::Result<(Vec<Duration>, Vec<u64>)> {
        let mut edits = crate::reports::HistoryEdits::of(dir)?;
        let (mut times, mut renders) = (Vec::new(), Vec::new());
        for edit in 0..UPDATES {
            let before = self.outputs();
            edits.save(edit)?;
            let written = Instant::now();
            times.push(
                self.rewritten(before, written, &format!("save {}", edit + 1))
                    .await?,
            );
            let lines = self.settle(Duration::from_millis(300)).await?;
            renders.extend(rebuilt_ms(&lines, "stage_history changed"));
        }
        Ok((times, renders))
    }

    /// Left alone for [`IDLE`]: its CPU, the server's, the checks it made
    /// and any rebuilds (there should be none).
    async fn idle(&mut self, admin: &Client, postgres: &Postgres) -> anyhow::Result<Idle> {
        let pid = self.child.0.id();
        let (cpu0, server0, checks0) =
            (cpu_of(pid)?, server_cpu(postgres)?, rollbacks(admin).await?);
        let deadline = tokio::time::Instant::now() + IDLE;
        let mut lines = Vec::new();
        while let Ok(line) = tokio::time::timeout_at(deadline, self.lines.recv()).await {
            lines.push(line.context("watch ended")?);
        }
        let cpu = cpu_of(pid)? - cpu0;
        let (server, checks) = (
            server_cpu(postgres)? - server0,
            rollbacks(admin).await? - checks0,
        );
        Ok(Idle {
            cpu,
            server,
            checks,
            rebuilds: lines.iter().filter(|l| l.starts_with("rebuilt")).count(),
        })
    }
}
