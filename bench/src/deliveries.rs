//! `revintel-bench --deliveries`: the weekly briefing mailed at 10,000
//! deals, to a real SMTP server (aiosmtpd, `tests/fixtures/smtp_server.py`)
//! on loopback. Issue 15's two figures, each beside a baseline taken in the
//! same run:
//!
//! * **schedule tick → server accepted**, over 10 sends. `revintel schedule`
//!   runs with the briefing due every N seconds (a six-field cron pattern in
//!   UTC, N a divisor of 60 chosen from the baseline so that a pass ends well
//!   before the next tick). The tick is the scheduled instant itself — the
//!   period the ledger records for the message, joined to the server's log by
//!   Message-ID — and acceptance is the server's `received_at` (taken when
//!   the message's DATA has arrived, just before it answers 250). Both clocks
//!   are this machine's wall clock. The send the scheduler makes on start-up
//!   (a tick that fell just before it started, within its on-time margin) is
//!   not counted: every measured tick finds the scheduler idle, like a Monday
//!   run after a quiet week. Baseline: `revintel deliver` (send now) from
//!   process start to acceptance, the same report and server.
//! * **idle memory of `revintel schedule`** (VmRSS and VmHWM from
//!   `/proc/<pid>/status`): a fresh scheduler with a weekly schedule, 10 s
//!   after start-up; and the scheduler above between its sends (just before
//!   each tick) and after the 10 sends. Baselines: the peak RSS of
//!   `revintel --version` (the binary's floor) and of one `revintel deliver`.
//!
//! The project is seeded and built first (`build weekly_briefing` trains,
//! backtests and caches scores), so the sends measured are steady-state.

use crate::child::{median, ms, percentile, run_child};
use anyhow::{bail, Context};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Measured sends, and runs of the `deliver` baseline.
const SENDS: usize = 10;
/// How long before a tick the scheduler's idle memory is read.
const BEFORE_TICK: f64 = 0.25;
/// The real SMTP server the test suite uses.
const SMTP_SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/smtp_server.py"
);
const MIB: f64 = (1u64 << 20) as f64;

