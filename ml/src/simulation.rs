//! Monte Carlo revenue forecast for a period.
//!
//! Each open deal is won with its calibrated win probability and, if won,
//! closes after a number of days drawn from its time-to-close distribution.
//! Period revenue = revenue already closed-won in the period + the simulated
//! wins that land in it. The distribution of days to close is built from the
//! model's P10/P50/P90 (days from the as-of date) by linear interpolation,
//! with these **tail assumptions**: above P90 the tail is exponential with
//! scale (P90 − P50) / 4 and below P10 with scale (P50 − P10) / 4, which
//! keeps the density continuous at both; the little lower-tail mass that
//! would fall before the as-of date closes on the first day after it.
//!
//! Only whether a win lands inside the period matters for period revenue, so
//! a deal contributes its amount with probability
//! `p = win_prob × P(close in period | won)`, computed exactly from that
//! distribution; a simulation then needs one random draw per deal. Draws come
//! from ChaCha8 streams keyed by (seed, chunk of simulations), so results do
//! not depend on how many threads run them; and since every draw has a fixed
//! place in its stream and runs add whole cents, a run can be updated for a
//! few changed deals without running it again ([`simulate_from`]).

use chrono::NaiveDate;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Simulations run by default.
pub const DEFAULT_SIMULATIONS: usize = 10_000;
/// Seed used by default.
pub const DEFAULT_SEED: u64 = 42;
/// Simulations per RNG stream: the unit of parallel work.
const CHUNK: usize = 250;

/// An inclusive date range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// The calendar quarter containing `date`.
    pub fn quarter_of(date: NaiveDate) -> Period {
        use chrono::Datelike;
        let first_month = (date.month0() / 3) * 3 + 1;
        let start = NaiveDate::from_ymd_opt(date.year(), first_month, 1)
            .expect("a quarter starts on a valid date");
        let next = if first_month == 10 {
            NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(date.year(), first_month + 3, 1)
        }
        .expect("the next quarter starts on a valid date");
        Period {
            start,
            end: next.pred_opt().expect("a quarter has a last day"),
        }
    }

    /// The quarter after this one.
    pub fn next_quarter(self) -> Period {
        Period::quarter_of(self.end.succ_opt().expect("dates continue"))
    }
}

/// An open deal as the forecast sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenDeal {
    pub amount: f64,
    pub win_prob: f64,
    /// Days from the as-of date to close if won: P10, P50, P90 (non-crossing).
    pub days_to_close: [f64; 3],
}

/// P(days to close ≤ `d` | won) under the interpolated distribution
/// (0 for `d < 0`; the mass at `d = 0` is the part of the lower tail that
/// would fall before the as-of date).
pub fn close_cdf(q: [f64; 3], d: f64) -> f64 {
    let [q10, q50, q90] = q;
    if d < 0.0 {
        return 0.0;
    }
    let lerp = |d: f64, lo: f64, hi: f64, p_lo: f64, p_hi: f64| {
        if hi > lo {
            p_lo + (p_hi - p_lo) * (d - lo) / (hi - lo)
        } else {
            p_hi
        }
    };
    if d < q10 {
        let scale = (q50 - q10) / 4.0;
        if scale > 0.0 {
            0.1 * (-(q10 - d) / scale).exp()
        } else {
            0.0
        }
    } else if d < q50 {
        lerp(d, q10, q50, 0.1, 0.5)
    } else if d < q90 {
        lerp(d, q50, q90, 0.5, 0.9)
    } else {
        let scale = (q90 - q50) / 4.0;
        if scale > 0.0 {
            1.0 - 0.1 * (-(d - q90) / scale).exp()
        } else {
            1.0
        }
    }
}

/// Days to close at probability `u` (the inverse of [`close_cdf`]; 0 for
/// the mass before the as-of date).
pub fn close_quantile(q: [f64; 3], u: f64) -> f64 {
    let [q10, q50, q90] = q;
    if u < 0.1 {
        let scale = (q50 - q10) / 4.0;
        (q10 + scale * (u / 0.1).max(f64::MIN_POSITIVE).ln()).max(0.0)
    } else if u < 0.5 {
        q10 + (q50 - q10) * (u - 0.1) / 0.4
    } else if u < 0.9 {
        q50 + (q90 - q50) * (u - 0.5) / 0.4
    } else {
        q90 - (q90 - q50) / 4.0 * ((1.0 - u) / 0.1).max(f64::MIN_POSITIVE).ln()
    }
}

