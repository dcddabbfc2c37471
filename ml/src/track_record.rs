//! How far past forecasts missed beyond what their own band allowed, and
//! the quarter-wide swing that follows from it.
//!
//! The simulation treats deals as independent: each wins or slips on its
//! own. Real quarters also move as a whole — an end-of-quarter push that
//! lands or does not, a model that is a little optimistic on timing for
//! every deal at once — and a sum of independent deals hides that, so its
//! band is too narrow (on the demo data the P10–P90 band held the actual in
//! 64% of 104 past weeks, not 80%).
//!
//! The backtest says how large that shared swing is. At each past cut-off
//! the forecast expected `R` more revenue (open and new pipeline) with its
//! own standard deviation `s`; `ρ = (actual − won to date) / R` is what
//! came of it. If every run's remaining revenue is scaled by one factor `F`
//! (mean 1, variance `v`) independent of the deals, then
//! `E[(ρ − 1)²] = v + c² + v·c²` with `c = s / R`, so
//! `v = (mean (ρ − 1)² − mean c²) / mean (1 + c²)`, and 0 when the misses
//! were no larger than the band already allowed. A systematic bias of
//! earlier forecasts counts as a miss too, so it widens the band rather than
//! moves its middle: with eight quarters, a mean shift is too noisy to
//! correct by.
//!
//! The factor is learned per week of the quarter from the cut-offs within
//! [`WINDOW`] weeks of it (the swing late in a quarter, on the little still
//! to come, is not the swing at its start), and drawn lognormal: it cannot
//! make revenue negative.

use crate::new_pipeline::WEEKS;
use crate::simulation::Period;
use chrono::NaiveDate;

/// Past cut-offs within this many weeks of a week inform its swing.
pub const WINDOW: u32 = 2;

/// One past forecast and what came of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Miss {
    /// The quarter forecast.
    pub period_start: NaiveDate,
    /// Whole weeks from the quarter's start to the cut-off.
    pub week: u32,
    /// Actual revenue still to come at the cut-off / the expected.
    pub ratio: f64,
    /// The forecast's own standard deviation of that revenue / the expected.
    pub own_cv: f64,
}

impl Miss {
    /// The miss of a forecast that expected `remaining` more revenue than
    /// the `won_to_date` with standard deviation `own_sd`, when `actual`
    /// came; `None` when nothing was expected (no ratio to learn from).
    pub fn of(
        period_start: NaiveDate,
        week: u32,
        won_to_date: f64,
        remaining: f64,
        own_sd: f64,
        actual: f64,
    ) -> Option<Miss> {
        let ok = |x: f64| x.is_finite();
        (remaining > 0.0 && ok(won_to_date) && ok(own_sd) && ok(actual)).then(|| Miss {
            period_start,
            week,
            ratio: (actual - won_to_date) / remaining,
            own_cv: own_sd.max(0.0) / remaining,
        })
    }
}

/// The quarter-wide swing at one week, and how much it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swing {
    /// Variance of the factor every run's remaining revenue is scaled by.
    pub variance: f64,
    /// Past cut-offs behind it.
    pub cutoffs: usize,
}

impl Swing {
    pub const NONE: Swing = Swing {
        variance: 0.0,
        cutoffs: 0,
    };

    /// The factor's standard deviation (a fraction of the remaining revenue).
    pub fn sd(&self) -> f64 {
        self.variance.sqrt()
    }
}

/// Past forecasts' misses: what the band learns its quarter-wide swing from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackRecord {
    misses: Vec<Miss>,
}

impl TrackRecord {
    pub fn new(misses: Vec<Miss>) -> Self {
        Self { misses }
    }

    pub fn is_empty(&self) -> bool {
        self.misses.is_empty()
    }

    /// Cut-offs in the record.
    pub fn len(&self) -> usize {
        self.misses.len()
    }

    /// The swing at `week` of a quarter, from the cut-offs within
    /// [`WINDOW`] weeks of it.
    pub fn swing_at_week(&self, week: u32) -> Swing {
        let near: Vec<&Miss> = self
            .misses
            .iter()
            .filter(|m| m.week.abs_diff(week) <= WINDOW)
            .collect();
        if near.is_empty() {
            return Swing::NONE;
        }
        let n = near.len() as f64;
        let missed = near.iter().map(|m| (m.ratio - 1.0).powi(2)).sum::<f64>() / n;
        let own = near.iter().map(|m| m.own_cv.powi(2)).sum::<f64>() / n;
        Swing {
            variance: ((missed - own) / (1.0 + own)).max(0.0),
            cutoffs: near.len(),
        }
    }