pub async fn run(exe: &Path, scratch: &Path) -> anyhow::Result<()> {
    let dir = scratch.join("deliveries");
    crate::reports::with_briefing(&dir)?;
    let server = Smtp::start(scratch)?;
    run_child(exe, &["seed", "--deals", "10000"], &dir)?;
    eprintln!("bench: first build (trains, backtests and caches scores; not measured) …");
    run_child(exe, &["build", "weekly_briefing"], &dir)?;

    // Idle memory of a fresh scheduler whose delivery is not due for days.
    write_config(
        &dir,
        "weekly_idle",
        Some(("0 7 * * MON", "Europe/Berlin")),
        server.port,
    )?;
    let fresh = idle_fresh(exe, &dir, &server)?;

    // Baselines: send now, and the process floor.
    write_config(&dir, "now", None, server.port)?;
    let floor = run_child(exe, &["--version"], &dir)?.peak_rss_bytes;
    deliver_now(exe, &dir, &server)?; // warm-up: first write of out/deliveries/now/
    let mut now_latency = Vec::with_capacity(SENDS);
    let mut now_wall = Vec::with_capacity(SENDS);
    let mut now_peak = Vec::with_capacity(SENDS);
    let mut build_wall = Vec::with_capacity(SENDS);
    for _ in 0..SENDS {
        let (latency, run) = deliver_now(exe, &dir, &server)?;
        now_latency.push(latency);
        now_wall.push(run.wall);
        now_peak.push(run.peak_rss_bytes);
        build_wall.push(run_child(exe, &["build", "weekly_briefing"], &dir)?.wall);
    }
    now_peak.sort_unstable();
    let (n50, n95) = (median(now_latency.clone()), percentile(now_latency, 0.95));
    let interval = interval_for(n95);

    // The scheduler, due every `interval` seconds.
    let pattern = if interval == 60 {
        "0 * * * * *".to_string()
    } else {
        format!("*/{interval} * * * * *")
    };
    write_config(&dir, "weekly", Some((&pattern, "UTC")), server.port)?;
    let ticked = ticks(exe, &dir, &server, interval)?;

    let mut latencies = Vec::with_capacity(ticked.sends.len());
    for (tick, accepted) in &ticked.sends {
        let seconds = accepted - *tick as f64;
        if seconds < 0.0 {
            bail!(
                "the server accepted the message for the tick at {} {:.3} s BEFORE the tick: the scheduler sent early",
                rfc3339(*tick),
                -seconds
            );
        }
        latencies.push(Duration::from_secs_f64(seconds));
    }
    let (t50, t95) = (
        median(latencies.clone()),
        percentile(latencies.clone(), 0.95),
    );

    println!(
        "deliveries: the weekly briefing at 10,000 deals (HTML body, PDF attached) to aiosmtpd on loopback:"
    );
    println!(
        "  baseline `revintel deliver` (send now), process start to server acceptance ({SENDS} runs): p50 {:.1} ms, p95 {:.1} ms; process exit p50 {:.1} ms; `build weekly_briefing` alone p50 {:.1} ms",
        ms(n50),
        ms(n95),
        ms(median(now_wall)),
        ms(median(build_wall)),
    );
    println!(
        "  `revintel schedule` ({pattern:?} UTC), schedule tick to server acceptance, {} sends:",
        latencies.len()
    );
    println!(
        "    {}",
        ticked
            .sends
            .iter()
            .zip(&latencies)
            .map(|((tick, _), l)| format!("{} {:.1} ms", &rfc3339(*tick)[11..19], ms(*l)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "    p50 {:.1} ms, p95 {:.1} ms; ratio p50 to the `deliver` baseline's p50: {:.2}x",
        ms(t50),
        ms(t95),
        t50.as_secs_f64() / n50.as_secs_f64()
    );
    println!(
        "    not counted: the start-up send (tick {}, due as the scheduler started); ticks superseded while a pass ran: {}",
        rfc3339(ticked.startup_tick),
        ticked.superseded
    );
    println!("idle memory of `revintel schedule`:");
    println!(
        "  fresh (weekly schedule, nothing due), 10 s after start-up: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        fresh.rss as f64 / MIB,
        fresh.hwm as f64 / MIB
    );
    let between: Vec<String> = ticked
        .idle
        .iter()
        .map(|r| format!("{:.1}", *r as f64 / MIB))
        .collect();
    println!(
        "  between sends, {BEFORE_TICK} s before each tick (MiB): {}",
        between.join(", ")
    );
    println!(
        "  after the {} sends: VmRSS {:.1} MiB; VmHWM {:.1} MiB (its peak, while sending)",
        latencies.len(),
        ticked.after.rss as f64 / MIB,
        ticked.after.hwm as f64 / MIB
    );
    println!(
        "  baselines: `revintel --version` peak RSS {:.1} MiB (fresh idle {:.2}x, after sends {:.2}x); one `revintel deliver` peak RSS {:.1} MiB (after sends {:.2}x)",
        floor as f64 / MIB,
        fresh.rss as f64 / floor as f64,
        ticked.after.rss as f64 / floor as f64,
        now_peak[now_peak.len() / 2] as f64 / MIB,
        ticked.after.rss as f64 / now_peak[now_peak.len() / 2] as f64,
    );
    drop(server);
    Ok(())
}

/// The smallest divisor of 60 (seconds) that leaves at least twice the
/// baseline's p95 between ticks, so each tick finds the scheduler idle.
fn interval_for(deliver_p95: Duration) -> u64 {
    [5, 6, 10, 12, 15, 20, 30, 60]
        .into_iter()
        .find(|n| *n as f64 >= 2.0 * deliver_p95.as_secs_f64())
        .unwrap_or(60)
}

/// Writes `revintel.toml` with one delivery of the weekly briefing to the
/// server (`schedule`: its cron pattern and time zone).
fn write_config(
    dir: &Path,
    name: &str,
    schedule: Option<(&str, &str)>,
    port: u16,
) -> anyhow::Result<()> {
    let schedule = schedule
        .map(|(pattern, zone)| format!("schedule = \"{pattern}\"\ntimezone = \"{zone}\"\n"))
        .unwrap_or_default();
    let config = format!(
        "[[deliveries]]\nname = \"{name}\"\ntemplate = \"weekly_briefing\"\n\
         from = \"revintel <revintel@example.com>\"\nto = [\"vp.sales@example.com\"]\n\
         subject = \"Pipeline {{{{ as_of | date }}}}: P50 {{{{ quarter.rows[0].p50 | money }}}}\"\n\
         {schedule}\
         [deliveries.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n"
    );
    std::fs::write(dir.join("revintel.toml"), config)?;
    Ok(())
}

/// One `revintel deliver --force`: from just before the process starts to
/// the server's acceptance of its one message.
fn deliver_now(
    exe: &Path,
    dir: &Path,
    server: &Smtp,
) -> anyhow::Result<(Duration, crate::child::ChildRun)> {
    let before = server.received()?.len();
    let started = unix(SystemTime::now());
    let run = run_child(exe, &["deliver", "--force"], dir).map_err(|e| {
        let status = Command::new(exe)
            .args(["deliver", "--status"])
            .current_dir(dir)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        e.context(format!("`revintel deliver --status`:\n{status}"))
    })?;
    let received = server.received()?;
    if received.len() != before + 1 {
        bail!(
            "`revintel deliver` reported success, but the server received {} message(s), not 1",
            received.len() - before
        );
    }
    let latency = received[before].received_at - started;
    Ok((Duration::from_secs_f64(latency.max(0.0)), run))
}

/// VmRSS and VmHWM of a running process.
#[derive(Clone, Copy)]
struct Memory {
    rss: u64,
    hwm: u64,
}

fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("{line:?}"))?;
        Ok(kib * 1024)
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        hwm: field("VmHWM:")?,
    })
}

