//! Revenue from deals that do not exist yet: created after the as-of date
//! and won inside the same quarter.
//!
//! A quarter's actual revenue holds deals created and won within it (on the
//! demo data about 15% of it), which no model of the open pipeline can see.
//! This module learns that part from history, **by week of the quarter**:
//! for each of the last complete quarters before the as-of date (at most
//! [`MAX_QUARTERS`]) and each week `w` (cut-off = quarter start + 7·w days),
//! it counts the deals created after the cut-off and won by the quarter's
//! end, and keeps their amounts.
//!
//! * **Volume.** A sales team grows: each past quarter's count is scaled by
//!   how many deals were created in the 91 days before the as-of date against
//!   how many were created in that quarter ([`Scales`]). A group (team,
//!   segment, owner) uses the whole pipeline's scales, as its own volume is
//!   too noisy to scale by.
//! * **Spread.** The count is negative binomial: Poisson around a mean that
//!   itself varies from quarter to quarter as much as the scaled past counts
//!   did (a gamma mixture fitted by moments; plain Poisson when the counts
//!   vary no more than Poisson would). Each new win's amount is drawn from
//!   the amounts of the past new wins of that week.
//! * **Periods.** The quarter containing the as-of date uses its week (the
//!   mean is interpolated between the two weekly cut-offs around the as-of
//!   date); a later whole quarter uses week 0, counting deals created inside
//!   it (deals created before it starts and won inside it are not counted, a
//!   small understatement for next quarter). Any other period gets no new
//!   pipeline: it is not a quarter the history describes.
//!
//! Draws come from their own ChaCha8 stream keyed by the seed, one run after
//! another, so the same inputs give the same runs on any machine.

use crate::simulation::Period;
use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Poisson};
use std::collections::HashMap;

/// Past complete quarters learned from, most recent first.
pub const MAX_QUARTERS: usize = 8;
/// Weekly cut-offs per quarter: weeks 0 to 12 (a quarter has 90–92 days).
pub const WEEKS: usize = 13;
/// Days of deal creation that measure the current volume.
const VOLUME_DAYS: i64 = 91;
/// RNG stream of the new-pipeline draws (the open deals use streams 0…).
const STREAM: u64 = 1 << 40;

/// A deal as the history of creation and wins sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CreatedDeal {
    pub created: NaiveDate,
    /// Day it was won, if it was.
    pub won: Option<NaiveDate>,
    pub amount: f64,
}

/// What one week of the quarter expects from deals not created yet.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekFit {
    /// Mean number of new wins still to come, at today's volume.
    pub mean_count: f64,
    /// Gamma shape of the count's mean (`None`: plain Poisson).
    pub shape: Option<f64>,
    /// Amounts of the past new wins of this week, to draw from.
    pub amounts: Vec<f64>,
    /// Past quarters behind the fit.
    pub quarters: usize,
}

impl WeekFit {
    fn empty() -> Self {
        Self {
            mean_count: 0.0,
            shape: None,
            amounts: Vec::new(),
            quarters: 0,
        }
    }

    fn mean_amount(&self) -> f64 {
        if self.amounts.is_empty() {
            0.0
        } else {
            self.amounts.iter().sum::<f64>() / self.amounts.len() as f64
        }
    }

    /// Expected revenue of the new wins.
    pub fn expected(&self) -> f64 {
        self.mean_count * self.mean_amount()
    }
}

/// Volume scale of each past quarter: deals created in the last
/// [`VOLUME_DAYS`] days before the as-of date / deals created in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scales(HashMap<Period, f64>);

impl Scales {
    /// The scales of the complete quarters before `as_of` that `history`
    /// covers from their first day (the most recent [`MAX_QUARTERS`]).
    /// Only deals created by `as_of` count.
    pub fn of(history: &[CreatedDeal], as_of: NaiveDate) -> Scales {
        let Some(first) = history.iter().map(|d| d.created).min() else {
            return Scales::default();
        };
        let recent = history
            .iter()
            .filter(|d| d.created <= as_of && (as_of - d.created).num_days() < VOLUME_DAYS)
            .count() as f64;
        let mut out = HashMap::new();
        for q in past_quarters(as_of, first) {
            let created = history
                .iter()
                .filter(|d| d.created >= q.start && d.created <= q.end)
                .count() as f64;
            if created > 0.0 {
                // Per 91 days, so a 92-day quarter is not counted as growth.
                let days = (q.end - q.start).num_days() as f64 + 1.0;
                out.insert(q, recent / (created * VOLUME_DAYS as f64 / days));
            }
        }
        Scales(out)
    }
}