/// P(a won deal closes inside `period`), closes being days after `as_of`.
/// A close on day offset `d` falls on date `as_of + ceil(d)`.
pub fn prob_in_period(q: [f64; 3], as_of: NaiveDate, period: Period) -> f64 {
    let start = (period.start - as_of).num_days() as f64;
    let end = (period.end - as_of).num_days() as f64;
    if end < 1.0 {
        return 0.0;
    }
    // A close at offset d falls on day max(ceil(d), 1): it is in the period
    // when d <= end and, unless the period starts by day 1, d > start - 1.
    let below = if start - 1.0 >= 1.0 {
        close_cdf(q, start - 1.0)
    } else {
        0.0
    };
    (close_cdf(q, end) - below).clamp(0.0, 1.0)
}

/// The simulated distribution of period revenue.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// Simulated period revenues, ascending.
    pub samples: Vec<f64>,
    pub closed_won_to_date: f64,
    /// Analytic expectation: closed-won + Σ amount × win_prob × P(close in period).
    pub expected: f64,
    /// Open deals that can land in the period (non-zero chance).
    pub open_deals_counted: usize,
    /// Won to date plus the open deals, per run, ascending (equal to
    /// `samples` until new pipeline is added).
    pub existing_samples: Vec<f64>,
    /// Revenue from deals not created yet, per run, ascending (empty when
    /// none is forecast; see [`crate::new_pipeline`]).
    pub new_samples: Vec<f64>,
    /// Analytic expectation of the new pipeline (part of `expected`).
    pub new_expected: f64,
    /// Standard deviation of the revenue still to come (open and new
    /// pipeline) over the runs, deals independent: the band's own width,
    /// before any quarter-wide swing.
    pub own_sd: f64,
    /// Standard deviation of the quarter-wide factor the revenue still to
    /// come is scaled by in each run (0: none; see [`Simulation::with_swing`]).
    pub swing_sd: f64,
    /// The runs behind `samples`, kept so that a later simulation of nearly
    /// the same deals can update them (see [`simulate_from`]).
    runs: Runs,
    /// What every run starts from: won to date plus the sure wins.
    base: f64,
    /// Revenue from deals not created yet, in run order (empty: none).
    new_runs: Vec<f64>,
    /// Each run's quarter-wide factor (empty: none).
    factors: Vec<f64>,
}

impl Simulation {
    /// The `q`-quantile of simulated revenue (linear interpolation between
    /// order statistics); `q` is clamped to [0, 1].
    pub fn quantile(&self, q: f64) -> f64 {
        sorted_quantile(&self.samples, q, self.closed_won_to_date)
    }

    pub fn mean(&self) -> f64 {
        self.samples.iter().sum::<f64>() / self.samples.len().max(1) as f64
    }

    /// The `q`-quantile of one part of the revenue.
    pub fn part_quantile(&self, part: Part, q: f64) -> f64 {
        match part {
            Part::Total => self.quantile(q),
            Part::Existing => sorted_quantile(&self.existing_samples, q, self.closed_won_to_date),
            Part::New => sorted_quantile(&self.new_samples, q, 0.0),
        }
    }

    /// This simulation with revenue from deals not created yet added run
    /// by run: `draws[j]` joins run `j` (so the total's band holds the
    /// uncertainty of both parts), and `expected_new` joins `expected`.
    pub fn adding_new(mut self, draws: Vec<f64>, expected_new: f64) -> Simulation {
        if draws.len() != self.runs.totals.len() {
            return self;
        }
        self.new_runs = draws;
        self.new_expected = expected_new;
        self.expected += expected_new;
        self.tally();
        self
    }

