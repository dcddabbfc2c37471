//! Deterministic demo data for `revintel seed`: a sales org, its customers and
//! three years of deals with full stage history, written as CSV files.
//!
//! The data is made to be *modelled*: whether an open deal is won, and when,
//! depends on things visible at any past snapshot (velocity, stagnation,
//! close-date pushes, the owner's track record, relative deal size, stage,
//! deal type, lead source), plus noise, so win-probability and forecast models
//! have real signal to find and can be backtested. The generating process is
//! described in `deals.rs` (who and what), `stages.rs` (how a deal moves,
//! slips, stalls and closes) and `params.rs` (every tuned number).
//!
//! The same options always give byte-identical files: every deal draws from
//! its own RNG stream keyed by (seed, deal index), so the output does not
//! depend on the number of worker threads. Deals are simulated in chunks and
//! streamed to disk in order, so memory stays flat however many are asked for.
//!
//! It does not read or merge existing data, and it models no currencies other
//! than USD, no rep departures and no deal reassignment.

mod calendar;
mod catalogue;
mod deals;
mod encode;
mod lifecycle;
mod names;
mod params;
mod stages;
mod world;
mod write;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::thread;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use calendar::{Calendar, CreationSchedule};
use catalogue::PRODUCTS;
use deals::DealSimulator;
use encode::{row_writer, DealEncoder, RowWriter};
use lifecycle::Stage;
use world::World;
use write::AtomicFile;

/// Number of deals `revintel seed` generates by default.
pub const DEFAULT_DEALS: usize = 5_000;
/// The most deals the generator makes (about 4 GB of CSV).
pub const MAX_DEALS: usize = 10_000_000;
/// Seed `revintel seed` uses by default.
pub const DEFAULT_SEED: u64 = 42;

/// The default as-of date of the demo data: 2026-11-23.
pub fn default_as_of() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("2026-11-23 is a valid date")
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOptions {
    /// Number of deals, created over the three years up to `as_of`.
    pub deals: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// The "today" of the data: nothing happens after it.
    pub as_of: chrono::NaiveDate,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            deals: DEFAULT_DEALS,
            seed: DEFAULT_SEED,
            as_of: default_as_of(),
        }
    }
}

/// Row counts of what was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSummary {
    /// Rows of `deals.csv`.
    pub deals: usize,
    /// Deals closed won by the as-of date.
    pub won: usize,
    /// Deals closed lost by the as-of date.
    pub lost: usize,
    /// Deals still open at the as-of date.
    pub open: usize,
    /// Rows of `stage_history.csv`.
    pub stage_history_rows: usize,
    /// Rows of `accounts.csv`.
    pub accounts: usize,
    /// Rows of `reps.csv`.
    pub reps: usize,
    /// Rows of `products.csv`.
    pub products: usize,
}

/// Why demo data could not be written. The underlying error is part of the
/// message (not a separate `source`) so that a plain `{}` tells the whole story.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The options make no sense, e.g. zero deals.
    #[error("invalid seed options: {0}")]
    InvalidOptions(String),
    /// The output folder could not be created.
    #[error("cannot create output folder {}: {cause}", path.display())]
    CreateDir { path: PathBuf, cause: io::Error },
    /// A file could not be written.
    #[error("cannot write {}: {cause}", path.display())]
    Write { path: PathBuf, cause: io::Error },
    /// A finished file could not be moved to its final name.
    #[error("cannot move {} to {}: {cause}", from.display(), to.display())]
    Rename {
        from: PathBuf,
        to: PathBuf,
        cause: io::Error,
    },
    /// A table could not be encoded as CSV.
    #[error("cannot encode {table} as CSV: {cause}")]
    Encode {
        table: &'static str,
        cause: csv::Error,
    },
    /// The manifest could not be encoded as JSON.
    #[error("cannot encode manifest.json: {0}")]
    Manifest(serde_json::Error),
}

/// Identifies this generator (and its version of the process) in `manifest.json`.
const GENERATOR: &str = "revintel-seed/1";
/// RNG streams of the fixed cast and of the creation schedule; deals use
/// streams `0..deals`, so these sit at the other end.
const WORLD_STREAM: u64 = u64::MAX;
const SCHEDULE_STREAM: u64 = u64::MAX - 1;
/// Deals per unit of work: big enough to amortise a thread, small enough
/// that a batch of encoded chunks stays a few megabytes.
const CHUNK_DEALS: usize = 4_096;