/// The complete quarters before `as_of`'s quarter that start on or after
/// `first`, most recent first, at most [`MAX_QUARTERS`].
fn past_quarters(as_of: NaiveDate, first: NaiveDate) -> Vec<Period> {
    let mut q = Period::quarter_of(as_of);
    let mut out = Vec::new();
    while out.len() < MAX_QUARTERS {
        let Some(before) = q.start.pred_opt() else {
            break;
        };
        q = Period::quarter_of(before);
        if q.start < first {
            break;
        }
        out.push(q);
    }
    out
}

/// The cut-off of week `w` of quarter `q`.
pub fn week_cutoff(q: Period, w: usize) -> NaiveDate {
    q.start + chrono::Duration::days(7 * w as i64)
}

/// Weeks 0 to 12 of the quarter, as learned from history.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPipeline {
    pub weeks: Vec<WeekFit>,
}

impl Default for NewPipeline {
    fn default() -> Self {
        Self::none()
    }
}

impl NewPipeline {
    /// No new pipeline (no history to learn from).
    pub fn none() -> Self {
        Self {
            weeks: vec![WeekFit::empty(); WEEKS],
        }
    }

    /// Learns from `history` what was known at `as_of`: deals created by
    /// then and wins up to then, over the quarters `scales` covers.
    pub fn learn(history: &[CreatedDeal], as_of: NaiveDate, scales: &Scales) -> Self {
        let mut quarters: Vec<(&Period, &f64)> = scales.0.iter().collect();
        quarters.sort_by_key(|(q, _)| q.start);
        let weeks = (0..WEEKS)
            .map(|w| {
                let mut counts = Vec::new();
                let mut revenues = Vec::new();
                let mut amounts = Vec::new();
                for (q, scale) in &quarters {
                    let cut = week_cutoff(**q, w);
                    let (mut n, mut revenue) = (0usize, 0.0);
                    for d in history {
                        let Some(won) = d.won else { continue };
                        if d.created > cut && won <= q.end && won <= as_of && d.created <= as_of {
                            n += 1;
                            revenue += d.amount;
                            amounts.push(d.amount);
                        }
                    }
                    counts.push(n as f64 * **scale);
                    revenues.push(revenue * **scale);
                }
                fit(&counts, &revenues, amounts)
            })
            .collect();
        Self { weeks }
    }

    /// The fit and the share of its mean that applies to `period` seen
    /// from `as_of` (see the module doc), or `None` when the period gets no
    /// new pipeline.
    fn for_period(&self, as_of: NaiveDate, period: Period) -> Option<(&WeekFit, f64)> {
        if Period::quarter_of(period.start) != period || as_of > period.end {
            return None;
        }
        if as_of < period.start {
            return Some((&self.weeks[0], self.weeks[0].mean_count));
        }
        let days = (as_of - period.start).num_days() as f64;
        let w = ((days / 7.0).floor() as usize).min(WEEKS - 1);
        let next = (w + 1).min(WEEKS - 1);
        let frac = if next == w {
            0.0
        } else {
            (days - 7.0 * w as f64) / 7.0
        };
        // Expected revenue is interpolated (it adds up across groups); the
        // count's mean follows from week w's amounts.
        let (a, b) = (self.weeks[w].expected(), self.weeks[next].expected());
        // Past week 12 the few days left get week 12's rate, shrinking to 0
        // on the last day.
        let revenue = if next == w {
            let left = (period.end - as_of).num_days() as f64;
            let week12_left = (period.end - week_cutoff(period, w)).num_days() as f64;
            a * (left / week12_left.max(1.0)).clamp(0.0, 1.0)
        } else {
            a + (b - a) * frac
        };
        let mean_amount = self.weeks[w].mean_amount();
        let mean = if mean_amount > 0.0 {
            revenue / mean_amount
        } else {
            0.0
        };
        Some((&self.weeks[w], mean))
    }

