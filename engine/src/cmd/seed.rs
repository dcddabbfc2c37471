//! `revintel seed`: write the deterministic demo data set.

use chrono::NaiveDate;
use revintel::project::Project;
use revintel::seed::{self, SeedOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// Number of deals created over the two years up to the as-of date.
    #[arg(long, default_value_t = seed::DEFAULT_DEALS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=seed::MAX_DEALS as u64))]
    deals: usize,
    /// Random seed; the same seed and arguments give byte-identical files.
    #[arg(long, default_value_t = seed::DEFAULT_SEED)]
    seed: u64,
    /// Folder to write to (default: the project's data folder, `seeds/`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(
    project: &Project,
    args: SeedArgs,
    as_of: Option<NaiveDate>,
) -> anyhow::Result<ExitCode> {
    let options = SeedOptions {
        deals: args.deals,
        seed: args.seed,
        as_of: as_of.unwrap_or_else(seed::default_as_of),
    };
    let dir = args.out.unwrap_or_else(|| project.data_dir.clone());
    let started = Instant::now();
    let s = seed::write_demo_data(&dir, &options)?;
    say!(
        "wrote {} deals ({} won, {} lost, {} open as of {}), {} stage-history rows, {} accounts, {} reps, {} products to {} in {:.2} s",
        s.deals,
        s.won,
        s.lost,
        s.open,
        options.as_of,
        s.stage_history_rows,
        s.accounts,
        s.reps,
        s.products,
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