/// Generates the demo data set into `dir` (created if missing): `reps.csv`,
/// `accounts.csv`, `products.csv`, `deals.csv`, `stage_history.csv` and
/// `manifest.json`, each replaced atomically.
pub fn write_demo_data(dir: &Path, opts: &SeedOptions) -> Result<SeedSummary, SeedError> {
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    write_with_threads(dir, opts, threads.clamp(1, 8))
}

/// `write_demo_data` with `threads` deal workers (the output is the same for any number).
fn write_with_threads(
    dir: &Path,
    opts: &SeedOptions,
    threads: usize,
) -> Result<SeedSummary, SeedError> {
    if !(1..=MAX_DEALS).contains(&opts.deals) {
        return Err(SeedError::InvalidOptions(format!(
            "the number of deals must be from 1 to {MAX_DEALS}, not {}",
            opts.deals
        )));
    }
    let cal = Calendar::new(opts.as_of)?;
    fs::create_dir_all(dir).map_err(|cause| SeedError::CreateDir {
        path: dir.to_path_buf(),
        cause,
    })?;

    let key = ChaCha8Rng::seed_from_u64(opts.seed);
    let world = World::generate(&cal, opts.deals, &mut stream(&key, WORLD_STREAM));
    let schedule = CreationSchedule::new(&cal, opts.deals, &mut stream(&key, SCHEDULE_STREAM));

    let reps = small_table(
        dir,
        "reps.csv",
        &encode::REPS_HEADER,
        world.reps.len(),
        |w| encode::write_reps(w, &world, &cal),
    )?;
    let accounts = small_table(
        dir,
        "accounts.csv",
        &encode::ACCOUNTS_HEADER,
        world.accounts.len(),
        |w| encode::write_accounts(w, &world),
    )?;
    let products = small_table(
        dir,
        "products.csv",
        &encode::PRODUCTS_HEADER,
        PRODUCTS.len(),
        encode::write_products,
    )?;
    let sim = DealSimulator {
        world: &world,
        cal: &cal,
        schedule: &schedule,
        base_rng: key,
    };
    let (deals, history, outcomes) = deal_tables(dir, &sim, opts.deals, threads.max(1))?;

    let mut files = BTreeMap::new();
    for (name, file) in [
        ("reps.csv", reps),
        ("accounts.csv", accounts),
        ("products.csv", products),
        ("deals.csv", deals),
        ("stage_history.csv", history),
    ] {
        files.insert(name, file.commit()?);
    }
    let manifest = serde_json::json!({
        "generator": GENERATOR,
        "seed": opts.seed,
        "deals": opts.deals,
        "as_of": opts.as_of.format("%Y-%m-%d").to_string(),
        "files": files,
    });
    let mut text = serde_json::to_vec_pretty(&manifest).map_err(SeedError::Manifest)?;
    text.push(b'\n');
    let mut file = AtomicFile::create(dir, "manifest.json")?;
    file.append(&text, 0)?;
    file.commit()?;

    Ok(SeedSummary {
        deals: files["deals.csv"],
        won: outcomes.won,
        lost: outcomes.lost,
        open: outcomes.open,
        stage_history_rows: files["stage_history.csv"],
        accounts: files["accounts.csv"],
        reps: files["reps.csv"],
        products: files["products.csv"],
    })
}

/// `key` switched to RNG stream `n`.
fn stream(key: &ChaCha8Rng, n: u64) -> ChaCha8Rng {
    let mut rng = key.clone();
    rng.set_stream(n);
    rng
}

fn finish(w: RowWriter, table: &'static str) -> Result<Vec<u8>, SeedError> {
    w.into_inner().map_err(|e| SeedError::Encode {
        table,
        cause: e.into_error().into(),
    })
}