    /// This simulation with a quarter-wide swing: in each run, the revenue
    /// still to come (open and new pipeline; won to date is known) is
    /// scaled by one factor, lognormal with mean 1 and variance `variance`,
    /// drawn from its own stream of `seed`. Deals no longer move
    /// independently in a run, which is what widens the band; the
    /// expectation stays. See [`crate::track_record`] for where the
    /// variance comes from.
    pub fn with_swing(mut self, variance: f64, seed: u64) -> Simulation {
        if !(variance > 0.0 && variance.is_finite()) {
            return self;
        }
        // ln F ~ N(−σ²/2, σ²) with σ² = ln(1 + variance): E F = 1, Var F = variance.
        let sigma2 = variance.ln_1p();
        let sigma = sigma2.sqrt();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(SWING_STREAM);
        self.factors = (0..self.runs.totals.len())
            .map(|_| {
                let z: f64 = rng.sample(rand_distr::StandardNormal);
                (sigma * z - sigma2 / 2.0).exp()
            })
            .collect();
        self.swing_sd = variance.sqrt();
        self.tally();
        self
    }

    /// Samples of the total and its parts from the runs, the new draws and
    /// the factors.
    fn tally(&mut self) {
        let won = self.closed_won_to_date;
        let runs = self.runs.totals.len();
        let (mut total, mut existing, mut new) = (
            Vec::with_capacity(runs),
            Vec::with_capacity(runs),
            Vec::with_capacity(runs),
        );
        let mut remainings = Vec::with_capacity(runs);
        for (j, &t) in self.runs.totals.iter().enumerate() {
            let drawn = t as f64 / 100.0 * self.runs.unit;
            let fresh = self.new_runs.get(j).copied().unwrap_or(0.0);
            let remaining = self.base - won + drawn + fresh;
            remainings.push(remaining);
            match self.factors.get(j) {
                Some(&f) => {
                    total.push(won + f * remaining);
                    existing.push(won + f * (self.base - won + drawn));
                }
                None => {
                    total.push(self.base + drawn + fresh);
                    existing.push(self.base + drawn);
                }
            }
            if !self.new_runs.is_empty() {
                new.push(self.factors.get(j).map_or(fresh, |f| f * fresh));
            }
        }
        for v in [&mut total, &mut existing, &mut new] {
            v.sort_by(f64::total_cmp);
        }
        // Two passes: a sum of squares of large amounts loses the spread.
        let n = runs.max(1) as f64;
        let mean = remainings.iter().sum::<f64>() / n;
        self.own_sd = (remainings.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
        self.samples = total;
        self.existing_samples = existing;
        self.new_samples = new;
    }
}

/// RNG stream of the quarter-wide factors (the open deals use streams 0…,
/// the new pipeline 2⁴⁰).
const SWING_STREAM: u64 = (1 << 40) + 1;

/// Which part of the revenue a quantile is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Won to date + open deals + new pipeline.
    Total,
    /// Won to date + open deals.
    Existing,
    /// Deals not created yet.
    New,
}

impl Part {
    /// `total`, `existing` or `new`.
    pub fn parse(text: &str) -> Option<Part> {
        match text.trim().to_ascii_lowercase().as_str() {
            "total" => Some(Part::Total),
            "existing" => Some(Part::Existing),
            "new" => Some(Part::New),
            _ => None,
        }
    }
}

fn sorted_quantile(samples: &[f64], q: f64, empty: f64) -> f64 {
    let n = samples.len();
    if n == 0 {
        return empty;
    }
    let h = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    samples[lo] + (h - lo as f64) * (samples[hi] - samples[lo])
}

/// The deals a period's runs draw for — those whose chance is strictly
/// between 0 and 1, in deal order — and each run's total.
///
/// Amounts are whole cents (see `unit`) and totals are sums of them: integer sums are
/// exact, so a total does not depend on the order its deals were added in,
/// and updating it deal by deal gives the very number a full run gives.
#[derive(Debug, Clone, PartialEq)]
struct Runs {
    /// Amounts in whole `unit`s.
    amounts: Vec<i64>,
    /// Cents per amount unit: 1, unless the amounts are so large that their
    /// sum in cents would not fit an i64 (then a power of ten that fits).
    unit: f64,
    thresholds: Vec<u32>,
    /// Cents won from these deals in each run, in run order.
    totals: Vec<i64>,
    seed: u64,
}

impl Runs {
    /// What deal `k` adds to a run whose draw for it was `u`.
    fn won(&self, k: usize, u: u32) -> i64 {
        if u < self.thresholds[k] {
            self.amounts[k]
        } else {
            0
        }
    }
}

/// A deal's chance of landing in the period as a threshold on a uniform
/// 32-bit draw (`draw < threshold`): resolution 2⁻³², far below any
/// probability the models produce. Certain deals never reach the draw.
fn threshold(p: f64) -> u32 {
    (p * 4_294_967_296.0).min(u32::MAX as f64) as u32
}