    /// Expected new-pipeline revenue in `period`.
    pub fn expected(&self, as_of: NaiveDate, period: Period) -> f64 {
        self.for_period(as_of, period)
            .map_or(0.0, |(fit, mean)| mean * fit.mean_amount())
    }

    /// `sims` draws of new-pipeline revenue in `period`, in run order (empty
    /// when the period gets none).
    pub fn draws(&self, as_of: NaiveDate, period: Period, sims: usize, seed: u64) -> Vec<f64> {
        let Some((fit, mean)) = self.for_period(as_of, period) else {
            return Vec::new();
        };
        if mean <= 0.0 || fit.amounts.is_empty() {
            return Vec::new();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(STREAM);
        let gamma = fit.shape.and_then(|k| Gamma::new(k, mean / k).ok());
        (0..sims)
            .map(|_| {
                let lambda = gamma.as_ref().map_or(mean, |g| g.sample(&mut rng));
                let n = if lambda > 0.0 {
                    Poisson::new(lambda).map_or(0.0, |p| p.sample(&mut rng))
                } else {
                    0.0
                };
                (0..n as usize)
                    .map(|_| fit.amounts[rng.random_range(0..fit.amounts.len())])
                    .sum()
            })
            .collect()
    }
}

/// The week's fit from the scaled past counts and revenues: the expected
/// revenue is the mean scaled revenue (so the groups of a dimension add up
/// to the whole, quarter by quarter), the count's mean is that over the mean
/// amount, and its spread (negative binomial by moments) is the counts'.
fn fit(counts: &[f64], revenues: &[f64], amounts: Vec<f64>) -> WeekFit {
    let n = counts.len();
    if n == 0 || amounts.is_empty() {
        return WeekFit {
            quarters: n,
            ..WeekFit::empty()
        };
    }
    let mean_amount = amounts.iter().sum::<f64>() / amounts.len() as f64;
    let revenue = revenues.iter().sum::<f64>() / n as f64;
    let count = counts.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        counts.iter().map(|c| (c - count).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let shape = (n >= 3 && var > count && count > 0.0).then(|| count * count / (var - count));
    WeekFit {
        mean_count: if mean_amount > 0.0 {
            revenue / mean_amount
        } else {
            0.0
        },
        shape,
        amounts,
        quarters: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Every quarter of 2025: a deal created on the 1st of each month and
    /// won 20 days later for 1,000, plus one created late and never won.
    fn steady_history() -> Vec<CreatedDeal> {
        let mut h = Vec::new();
        for m in 1..=12 {
            let created = NaiveDate::from_ymd_opt(2025, m, 1).unwrap();
            h.push(CreatedDeal {
                created,
                won: Some(created + chrono::Duration::days(20)),
                amount: 1_000.0,
            });
            h.push(CreatedDeal {
                created: created + chrono::Duration::days(25),
                won: None,
                amount: 5_000.0,
            });
        }
        h
    }

    #[test]
    fn weeks_count_what_was_created_later_and_won_in_the_quarter() {
        let history = steady_history();
        let as_of = day("2026-01-01");
        let scales = Scales::of(&history, as_of);
        assert_eq!(scales.0.len(), 4, "the four quarters of 2025");
        let np = NewPipeline::learn(&history, as_of, &scales);
        // Week 0: the deals created on the 1st of months 2 and 3 (month 1's
        // is created on the cut-off day itself, so it already exists).
        let volume = scales.0.values().sum::<f64>() / 4.0;
        // The 91 days before the as-of date hold 5 of the usual 6 deals.
        assert!(volume > 0.8 && volume < 0.9, "steady volume: {volume}");
        assert!((np.weeks[0].mean_count - 2.0 * volume).abs() < 1e-9);
        // Week 5 (day 35): only month 3's.
        assert!((np.weeks[5].mean_count - volume).abs() < 1e-9);
        // Week 12 (day 84): month 3's deal was won on day ~79, before it.
        assert_eq!(np.weeks[12].mean_count, 0.0);
        assert!(
            np.weeks.iter().all(|w| w.shape.is_none()),
            "no spread beyond Poisson"
        );
        assert_eq!(
            np.expected(as_of, Period::quarter_of(as_of)),
            np.weeks[0].expected()
        );
    }

    #[test]
    fn nothing_after_the_as_of_date_is_learned() {
        let history = steady_history();
        let as_of = day("2025-07-01");
        let np = NewPipeline::learn(&history, as_of, &Scales::of(&history, as_of));
        let mut later = history.clone();
        // A flood of wins after the as-of date changes nothing.
        for k in 0..50 {
            later.push(CreatedDeal {
                created: day("2025-08-02") + chrono::Duration::days(k),
                won: Some(day("2025-09-01")),
                amount: 1e6,
            });
        }
        let np_later = NewPipeline::learn(&later, as_of, &Scales::of(&later, as_of));
        assert_eq!(np, np_later);
    }

    #[test]
    fn draws_are_deterministic_and_average_to_the_expectation() {
        let history = steady_history();
        let as_of = day("2026-01-01");
        let np = NewPipeline::learn(&history, as_of, &Scales::of(&history, as_of));
        let q = Period::quarter_of(as_of);
        let a = np.draws(as_of, q, 20_000, 7);
        assert_eq!(a, np.draws(as_of, q, 20_000, 7));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        let expected = np.expected(as_of, q);
        assert!(
            (mean - expected).abs() < 0.03 * expected,
            "{mean} vs {expected}"
        );
        // Not a quarter: no new pipeline.
        let month = Period {
            start: day("2026-01-01"),
            end: day("2026-01-31"),
        };
        assert!(np.draws(as_of, month, 10, 7).is_empty());
        assert_eq!(np.expected(as_of, month), 0.0);
    }

    #[test]
    fn counts_that_vary_more_than_poisson_get_a_wider_band() {
        let steady = fit(&[10.0; 4], &[10.0; 4], vec![1.0]);
        let wild = fit(&[2.0, 25.0, 4.0, 9.0], &[2.0, 25.0, 4.0, 9.0], vec![1.0]);
        assert!(steady.shape.is_none());
        assert_eq!((steady.mean_count, wild.mean_count), (10.0, 10.0));
        let k = wild.shape.unwrap();
        assert!(k > 0.0 && k < 10.0, "{k}");
        let np = |f: WeekFit| NewPipeline {
            weeks: vec![f; WEEKS],
        };
        let as_of = day("2026-01-01");
        let q = Period::quarter_of(as_of);
        let spread = |mut d: Vec<f64>| {
            d.sort_by(f64::total_cmp);
            d[(d.len() * 9) / 10] - d[d.len() / 10]
        };
        let w = np(wild).draws(as_of, q, 10_000, 1);
        let s = np(steady).draws(as_of, q, 10_000, 1);
        assert!(spread(w) > 1.5 * spread(s));
    }

    #[test]
    fn the_mean_falls_through_the_quarter() {
        let history = steady_history();
        let as_of = day("2026-01-01");
        let np = NewPipeline::learn(&history, as_of, &Scales::of(&history, as_of));
        let q = Period::quarter_of(as_of);
        let mut last = f64::INFINITY;
        for d in 0..90 {
            let e = np.expected(q.start + chrono::Duration::days(d), q);
            assert!(e <= last + 1e-9, "day {d}");
            last = e;
        }
        assert_eq!(np.expected(q.end, q), 0.0);
        assert_eq!(np.expected(q.end + chrono::Duration::days(1), q), 0.0);
    }

    #[test]
    fn groups_add_up_to_the_whole() {
        let mut history = steady_history();
        // A second group with other amounts and timings.
        for m in 1..=12 {
            let created = NaiveDate::from_ymd_opt(2025, m, 9).unwrap();
            history.push(CreatedDeal {
                created,
                won: Some(created + chrono::Duration::days(30)),
                amount: 250.0 * m as f64,
            });
        }
        let as_of = day("2026-02-10");
        let scales = Scales::of(&history, as_of);
        let whole = NewPipeline::learn(&history, as_of, &scales);
        let (a, b): (Vec<CreatedDeal>, Vec<CreatedDeal>) = history
            .iter()
            .partition(|d| d.amount == 1_000.0 || d.won.is_none());
        let (a, b) = (
            NewPipeline::learn(&a, as_of, &scales),
            NewPipeline::learn(&b, as_of, &scales),
        );
        let q = Period::quarter_of(as_of);
        let (w, parts) = (
            whole.expected(as_of, q),
            a.expected(as_of, q) + b.expected(as_of, q),
        );
        assert!(w > 0.0 && (w - parts).abs() < 1e-9 * w, "{w} vs {parts}");
    }
}
