//! `revintel bench --stream`: streaming a large result as CSV.
//!
//! The 25,000,000-row cross join of the demo's 5,000 deals, written as CSV
//! to /dev/null by a whole `revintel sql` process: its rows per second and
//! peak resident memory, against baselines measured in the same run — the
//! same join only counted (the engine's own speed, no output), a trivial
//! query's memory (the process's floor), and a fifth of the rows (memory
//! must not grow with the row count).

use crate::child::{run_child, ChildRun};
use std::path::Path;

const ALL: &str = "SELECT a.*, b.* FROM deals a, deals b";
const FIFTH: &str = "SELECT a.*, b.* FROM deals a, (SELECT * FROM deals LIMIT 1000) b";
const COUNTED: &str =
    "SELECT sum(length(a.deal_id) + length(b.name) + length(b.stage)) FROM deals a, deals b";

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn csv(exe: &Path, demo: &Path, sql: &str) -> anyhow::Result<ChildRun> {
    run_child(exe, &["sql", "--format", "csv", "-c", sql], demo)
}

pub async fn run(exe: &Path, scratch: &Path, runs: usize) -> anyhow::Result<()> {
    let demo = scratch.join("stream");
    std::fs::create_dir_all(&demo)?;
    run_child(exe, &["seed"], &demo)?;
    let rows = 5_000u64 * 5_000;
    let floor = csv(exe, &demo, "SELECT 1")?;
    println!("streaming `sql --format csv` of a {rows}-row cross join to /dev/null ({runs} runs):");
    for run in 1..=runs {
        let all = csv(exe, &demo, ALL)?;
        let fifth = csv(exe, &demo, FIFTH)?;
        let counted = csv(exe, &demo, COUNTED)?;
        let rate = rows as f64 / all.wall.as_secs_f64();
        println!(
            "  run {run}: {:.0} rows/s ({:.1} s); summing over the same join without output {:.1} s (ratio {:.2}x)",
            rate,
            all.wall.as_secs_f64(),
            counted.wall.as_secs_f64(),
            all.wall.as_secs_f64() / counted.wall.as_secs_f64()
        );
        println!(
            "         peak RSS {:.0} MiB (goal ≤ 300 MiB); 5,000,000 rows {:.0} MiB (ratio {:.2}x); `SELECT 1` {:.0} MiB",
            mib(all.peak_rss_bytes),
            mib(fifth.peak_rss_bytes),
            all.peak_rss_bytes as f64 / fifth.peak_rss_bytes as f64,
            mib(floor.peak_rss_bytes)
        );
    }
    Ok(())
}