/// `revintel schedule` in `dir`, its stderr lines (with when each was read)
/// on a channel; stopped with SIGTERM when dropped.
struct Scheduler {
    child: Child,
    lines: Receiver<(SystemTime, String)>,
    /// Every stderr line so far, for an error message.
    seen: Vec<String>,
}

impl Scheduler {
    fn start(exe: &Path, dir: &Path) -> anyhow::Result<Scheduler> {
        let mut child = Command::new(exe)
            .arg("schedule")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting revintel schedule")?;
        let stderr = child.stderr.take().context("its stderr")?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send((SystemTime::now(), line)).is_err() {
                    break;
                }
            }
        });
        Ok(Scheduler {
            child,
            lines,
            seen: Vec::new(),
        })
    }

    /// The next stderr line, waiting up to `timeout`; an `error:` line fails.
    fn next_line(&mut self, timeout: Duration) -> anyhow::Result<Option<(SystemTime, String)>> {
        match self.lines.recv_timeout(timeout) {
            Ok((at, line)) => {
                self.seen.push(line.clone());
                if line.starts_with("error") {
                    bail!("revintel schedule: {line}\n{}", self.seen.join("\n"));
                }
                Ok(Some((at, line)))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => bail!(
                "revintel schedule ended: {:?}\n{}",
                self.child.try_wait(),
                self.seen.join("\n")
            ),
        }
    }

    /// Waits for a line containing `what`.
    fn wait_for(&mut self, what: &str, timeout: Duration) -> anyhow::Result<SystemTime> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Some((at, line)) = self.next_line(left)? {
                if line.contains(what) {
                    return Ok(at);
                }
            }
        }
        bail!(
            "revintel schedule said no {what:?} within {timeout:?}:\n{}",
            self.seen.join("\n")
        )
    }

    /// SIGTERM (a pass in progress finishes first), then its exit.
    fn stop(mut self) -> anyhow::Result<()> {
        // SAFETY: kill(2) with our own child's pid and a valid signal.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("revintel schedule stopped with {status}");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("revintel schedule did not stop within 120 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A fresh scheduler with nothing due: its memory after 10 s of idling.
fn idle_fresh(exe: &Path, dir: &Path, server: &Smtp) -> anyhow::Result<Memory> {
    let before = server.received()?.len();
    let mut s = Scheduler::start(exe, dir)?;
    s.wait_for("schedule: weekly_idle at", Duration::from_secs(60))?;
    let until = Instant::now() + Duration::from_secs(10);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        s.next_line(left)?;
    }
    let m = memory(s.child.id())?;
    s.stop()?;
    if server.received()?.len() != before {
        bail!("the idle scheduler sent a message (started within a minute of Monday 07:00 Berlin?); run again");
    }
    Ok(m)
}

struct Ticked {
    /// Each measured send: its tick (Unix seconds) and the server's acceptance.
    sends: Vec<(i64, f64)>,
    startup_tick: i64,
    superseded: usize,
    /// VmRSS just before each tick while measuring.
    idle: Vec<u64>,
    /// After the last measured send's pass, before the next tick.
    after: Memory,
}