    /// The swing of a forecast of `period` made at `as_of`: the week of the
    /// quarter it is made in, or week 0 for a quarter not begun (an
    /// understatement for a quarter further out than the next); none for a
    /// period that is not a calendar quarter or is over.
    pub fn swing(&self, as_of: NaiveDate, period: Period) -> Swing {
        if self.is_empty() || Period::quarter_of(period.start) != period || as_of >= period.end {
            return Swing::NONE;
        }
        let days = (as_of - period.start).num_days().max(0);
        self.swing_at_week(((days / 7) as u32).min(WEEKS as u32 - 1))
    }

    /// A short fingerprint of the record, for cache keys.
    pub fn key(&self) -> String {
        let text: String = self
            .misses
            .iter()
            .map(|m| format!("{}/{}/{}/{};", m.period_start, m.week, m.ratio, m.own_cv))
            .collect();
        crate::trained::fingerprint(&[text.as_bytes()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn miss(week: u32, ratio: f64, own_cv: f64) -> Miss {
        Miss {
            period_start: day("2025-01-01"),
            week,
            ratio,
            own_cv,
        }
    }

    #[test]
    fn misses_the_band_allowed_add_no_swing() {
        // Misses as large as the forecasts' own spread: nothing to add.
        let record = TrackRecord::new(vec![miss(3, 1.2, 0.2), miss(3, 0.8, 0.2)]);
        assert_eq!(record.swing_at_week(3).variance, 0.0);
        // Misses far beyond it: the factor's variance recovers them.
        let wide = TrackRecord::new(vec![miss(3, 1.5, 0.1), miss(3, 0.5, 0.1)]);
        let v = wide.swing_at_week(3).variance;
        assert!((v - (0.25 - 0.01) / 1.01).abs() < 1e-12, "{v}");
        // A steady bias is a miss too.
        let biased = TrackRecord::new(vec![miss(3, 0.6, 0.1), miss(3, 0.6, 0.1)]);
        assert!(biased.swing_at_week(3).variance > 0.1);
    }

    #[test]
    fn a_week_learns_from_its_neighbours_only() {
        let record = TrackRecord::new(vec![miss(0, 2.0, 0.1), miss(12, 1.05, 0.1)]);
        assert_eq!(record.swing_at_week(0).cutoffs, 1);
        assert!(record.swing_at_week(2).variance > 0.9);
        assert_eq!(record.swing_at_week(3), Swing::NONE);
        assert_eq!(record.swing_at_week(10).cutoffs, 1);
        assert_eq!(record.swing_at_week(10).variance, 0.0);
    }

    #[test]
    fn a_forecast_uses_the_week_it_is_made_in() {
        let record = TrackRecord::new(vec![miss(0, 2.0, 0.1), miss(12, 3.0, 0.1)]);
        let q = Period::quarter_of(day("2026-01-01"));
        assert_eq!(record.swing(day("2026-01-03"), q), record.swing_at_week(0));
        assert_eq!(record.swing(day("2026-03-30"), q), record.swing_at_week(12));
        // The next quarter, from before it starts: its week 0.
        assert_eq!(record.swing(day("2025-12-20"), q), record.swing_at_week(0));
        // Over, or not a quarter: none.
        assert_eq!(record.swing(day("2026-03-31"), q), Swing::NONE);
        let month = Period {
            start: day("2026-01-01"),
            end: day("2026-01-31"),
        };
        assert_eq!(record.swing(day("2026-01-03"), month), Swing::NONE);
    }

    #[test]
    fn nothing_expected_teaches_nothing() {
        assert!(Miss::of(day("2025-01-01"), 0, 10.0, 0.0, 0.0, 50.0).is_none());
        let m = Miss::of(day("2025-01-01"), 4, 10.0, 100.0, 20.0, 60.0).unwrap();
        assert_eq!((m.ratio, m.own_cv), (0.5, 0.2));
    }
}