/// `amount` in whole `unit`s of cents (see [`Runs::unit`]).
fn in_units(amount: f64, unit: f64) -> i64 {
    // Divided first: amount × 100 may overflow where amount / unit does not.
    ((amount / unit) * 100.0).round() as i64
}

/// The smallest power-of-ten number of cents in which every run's total of
/// `amounts` fits an i64 (with room to spare): 1 for any real pipeline.
/// Worked out in logarithms, so even amounts near f64's limit give a unit.
fn unit_for(amounts: impl Iterator<Item = f64>) -> f64 {
    let (mut largest, mut count) = (0f64, 0f64);
    for a in amounts {
        if a.is_finite() {
            largest = largest.max(a.abs());
            count += 1.0;
        }
    }
    if largest == 0.0 {
        return 1.0;
    }
    // log10(largest × 100 × count / 2^62): the total's room in cents.
    let exponent = largest.log10() + 2.0 + count.log10() - 62.0 * std::f64::consts::LOG10_2;
    10f64.powi(exponent.ceil().max(0.0) as i32)
}

/// A period's simulation before its runs: what every run starts from and
/// the deals it draws for (with no totals yet).
struct Prepared {
    /// Closed-won to date plus the deals certain to land.
    base: f64,
    closed_won_to_date: f64,
    expected: f64,
    counted: usize,
    runs: Runs,
}

fn prepare(
    deals: &[OpenDeal],
    as_of: NaiveDate,
    period: Period,
    closed_won_to_date: f64,
    seed: u64,
) -> Prepared {
    let probs: Vec<f64> = deals
        .iter()
        .map(|d| d.win_prob.clamp(0.0, 1.0) * prob_in_period(d.days_to_close, as_of, period))
        .collect();
    // Sure wins in the period are revenue in every run; only uncertain
    // deals need a draw.
    let certain: f64 = deals
        .iter()
        .zip(&probs)
        .filter(|(_, p)| **p >= 1.0)
        .fold(0.0, |total, (d, _)| total + d.amount);
    let drawn = || {
        deals
            .iter()
            .zip(&probs)
            .filter(|(_, p)| **p > 0.0 && **p < 1.0)
    };
    let unit = unit_for(drawn().map(|(d, _)| d.amount));
    let (amounts, thresholds): (Vec<i64>, Vec<u32>) = drawn()
        .map(|(d, p)| (in_units(d.amount, unit), threshold(*p)))
        .unzip();
    Prepared {
        base: closed_won_to_date + certain,
        closed_won_to_date,
        expected: closed_won_to_date
            + deals
                .iter()
                .zip(&probs)
                .map(|(d, p)| d.amount * p)
                .sum::<f64>(),
        counted: probs.iter().filter(|p| **p > 0.0).count(),
        runs: Runs {
            amounts,
            unit,
            thresholds,
            totals: Vec::new(),
            seed,
        },
    }
}

impl Prepared {
    fn finish(self) -> Simulation {
        let mut sim = Simulation {
            existing_samples: Vec::new(),
            samples: Vec::new(),
            closed_won_to_date: self.closed_won_to_date,
            expected: self.expected,
            open_deals_counted: self.counted,
            new_samples: Vec::new(),
            new_expected: 0.0,
            own_sd: 0.0,
            swing_sd: 0.0,
            runs: self.runs,
            base: self.base,
            new_runs: Vec::new(),
            factors: Vec::new(),
        };
        sim.tally();
        sim
    }
}

/// The random stream of a chunk of runs: the draws of run `j` of the chunk
/// are its words `j × n … j × n + n − 1` for `n` deals drawn for.
fn chunk_stream(seed: u64, chunk: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(chunk as u64);
    rng
}

/// Simulates `sims` outcomes of the period in parallel.
pub fn simulate(
    deals: &[OpenDeal],
    as_of: NaiveDate,
    period: Period,
    closed_won_to_date: f64,
    sims: usize,
    seed: u64,
) -> Simulation {
    simulate_from(None, deals, as_of, period, closed_won_to_date, sims, seed)
}

