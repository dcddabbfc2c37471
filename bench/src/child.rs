//! Measuring a whole `revintel` process: its wall time and peak resident
//! memory (from `wait4`), and the statistics the benchmarks print.

use anyhow::{bail, Context};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall time and peak resident memory of a finished child process.
pub struct ChildRun {
    pub wall: Duration,
    pub peak_rss_bytes: u64,
}

pub fn run_child(exe: &Path, args: &[&str], cwd: &Path) -> anyhow::Result<ChildRun> {
    run_child_env(exe, args, cwd, &[])
}

/// [`run_child`] with `env` added to the child's environment.
pub fn run_child_env(
    exe: &Path,
    args: &[&str],
    cwd: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<ChildRun> {
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    // Read while it runs: a child writing more than a pipe holds would
    // otherwise wait for us while we wait for it.
    let mut stderr = child.stderr.take().context("the child's stderr")?;
    let said = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unwaited child; both pointers are valid for writes.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if waited != pid {
        bail!(
            "waiting for {}: {}",
            exe.display(),
            std::io::Error::last_os_error()
        );
    }
    let said = said.join().unwrap_or_default();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!(
            "`revintel {}` failed (status {status}): {said}",
            args.join(" ")
        );
    }
    // Linux reports ru_maxrss in KiB.
    Ok(ChildRun {
        wall,
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
    })
}

pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

pub fn percentile(mut xs: Vec<Duration>, p: f64) -> Duration {
    xs.sort();
    let i = ((xs.len() as f64 - 1.0) * p).round() as usize;
    xs[i]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
