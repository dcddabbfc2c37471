//! `revintel-bench`: the speed and memory targets, measured against a
//! baseline taken in the same run. It lives outside the product binary and
//! drives the release `revintel` binary beside it (`cargo build --release
//! --workspace`, then `target/release/revintel-bench …`).
//!
//! * whole-process `sql -c "SELECT count(*) FROM deals"` on the demo data,
//!   against the bare process start (`revintel --version`); target ≤ 300 ms;
//! * `seed --deals N` (default 1,000,000): wall time and peak memory, against
//!   writing the same bytes with a plain buffered copy; targets ≤ 15 s and
//!   ≤ 2 GiB;
//! * `win_prob` through SQL over 1,000,000 deals against LightGBM's raw
//!   predict on the same feature matrix, one thread each; target ≤ 1.15×;
//! * `shap_top` over 100,000 deals against the raw contribution prediction
//!   alone; target ≤ 1.2×;
//! * the Monte Carlo forecast, 10,000 simulations × 10,000 open deals,
//!   against a straightforward single-threaded loop; target ≤ 0.5 s;
//! * with `--reports`, only the weekly briefing's render (see `reports`);
//! * with `--import`, only the import of a 1,000,000-row Salesforce export
//!   (see `import`);
//! * with `--stream`, only streaming a 25,000,000-row result as CSV (see `stream`);
//! * with `--pg`, only the PostgreSQL endpoint: latency with 1 and 50 clients,
//!   and streaming against PostgreSQL itself (see `pg`);
//! * with `--deliveries`, only the scheduled weekly briefing by email: schedule
//!   tick to SMTP acceptance over 10 sends, and `revintel schedule`'s idle
//!   memory (see `deliveries`);
//! * with `--refresh`, only a PostgreSQL import followed by `watch`: committed
//!   UPDATE to the briefing rewritten with a 1 s refresh, and the cost of one
//!   refresh check with and without a `change_query` (see `refresh`).

// A benchmark's figures are its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod child;
mod deliveries;
mod import;
mod pg;
mod refresh;
mod reports;
mod stream;