/// [`simulate`], updating the runs of `earlier` (a simulation of the same
/// period, as-of date, runs and seed) where only a few deals changed: each
/// run then draws again only for those, at the same places in its stream,
/// which gives exactly what a full simulation gives. Runs them all when
/// there is no earlier simulation, the deals drawn for are not as many as
/// before, or too many changed.
pub fn simulate_from(
    earlier: Option<&Simulation>,
    deals: &[OpenDeal],
    as_of: NaiveDate,
    period: Period,
    closed_won_to_date: f64,
    sims: usize,
    seed: u64,
) -> Simulation {
    let mut prepared = prepare(deals, as_of, period, closed_won_to_date, seed);
    let new = &prepared.runs;
    let n = new.amounts.len();
    let old = earlier.map(|e| &e.runs).filter(|old| {
        old.seed == seed
            && old.unit == new.unit
            && old.totals.len() == sims
            && old.amounts.len() == n
    });
    // Drawing for one deal means generating a buffer of 64 words; a full
    // run generates n words: update only while that is cheaper.
    let update = old.and_then(|old| {
        let changed: Vec<usize> = (0..n)
            .filter(|&k| old.amounts[k] != new.amounts[k] || old.thresholds[k] != new.thresholds[k])
            .collect();
        (changed.len() * 64 < n).then_some((old, changed))
    });
    prepared.runs.totals = if let Some((old, changed)) = update {
        let mut totals = old.totals.clone();
        for (chunk, runs) in totals.chunks_mut(CHUNK).enumerate() {
            let mut rng = chunk_stream(seed, chunk);
            for (j, total) in runs.iter_mut().enumerate() {
                for &k in &changed {
                    rng.set_word_pos((j * n + k) as u128);
                    let u = rng.next_u32();
                    *total += new.won(k, u) - old.won(k, u);
                }
            }
        }
        totals
    } else {
        run_all(new, sims)
    };
    prepared.finish()
}

/// Every run's total for the deals of `runs`, on all cores.
fn run_all(runs: &Runs, sims: usize) -> Vec<i64> {
    let (amounts, thresholds, seed) = (&runs.amounts, &runs.thresholds, runs.seed);
    let chunks = sims.div_ceil(CHUNK);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.max(1));
    let mut totals = vec![0i64; sims];
    std::thread::scope(|scope| {
        let mut rest: &mut [i64] = &mut totals;
        let per_thread = chunks.div_ceil(threads.max(1));
        let mut chunk = 0;
        let mut handles = Vec::new();
        while !rest.is_empty() {
            let take = (per_thread * CHUNK).min(rest.len());
            let (mine, tail) = rest.split_at_mut(take);
            rest = tail;
            let first_chunk = chunk;
            chunk += take.div_ceil(CHUNK);
            handles.push(scope.spawn(move || {
                let mut draws = vec![0u32; thresholds.len()];
                for (k, out) in mine.chunks_mut(CHUNK).enumerate() {
                    let mut rng = chunk_stream(seed, first_chunk + k);
                    for total in out.iter_mut() {
                        // One block of draws per run, then a branch-free sum.
                        rng.fill(draws.as_mut_slice());
                        let mut won = 0i64;
                        for ((&amount, &t), &u) in amounts.iter().zip(thresholds).zip(&draws) {
                            won += if u < t { amount } else { 0 };
                        }
                        *total = won;
                    }
                }
            }));
        }
        for h in handles {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
    });
    totals
}