/// Writes a table that fits in memory, uncommitted.
fn small_table(
    dir: &Path,
    name: &'static str,
    header: &[&str],
    rows: usize,
    fill: impl FnOnce(&mut RowWriter) -> csv::Result<()>,
) -> Result<AtomicFile, SeedError> {
    let mut w = row_writer(64 * 1024);
    w.write_record(header)
        .map_err(|cause| SeedError::Encode { table: name, cause })?;
    fill(&mut w).map_err(|cause| SeedError::Encode { table: name, cause })?;
    let mut file = AtomicFile::create(dir, name)?;
    file.append(&finish(w, name)?, rows)?;
    Ok(file)
}

/// How the deals stood at the as-of date.
#[derive(Default)]
struct Outcomes {
    won: usize,
    lost: usize,
    open: usize,
}

/// One chunk of deals, encoded.
struct Chunk {
    deals: Vec<u8>,
    history: Vec<u8>,
    deal_rows: usize,
    history_rows: usize,
    outcomes: Outcomes,
}

/// Simulates and encodes deals `range`.
fn simulate_chunk(sim: &DealSimulator<'_>, range: Range<usize>) -> Result<Chunk, SeedError> {
    let mut deals = row_writer(range.len() * 220);
    let mut rows = row_writer(range.len() * 5 * 90);
    let mut encoder = DealEncoder::new(sim.world, sim.cal);
    let mut history = Vec::with_capacity(32);
    let mut outcomes = Outcomes::default();
    let mut history_rows = 0;
    let deal_rows = range.len();
    for index in range {
        let deal = sim.simulate(index, &mut history);
        match history.last().map(|r| r.stage) {
            Some(Stage::ClosedWon) => outcomes.won += 1,
            Some(Stage::ClosedLost) => outcomes.lost += 1,
            _ => outcomes.open += 1,
        }
        history_rows += history.len();
        encoder
            .write(&mut deals, &mut rows, index, &deal, &history)
            .map_err(|cause| SeedError::Encode {
                table: "deals.csv",
                cause,
            })?;
    }
    Ok(Chunk {
        deals: finish(deals, "deals.csv")?,
        history: finish(rows, "stage_history.csv")?,
        deal_rows,
        history_rows,
        outcomes,
    })
}

/// Streams `deals.csv` and `stage_history.csv`: batches of chunks are
/// simulated in parallel and appended in deal order, so memory stays at a
/// few chunks however many deals there are.
fn deal_tables(
    dir: &Path,
    sim: &DealSimulator<'_>,
    n: usize,
    threads: usize,
) -> Result<(AtomicFile, AtomicFile, Outcomes), SeedError> {
    let mut deals = AtomicFile::create(dir, "deals.csv")?;
    let mut history = AtomicFile::create(dir, "stage_history.csv")?;
    for (file, name, header) in [
        (&mut deals, "deals.csv", &encode::DEALS_HEADER[..]),
        (
            &mut history,
            "stage_history.csv",
            &encode::HISTORY_HEADER[..],
        ),
    ] {
        let mut w = row_writer(256);
        w.write_record(header)
            .map_err(|cause| SeedError::Encode { table: name, cause })?;
        file.append(&finish(w, name)?, 0)?;
    }

    let chunks = n.div_ceil(CHUNK_DEALS);
    let chunk_range = |c: usize| c * CHUNK_DEALS..((c + 1) * CHUNK_DEALS).min(n);
    let mut outcomes = Outcomes::default();
    let mut next = 0;
    while next < chunks {
        let batch = next..(next + threads).min(chunks);
        let results: Vec<Result<Chunk, SeedError>> = thread::scope(|scope| {
            let workers: Vec<_> = batch
                .clone()
                .skip(1)
                .map(|c| scope.spawn(move || simulate_chunk(sim, chunk_range(c))))
                .collect();
            let mut results = vec![simulate_chunk(sim, chunk_range(batch.start))];
            for worker in workers {
                results.push(
                    worker
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                );
            }
            results
        });
        for chunk in results {
            let chunk = chunk?;
            deals.append(&chunk.deals, chunk.deal_rows)?;
            history.append(&chunk.history, chunk.history_rows)?;
            outcomes.won += chunk.outcomes.won;
            outcomes.lost += chunk.outcomes.lost;
            outcomes.open += chunk.outcomes.open;
        }
        next = batch.end;
    }
    debug_assert_eq!(deals.rows(), n);
    Ok((deals, history, outcomes))
}