/// Runs the scheduler, due every `interval` seconds, for [`SENDS`] sends
/// after its start-up send.
fn ticks(exe: &Path, dir: &Path, server: &Smtp, interval: u64) -> anyhow::Result<Ticked> {
    let name = "weekly";
    let mut s = Scheduler::start(exe, dir)?;
    let pid = s.child.id();
    eprintln!(
        "bench: revintel schedule, due every {interval} s, for {SENDS} sends (about {} s) …",
        interval * (SENDS as u64 + 1)
    );
    // The start-up send: the latest tick, which fell before the process ran
    // (or as it started). Measured ticks come after it has ended.
    let ready = unix(s.wait_for(": sent to ", Duration::from_secs(120))?);
    let timeout = Duration::from_secs(interval * (SENDS as u64 + 5) + 120);
    let deadline = Instant::now() + timeout;
    let step = interval as f64;
    let mut next_tick = (ready / step).floor() * step + step;
    let mut sent_lines = 0usize;
    let mut last_sent = ready;
    let mut idle = Vec::new();
    let after = loop {
        if Instant::now() > deadline {
            bail!(
                "{SENDS} scheduled sends did not arrive within {timeout:?}:\n{}",
                s.seen.join("\n")
            );
        }
        while let Some((at, line)) = s.next_line(Duration::ZERO)? {
            if line.contains(": sent to ") {
                sent_lines += 1;
                last_sent = unix(at);
            }
        }
        let now = unix(SystemTime::now());
        if now >= next_tick - BEFORE_TICK {
            if now < next_tick {
                // Idle when a pass ended after the previous tick (else one
                // is still running).
                if last_sent > next_tick - step {
                    let m = memory(pid)?;
                    if sent_lines >= SENDS {
                        break m;
                    }
                    idle.push(m.rss);
                }
            }
            next_tick = ((now + BEFORE_TICK) / step).floor() * step + step;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    s.stop()?;

    // Ticks from the ledger (the period each message was for), acceptance
    // from the server, joined by Message-ID.
    let ledger = revintel::delivery::ledger::Ledger::load(&revintel::delivery::ledger::path(dir))?;
    let received = server.received()?;
    let mut sends = Vec::new();
    let mut startup = Vec::new();
    for e in ledger.entries.iter().filter(|e| e.delivery == name) {
        if e.state != revintel::delivery::ledger::State::Sent {
            bail!("ledger entry not sent: {e:?}");
        }
        let tick = chrono::DateTime::parse_from_rfc3339(&e.period)
            .with_context(|| format!("period {:?}", e.period))?
            .timestamp();
        let copies: Vec<_> = received
            .iter()
            .filter(|r| r.message_id == e.message_id)
            .collect();
        if copies.len() != 1 {
            bail!(
                "the server holds {} copies of the message for {}",
                copies.len(),
                e.period
            );
        }
        if (tick as f64) < ready {
            startup.push(tick);
        } else {
            sends.push((tick, copies[0].received_at));
        }
    }
    if startup.len() != 1 {
        bail!("expected one start-up send, the ledger has {startup:?}");
    }
    sends.sort_by_key(|(tick, _)| *tick);
    // The tick after the last measured one may have fired as it stopped.
    sends.truncate(SENDS);
    if sends.len() < SENDS {
        bail!("only {} scheduled sends in the ledger", sends.len());
    }
    let superseded = sends
        .windows(2)
        .map(|w| ((w[1].0 - w[0].0) / interval as i64 - 1).max(0) as usize)
        .sum();
    Ok(Ticked {
        sends,
        startup_tick: startup[0],
        superseded,
        idle,
        after,
    })
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| seconds.to_string())
}

/// One message the server accepted.
struct Received {
    message_id: String,
    /// Unix seconds, the server's clock.
    received_at: f64,
}

/// `tests/fixtures/smtp_server.py` on 127.0.0.1 and a free port, keeping
/// messages under `scratch/mail/`; stopped with SIGTERM when dropped.
struct Smtp {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Smtp {
    fn start(scratch: &Path) -> anyhow::Result<Smtp> {
        let script = Path::new(SMTP_SERVER);
        if !script.is_file() {
            bail!(
                "{} is missing (the bench runs from the repository's build)",
                script.display()
            );
        }
        let has_aiosmtpd = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_aiosmtpd {
            bail!("python3 cannot import aiosmtpd (python3 -m pip install aiosmtpd)");
        }
        let dir = scratch.join("mail");
        std::fs::create_dir_all(&dir)?;
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", "0", "--dir"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(scratch.join("smtp-stderr.log"))?)
            .spawn()
            .context("starting python3 smtp_server.py")?;
        let stdout = child.stdout.take().context("its stdout")?;
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            lines.for_each(drop);
        });
        let mut server = Smtp {
            child,
            port: 0,
            dir,
        };
        server.port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(Ok(line))) => line
                .strip_prefix("PORT ")
                .and_then(|p| p.parse().ok())
                .with_context(|| format!("smtp_server.py said {line:?}, not `PORT <n>`"))?,
            _ => bail!(
                "smtp_server.py did not print its port: {}",
                std::fs::read_to_string(scratch.join("smtp-stderr.log")).unwrap_or_default()
            ),
        };
        Ok(server)
    }

    /// Every message accepted so far, in order (complete log lines only).
    fn received(&self) -> anyhow::Result<Vec<Received>> {
        let log = match std::fs::read_to_string(self.dir.join("log.jsonl")) {
            Ok(log) => log,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        log.split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line)
                    .with_context(|| format!("log.jsonl line {line:?}"))?;
                Ok(Received {
                    message_id: v["message_id"].as_str().unwrap_or_default().to_string(),
                    received_at: v["received_at"]
                        .as_f64()
                        .context("log.jsonl has no received_at")?,
                })
            })
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        // SAFETY: kill(2) with our own child's pid and a valid signal.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