/// The straightforward way, for comparison: one thread; for each
/// simulation and deal, draw the outcome, then a close date, then check the
/// period.
pub fn simulate_naive(
    deals: &[OpenDeal],
    as_of: NaiveDate,
    period: Period,
    closed_won_to_date: f64,
    sims: usize,
    seed: u64,
) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start = (period.start - as_of).num_days() as f64;
    let end = (period.end - as_of).num_days() as f64;
    let mut samples: Vec<f64> = (0..sims)
        .map(|_| {
            let mut revenue = closed_won_to_date;
            for d in deals {
                if rng.random::<f64>() < d.win_prob {
                    let day = close_quantile(d.days_to_close, rng.random::<f64>())
                        .ceil()
                        .max(1.0);
                    if day >= start && day <= end {
                        revenue += d.amount;
                    }
                }
            }
            revenue
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples
}

#[cfg(test)]
mod tests {
    #[test]
    fn absurd_amounts_do_not_overflow_the_totals() {
        let as_of = NaiveDate::from_ymd_opt(2026, 1, 10).unwrap();
        let period = Period::quarter_of(as_of);
        let deals: Vec<OpenDeal> = (0..4)
            .map(|k| OpenDeal {
                amount: if k < 2 { 5e16 } else { 1e307 },
                win_prob: 0.5,
                days_to_close: [10.0, 20.0, 30.0],
            })
            .collect();
        let sim = simulate(&deals, as_of, period, 0.0, 2_000, 7);
        let (p10, p90) = (sim.quantile(0.1), sim.quantile(0.9));
        assert!(
            p10 >= 0.0 && p90 <= 2.0001e307 && p10 <= p90 && p90.is_finite(),
            "{p10} {p90}"
        );
        assert!(sim.quantile(0.5) > 0.0);
    }

    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const AS_OF: &str = "2026-11-23";

    fn quarter() -> Period {
        Period::quarter_of(day(AS_OF))
    }

    fn deal(amount: f64, win_prob: f64, q: [f64; 3]) -> OpenDeal {
        OpenDeal {
            amount,
            win_prob,
            days_to_close: q,
        }
    }

    #[test]
    fn quarters() {
        assert_eq!(
            quarter(),
            Period {
                start: day("2026-10-01"),
                end: day("2026-12-31")
            }
        );
        assert_eq!(
            quarter().next_quarter(),
            Period {
                start: day("2027-01-01"),
                end: day("2027-03-31")
            }
        );
    }

    #[test]
    fn cdf_and_quantile_are_inverse_and_monotone() {
        let q = [5.0, 20.0, 60.0];
        assert_eq!(close_cdf(q, 5.0), 0.1);
        assert_eq!(close_cdf(q, 20.0), 0.5);
        assert_eq!(close_cdf(q, 60.0), 0.9);
        let mut last = 0.0;
        let atom = close_cdf(q, 0.0);
        assert!(atom > 0.0 && atom < 0.1);
        for i in 1..1000 {
            let u = i as f64 / 1000.0;
            let d = close_quantile(q, u);
            if u > atom {
                assert!((close_cdf(q, d) - u).abs() < 1e-9, "u {u}");
            } else {
                assert_eq!(d, 0.0);
            }
            assert!(d >= last);
            last = d;
        }
    }

    #[test]
    fn certain_outcomes_give_exact_answers() {
        // Sure wins closing within the quarter (by day 38 = 2026-12-31) and sure losses.
        let deals = [
            deal(100.0, 1.0, [1.0, 2.0, 3.0]),
            deal(50.0, 0.0, [1.0, 2.0, 3.0]),
            deal(30.0, 1.0, [1.0, 2.0, 3.0]),
        ];
        let s = simulate(&deals, day(AS_OF), quarter(), 1000.0, 2000, 1);
        assert!(s.samples.iter().all(|&r| r == 1130.0));
        assert_eq!(
            (s.quantile(0.1), s.quantile(0.5), s.quantile(0.9)),
            (1130.0, 1130.0, 1130.0)
        );
        assert_eq!(s.expected, 1130.0);
        assert_eq!(s.open_deals_counted, 2);
    }

    #[test]
    fn no_open_deals_is_closed_won_to_date() {
        let s = simulate(&[], day(AS_OF), quarter(), 777.0, 500, 1);
        assert!(s.samples.iter().all(|&r| r == 777.0));
        assert_eq!(s.expected, 777.0);
        assert_eq!(s.open_deals_counted, 0);
    }

    #[test]
    fn one_deal_is_bernoulli() {
        // Sure to close in the quarter if won; win 30%: revenue is 0 or 500.
        let s = simulate(
            &[deal(500.0, 0.3, [1.0, 5.0, 10.0])],
            day(AS_OF),
            quarter(),
            0.0,
            20_000,
            3,
        );
        assert!(s.samples.iter().all(|&r| r == 0.0 || r == 500.0));
        let share = s.samples.iter().filter(|&&r| r == 500.0).count() as f64 / 20_000.0;
        // Binomial SD at n = 20,000: sqrt(0.3 * 0.7 / 20000) = 0.0032; allow 5 SD.
        assert!((share - 0.3).abs() < 0.017, "{share}");
        assert_eq!((s.quantile(0.1), s.quantile(0.9)), (0.0, 500.0));
    }

    #[test]
    fn a_deal_closing_surely_after_the_period_counts_nothing() {
        // The quarter ends 38 days after the as-of date; this deal closes on day 90.
        assert_eq!(
            prob_in_period([90.0, 90.0, 90.0], day(AS_OF), quarter()),
            0.0
        );
        let s = simulate(
            &[deal(1e6, 0.9, [90.0, 90.0, 90.0])],
            day(AS_OF),
            quarter(),
            10.0,
            1000,
            1,
        );
        assert!(s.samples.iter().all(|&r| r == 10.0));
        assert_eq!(s.expected, 10.0);
        assert_eq!(s.open_deals_counted, 0);
        // A spread-out deal's lower tail does reach into the quarter, a little.
        let p = prob_in_period([90.0, 120.0, 150.0], day(AS_OF), quarter());
        assert!(p > 0.0 && p < 0.01, "{p}");
    }

    #[test]
    fn mean_converges_to_the_analytic_expectation() {
        let deals: Vec<OpenDeal> = (0..400)
            .map(|i| {
                let f = i as f64;
                deal(
                    1000.0 + 37.0 * f,
                    (f * 0.0123) % 1.0,
                    [f % 30.0, 20.0 + f % 40.0, 60.0 + f % 90.0],
                )
            })
            .collect();
        let sims = 10_000;
        let s = simulate(&deals, day(AS_OF), quarter(), 5000.0, sims, 9);
        // The standard error of the mean is sd / sqrt(n); allow 4 of them.
        let var: f64 = deals
            .iter()
            .map(|d| {
                let p = d.win_prob * prob_in_period(d.days_to_close, day(AS_OF), quarter());
                d.amount * d.amount * p * (1.0 - p)
            })
            .sum();
        let tolerance = 4.0 * (var / sims as f64).sqrt();
        assert!(
            (s.mean() - s.expected).abs() < tolerance,
            "{} vs {} ± {tolerance}",
            s.mean(),
            s.expected
        );
        // The straightforward sampler draws the same distribution.
        let naive = simulate_naive(&deals, day(AS_OF), quarter(), 5000.0, sims, 9);
        let naive_mean = naive.iter().sum::<f64>() / sims as f64;
        assert!(
            (naive_mean - s.expected).abs() < tolerance,
            "{naive_mean} vs {}",
            s.expected
        );
    }

    fn spread_deals(count: usize) -> Vec<OpenDeal> {
        (0..count)
            .map(|i| {
                let f = i as f64;
                deal(
                    1000.0 + 37.25 * f,
                    0.05 + (f * 0.0123) % 0.9,
                    [f % 30.0, 20.0 + f % 40.0, 60.0 + f % 90.0],
                )
            })
            .collect()
    }

    #[test]
    fn updating_a_few_deals_equals_simulating_again() {
        let deals = spread_deals(800);
        let (as_of, sims, seed) = (day(AS_OF), 3_000, 11);
        let earlier = simulate(&deals, as_of, quarter(), 500.0, sims, seed);
        let mut edited = deals.clone();
        edited[3].amount += 100.0;
        edited[400].win_prob = 0.61;
        edited[799].days_to_close = [2.0, 9.0, 20.0];
        let updated = simulate_from(Some(&earlier), &edited, as_of, quarter(), 500.0, sims, seed);
        let full = simulate(&edited, as_of, quarter(), 500.0, sims, seed);
        assert_eq!(updated, full);
        assert_ne!(updated.samples, earlier.samples);

        // A deal becoming certain changes which deals are drawn for; many
        // changes make updating dearer than running again: both still equal
        // a full simulation.
        let mut certain = deals.clone();
        certain[10].win_prob = 0.0;
        let mut many = deals.clone();
        for d in many.iter_mut().step_by(3) {
            d.amount *= 2.0;
        }
        for changed in [certain, many] {
            assert_eq!(
                simulate_from(
                    Some(&earlier),
                    &changed,
                    as_of,
                    quarter(),
                    500.0,
                    sims,
                    seed
                ),
                simulate(&changed, as_of, quarter(), 500.0, sims, seed)
            );
        }
        // Another seed or number of runs is a different simulation.
        assert_eq!(
            simulate_from(
                Some(&earlier),
                &edited,
                as_of,
                quarter(),
                500.0,
                sims,
                seed + 1
            ),
            simulate(&edited, as_of, quarter(), 500.0, sims, seed + 1)
        );
        assert_eq!(
            simulate_from(
                Some(&earlier),
                &edited,
                as_of,
                quarter(),
                500.0,
                1_000,
                seed
            ),
            simulate(&edited, as_of, quarter(), 500.0, 1_000, seed)
        );
    }

    #[test]
    fn a_swing_widens_the_band_around_the_same_expectation() {
        let deals = spread_deals(400);
        let (as_of, won) = (day("2026-10-05"), 50_000.0);
        let plain = simulate(&deals, as_of, quarter(), won, 20_000, 3);
        let v = 0.04;
        let swung = plain.clone().with_swing(v, 3);
        assert_eq!(swung.swing_sd, 0.2);
        assert_eq!(swung.own_sd, plain.own_sd);
        assert_eq!(swung.expected, plain.expected);
        // Won to date is known: no run falls below it.
        assert!(swung.samples.iter().all(|&r| r >= won));
        // Scaling the remaining R by F (mean 1, variance v, independent):
        // Var = s²(1 + v) + v·R², with s the band's own standard deviation.
        let remaining = plain.expected - won;
        let sd = |s: &Simulation| {
            let m = s.mean();
            (s.samples.iter().map(|r| (r - m).powi(2)).sum::<f64>() / s.samples.len() as f64).sqrt()
        };
        let want = (plain.own_sd.powi(2) * (1.0 + v) + v * remaining.powi(2)).sqrt();
        assert!((sd(&plain) - plain.own_sd).abs() < 1e-6 * plain.own_sd);
        assert!(
            (sd(&swung) / want - 1.0).abs() < 0.05,
            "{} vs {want}",
            sd(&swung)
        );
        assert!((swung.mean() / plain.mean() - 1.0).abs() < 0.01);
        assert!(
            swung.quantile(0.9) - swung.quantile(0.1)
                > 1.3 * (plain.quantile(0.9) - plain.quantile(0.1))
        );
        // Same seed, same runs; no swing, no change.
        assert_eq!(swung, plain.clone().with_swing(v, 3));
        assert_eq!(plain.clone().with_swing(0.0, 3), plain);
    }

    #[test]
    fn a_swing_scales_both_parts_of_a_run_alike() {
        let deals = spread_deals(100);
        let as_of = day("2026-10-05");
        let sims = 4_000;
        let plain = simulate(&deals, as_of, quarter(), 0.0, sims, 5);
        let new: Vec<f64> = (0..sims).map(|j| 1_000.0 + j as f64).collect();
        let both = plain.clone().adding_new(new, 2_999.5).with_swing(0.25, 5);
        let other_order = plain
            .with_swing(0.25, 5)
            .adding_new((0..sims).map(|j| 1_000.0 + j as f64).collect(), 2_999.5);
        assert_eq!(both, other_order);
        // The new part swings with the rest: its band widens too.
        let unswung = simulate(&deals, as_of, quarter(), 0.0, sims, 5)
            .adding_new((0..sims).map(|j| 1_000.0 + j as f64).collect(), 2_999.5);
        let band = |s: &Simulation, part| s.part_quantile(part, 0.9) - s.part_quantile(part, 0.1);
        assert!(band(&both, Part::New) > 1.2 * band(&unswung, Part::New));
        assert!(band(&both, Part::Existing) > 1.2 * band(&unswung, Part::Existing));
    }

    #[test]
    fn same_seed_same_numbers_and_quantiles_are_monotone() {
        let deals: Vec<OpenDeal> = (0..50)
            .map(|i| deal(100.0 * i as f64, 0.4, [3.0, 10.0, 40.0]))
            .collect();
        let a = simulate(&deals, day(AS_OF), quarter(), 0.0, 3000, 5);
        let b = simulate(&deals, day(AS_OF), quarter(), 0.0, 3000, 5);
        assert_eq!(a, b);
        let c = simulate(&deals, day(AS_OF), quarter(), 0.0, 3000, 6);
        assert_ne!(a.samples, c.samples);
        assert!(a.quantile(0.1) <= a.quantile(0.5) && a.quantile(0.5) <= a.quantile(0.9));
    }
}
