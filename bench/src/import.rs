//! `revintel bench --import`: importing a 1,000,000-row Salesforce
//! Opportunity report export; targets ≥ 500,000 rows/s and ≤ 1.5 GiB.
//!
//! The file is generated deterministically into the scratch folder (US
//! dates, `$1,234.50` amounts, quoted names with commas, 16 columns of
//! which 13 are used; about 190 MB). Measured two ways, each against a
//! baseline from the same run:
//! * in process — the whole import as a session does it (read, decode,
//!   parse, validate, derive reps, accounts and stage history), median of
//!   three, against reading the same file with the plain `csv` crate, every
//!   field visited, no parsing;
//! * whole process — `revintel import` on the file, for its wall time and
//!   peak resident memory.

use crate::child::{median, run_child};
use anyhow::Context;
use revintel::sources::{load_sources, ImportSpec, OnFailure, SourceSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Rows in the benchmark file.
pub const ROWS: usize = 1_000_000;

const STAGES: [&str; 8] = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
    "Closed Lost",
];

/// Writes `rows` Salesforce-format rows to `path`; returns its size in bytes.
fn write_export(path: &Path, rows: usize) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(
        out,
        "Opportunity ID,Opportunity Name,Account Name,Opportunity Owner,Amount,Opportunity Currency,Stage,Forecast Category,Probability (%),Created Date,Close Date,Lead Source,Opportunity Type,Last Activity,Next Step,Fiscal Period"
    )?;
    // A small linear congruential generator: deterministic, no dependency.
    let mut x: u64 = 42;
    let mut next = |m: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % m
    };
    for i in 0..rows {
        let stage = STAGES[next(STAGES.len() as u64) as usize];
        let (cm, cd) = (next(12) + 1, next(28) + 1);
        let (close_m, close_d) = ((cm + next(6)).min(12), next(28) + 1);
        let close_d = if close_m == cm {
            close_d.max(cd)
        } else {
            close_d
        };
        let amount = next(250_000) + 1_000;
        writeln!(
            out,
            "006{i:012},\"Account {a}, Inc. - Deal {i}\",Account {a},Owner {o},\"${},{:03}.{:02}\",USD,{stage},,{p},{cm}/{cd}/2025,{close_m}/{close_d}/2025,Web,New Business,{cm}/{cd}/2025,Follow up,Q{q}-2025",
            amount / 1000,
            amount % 1000,
            next(100),
            a = next(20_000),
            o = next(400),
            p = next(100),
            q = (cm - 1) / 3 + 1,
        )?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// The baseline: the same bytes through the plain `csv` crate.
fn plain_csv_read(path: &Path) -> anyhow::Result<(usize, usize)> {
    let bytes = std::fs::read(path)?;
    let mut rdr = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
    let mut record = csv::ByteRecord::new();
    let (mut rows, mut field_bytes) = (0, 0);
    while rdr.read_byte_record(&mut record)? {
        rows += 1;
        field_bytes += record.iter().map(<[u8]>::len).sum::<usize>();
    }
    Ok((rows, field_bytes))
}

pub async fn run(exe: &Path, scratch: &Path) -> anyhow::Result<()> {
    let dir = scratch.join("import");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("opportunities.csv");
    let bytes = write_export(&file, ROWS)?;
    std::fs::write(
        dir.join("revintel.toml"),
        "[[sources.import]]\nkind = \"salesforce\"\npath = \"opportunities.csv\"\n",
    )?;
    let spec: ImportSpec = toml::from_str("kind = \"salesforce\"\npath = \"opportunities.csv\"\n")?;
    let set = SourceSet {
        root: dir.clone(),
        config: dir.join("revintel.toml"),
        folder: None,
        imports: vec![spec],
    };
    plain_csv_read(&file)?; // warm the page cache

    let mut ours = Vec::new();
    let mut baseline = Vec::new();
    let mut loaded = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let (rows, _) = std::hint::black_box(plain_csv_read(&file)?);
        baseline.push(started.elapsed());
        anyhow::ensure!(rows == ROWS, "the baseline read {rows} rows");
        let started = Instant::now();
        let assembled = load_sources(&set, None, false, OnFailure::Stop).await?;
        ours.push(started.elapsed());
        let deals = assembled
            .report
            .files
            .iter()
            .find(|f| f.table == "deals")
            .context("the import loaded deals")?;
        anyhow::ensure!(
            deals.rows_read == ROWS as u64 && deals.rows_rejected() == 0,
            "the benchmark file should load whole: {} read, {} rejected (first: {:?})",
            deals.rows_read,
            deals.rows_rejected(),
            deals.rejected.first()
        );
        loaded = deals.rows_loaded;
        drop(std::hint::black_box(assembled));
    }
    let (o, b): (Duration, Duration) = (median(ours), median(baseline));
    let rate = ROWS as f64 / o.as_secs_f64();
    let child = run_child(exe, &["import"], &dir)?;
    let gib = child.peak_rss_bytes as f64 / (1u64 << 30) as f64;
    println!(
        "import of a {ROWS}-row Salesforce export ({:.0} MB; {loaded} deals loaded, reps, accounts and stage history derived):",
        bytes as f64 / 1e6
    );
    println!(
        "  in process: {:.2} s, {:.0} rows/s (median of 3); baseline: plain csv crate read {:.2} s ({:.0} rows/s); ratio {:.1}x; target >= 500,000 rows/s: {}",
        o.as_secs_f64(),
        rate,
        b.as_secs_f64(),
        ROWS as f64 / b.as_secs_f64(),
        o.as_secs_f64() / b.as_secs_f64(),
        if rate >= 500_000.0 { "met" } else { "NOT met" }
    );
    println!(
        "  whole process `revintel import`: {:.2} s, peak RSS {:.2} GiB; target <= 1.5 GiB: {}",
        child.wall.as_secs_f64(),
        gib,
        if gib <= 1.5 { "met" } else { "NOT met" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_export_loads_whole() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("o.csv");
        write_export(&file, 2_000).unwrap();
        assert_eq!(plain_csv_read(&file).unwrap().0, 2_000);
        let spec: ImportSpec = toml::from_str("kind = \"salesforce\"\npath = \"o.csv\"\n").unwrap();
        let set = SourceSet {
            root: dir.path().to_path_buf(),
            config: dir.path().join("revintel.toml"),
            folder: None,
            imports: vec![spec],
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        let a = rt
            .block_on(load_sources(&set, None, false, OnFailure::Stop))
            .unwrap();
        let deals = a.report.files.iter().find(|f| f.table == "deals").unwrap();
        assert_eq!(
            (deals.rows_read, deals.rows_loaded),
            (2_000, 2_000),
            "{:?}",
            deals.rejected.first()
        );
    }
}