use anyhow::Context;
use child::{median, ms, percentile, run_child};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Measure revintel's speed and memory targets against same-run baselines.
#[derive(Debug, Parser)]
#[command(name = "revintel-bench")]
pub struct BenchArgs {
    /// Deals for the seed benchmark.
    #[arg(long, default_value_t = 1_000_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=revintel::seed::MAX_DEALS as u64))]
    deals: usize,
    /// Runs of each whole-process SQL measurement.
    #[arg(long, default_value_t = 20,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    runs: usize,
    /// Only the model benchmarks.
    #[arg(long)]
    models_only: bool,
    /// Only the report benchmark (weekly briefing at 10,000 deals).
    #[arg(long)]
    reports: bool,
    /// Only the import benchmark (a 1,000,000-row Salesforce export; see `bench_import`).
    #[arg(long)]
    import: bool,
    /// Only the streaming benchmark (`sql --format csv` of a 25M-row join).
    #[arg(long)]
    stream: bool,
    /// Only the PostgreSQL endpoint benchmark (see `bench/src/pg.rs`).
    #[arg(long)]
    pg: bool,
    /// Deals for the PostgreSQL endpoint's streaming comparison.
    #[arg(long, default_value_t = 1_000_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=revintel::seed::MAX_DEALS as u64))]
    pg_deals: usize,
    /// Only the delivery benchmark: the 10,000-deal weekly briefing from
    /// schedule tick to SMTP acceptance, and the scheduler's idle memory
    /// (see `bench/src/deliveries.rs`).
    #[arg(long)]
    deliveries: bool,
    /// Only the live-refresh benchmark: 10,000 deals in PostgreSQL followed
    /// by `watch` with `refresh = "1s"`, UPDATE to briefing rewritten and
    /// the cost of one check (see `bench/src/refresh.rs`).
    #[arg(long)]
    refresh: bool,
    /// Scratch folder (default: a new folder under the system temp dir).
    #[arg(long, value_name = "DIR")]
    scratch: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = BenchArgs::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(revintel::query::STACK_SIZE)
        .build()
        .expect("an async runtime starts");
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; build with --release for real figures");
    }
    let exe = std::env::current_exe()
        .context("finding this binary")?
        .with_file_name("revintel");
    if !exe.is_file() {
        anyhow::bail!(
            "{} is missing: build it first (`cargo build --release --workspace`)",
            exe.display()
        );
    }
    let scratch = match args.scratch {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("revintel-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&scratch)?;
    let runs = args.runs.max(1);
    if args.reports {
        reports::run(&exe, &scratch, runs).await?;
        std::fs::remove_dir_all(&scratch).ok();
        return Ok(ExitCode::SUCCESS);
    }
    if args.pg {
        pg::run(&exe, &scratch, runs, args.pg_deals).await?;
        std::fs::remove_dir_all(&scratch).ok();
        return Ok(ExitCode::SUCCESS);
    }
    if args.deliveries {
        deliveries::run(&exe, &scratch).await?;
        std::fs::remove_dir_all(&scratch).ok();
        return Ok(ExitCode::SUCCESS);
    }
    if args.refresh {
        refresh::run(&exe, &scratch).await?;
        std::fs::remove_dir_all(&scratch).ok();
        return Ok(ExitCode::SUCCESS);
    }
    if args.stream {
        stream::run(&exe, &scratch, runs).await?;
        std::fs::remove_dir_all(&scratch).ok();
        return Ok(ExitCode::SUCCESS);
    }
    if args.import {
        import::run(&exe, &scratch).await?;
        std::fs::remove_dir_all(&scratch).ok();
        return Ok(ExitCode::SUCCESS);
    }
    forecast();
    if args.models_only {
        let demo = scratch.join("demo");
        std::fs::create_dir_all(&demo)?;
        models(&demo).await?;
        return Ok(ExitCode::SUCCESS);
    }

    // 1. Whole-process SQL on the demo data.
    let demo = scratch.join("demo");
    std::fs::create_dir_all(&demo)?;
    run_child(&exe, &["seed"], &demo)?;
    let mut baseline = Vec::with_capacity(runs);
    let mut query = Vec::with_capacity(runs);
    run_child(&exe, &["sql", "-c", "SELECT count(*) FROM deals"], &demo)?; // warm the page cache
    for _ in 0..runs {
        baseline.push(run_child(&exe, &["--version"], &demo)?.wall);
        query.push(run_child(&exe, &["sql", "-c", "SELECT count(*) FROM deals"], &demo)?.wall);
    }
    let (b50, q50, q95) = (
        median(baseline),
        median(query.clone()),
        percentile(query, 0.95),
    );
    println!("sql -c \"SELECT count(*) FROM deals\" on demo data ({runs} runs, whole process):");
    println!(
        "  median {:.1} ms, p95 {:.1} ms; baseline `revintel --version` {:.1} ms; ratio {:.1}x; target <= 300 ms: {}",
        ms(q50),
        ms(q95),
        ms(b50),
        q50.as_secs_f64() / b50.as_secs_f64(),
        if ms(q50) <= 300.0 { "met" } else { "NOT met" }
    );

    // 2. Seeding a large data set.
    let big = scratch.join("big");
    let deals = args.deals.to_string();
    let seed = run_child(
        &exe,
        &[
            "seed",
            "--deals",
            &deals,
            "--out",
            big.to_str().context("scratch path is UTF-8")?,
        ],
        &scratch,
    )?;
    let bytes: u64 = std::fs::read_dir(&big)?
        .map(|e| e.and_then(|e| e.metadata()).map(|m| m.len()))
        .sum::<Result<u64, _>>()?;
    let copy_dir = scratch.join("copy");
    std::fs::create_dir_all(&copy_dir)?;
    let started = Instant::now();
    for entry in std::fs::read_dir(&big)? {
        let path = entry?.path();
        let data = std::fs::read(&path)?;
        std::fs::write(copy_dir.join(path.file_name().context("file name")?), data)?;
    }
    let copy = started.elapsed();
    let gib = seed.peak_rss_bytes as f64 / (1u64 << 30) as f64;
    println!("seed --deals {deals}:");
    println!(
        "  {:.2} s, peak RSS {:.2} GiB, {:.0} MB written; baseline: reading and writing the same bytes {:.2} s; ratio {:.1}x; targets <= 15 s: {}, <= 2 GiB: {}",
        seed.wall.as_secs_f64(),
        gib,
        bytes as f64 / 1e6,
        copy.as_secs_f64(),
        seed.wall.as_secs_f64() / copy.as_secs_f64(),
        if seed.wall.as_secs_f64() <= 15.0 { "met" } else { "NOT met" },
        if gib <= 2.0 { "met" } else { "NOT met" }
    );
    models(&demo).await?;
    std::fs::remove_dir_all(&scratch).ok();
    Ok(ExitCode::SUCCESS)
}

/// The forecast simulation against the straightforward loop.
fn forecast() {
    use ml::simulation::{simulate, simulate_naive, OpenDeal, Period};
    use rand::{Rng, SeedableRng};
    let as_of = revintel::seed::default_as_of();
    let period = Period::quarter_of(as_of);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let deals: Vec<OpenDeal> = (0..10_000)
        .map(|_| {
            let q10 = rng.random_range(0.0..40.0);
            let q50 = q10 + rng.random_range(0.0..60.0);
            OpenDeal {
                amount: rng.random_range(5_000.0..500_000.0),
                win_prob: rng.random_range(0.0..1.0),
                days_to_close: [q10, q50, q50 + rng.random_range(0.0..120.0)],
            }
        })
        .collect();
    let started = Instant::now();
    let fast = simulate(&deals, as_of, period, 1e6, 10_000, 42);
    let fast_time = started.elapsed();
    let started = Instant::now();
    let naive = simulate_naive(&deals, as_of, period, 1e6, 10_000, 42);
    let naive_time = started.elapsed();
    let naive_mean = naive.iter().sum::<f64>() / naive.len() as f64;
    println!("forecast: 10,000 simulations x 10,000 open deals:");
    println!(
        "  {:.0} ms on {} threads; straightforward single-threaded loop {:.0} ms; ratio {:.2}; target <= 500 ms: {}",
        ms(fast_time),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        ms(naive_time),
        fast_time.as_secs_f64() / naive_time.as_secs_f64(),
        if ms(fast_time) <= 500.0 { "met" } else { "NOT met" }
    );
    println!(
        "  means agree: simulated {:.0}, straightforward {:.0}, analytic {:.0}",
        fast.mean(),
        naive_mean,
        fast.expected
    );
}

/// The model UDFs against the raw LightGBM calls they wrap.
async fn models(demo: &Path) -> anyhow::Result<()> {
    use datafusion::arrow::compute::concat_batches;
    use datafusion::catalog::MemTable;
    use ml::encoding::{feature_columns, MODEL_FEATURES};
    use std::sync::Arc;

    let project = revintel::project::Project::demo(demo);
    let session = open_session(&project).await?;
    let models = session.models.clone().context("models are attached")?;
    // One thread on both sides: LightGBM predicts on one, so SQL may too.
    session
        .ctx
        .state_ref()
        .write()
        .config_mut()
        .options_mut()
        .execution
        .target_partitions = 1;
    let df = session.ctx.sql("SELECT * FROM deal_features").await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let open = concat_batches(&schema, &df.collect().await?)?;
    let args = MODEL_FEATURES
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ");

    for (rows, udf, target) in [
        (1_000_000usize, "win_prob", 1.15),
        (100_000, "shap_top", 1.2),
    ] {
        let copies = rows.div_ceil(open.num_rows().max(1));
        let big = concat_batches(&schema, &vec![open.clone(); copies])?.slice(0, rows);
        // The SQL side reads the same rows in DataFusion's usual batch size.
        let batches: Vec<_> = (0..rows)
            .step_by(8192)
            .map(|start| big.slice(start, 8192.min(rows - start)))
            .collect();
        session.ctx.deregister_table("bench_deals")?;
        session.ctx.register_table(
            "bench_deals",
            Arc::new(MemTable::try_new(schema.clone(), vec![batches])?),
        )?;
        let matrix = models
            .win_prob
            .meta
            .encodings
            .matrix(&feature_columns(&big)?)?;
        let sql = match udf {
            "win_prob" => format!("SELECT sum(win_prob({args})) FROM bench_deals"),
            _ => format!("SELECT sum(array_length(shap_top({args}, 3))) FROM bench_deals"),
        };
        let mut raw = Vec::new();
        let mut through_sql = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let out = match udf {
                "win_prob" => models.win_prob.booster.raw(&matrix)?,
                _ => models.win_prob.booster.contributions(&matrix)?,
            };
            raw.push(started.elapsed());
            std::hint::black_box(out);
            let started = Instant::now();
            let result = session.ctx.sql(&sql).await?.collect().await?;
            through_sql.push(started.elapsed());
            std::hint::black_box(result);
        }
        let (r, q) = (median(raw), median(through_sql));
        let ratio = q.as_secs_f64() / r.as_secs_f64();
        println!("{udf} over {rows} deals (one thread, median of 3):");
        println!(
            "  SQL {:.1} ms; raw LightGBM {} on the same matrix {:.1} ms; ratio {ratio:.3}; target <= {target}: {}",
            ms(q),
            if udf == "win_prob" { "predict" } else { "contributions" },
            ms(r),
            if ratio <= target { "met" } else { "NOT met" }
        );
    }
    Ok(())
}

/// The project's session with its models (trained first when there are none).
pub async fn open_session(
    project: &revintel::project::Project,
) -> anyhow::Result<revintel::session::Session> {
    let opened = revintel::open::open(project, revintel::open::ModelUse::Required, &|event| {
        if let revintel::open::Event::Note(note) = event {
            eprintln!("revintel: {note}");
        }
    })
    .await?;
    Ok(opened.session)
}
