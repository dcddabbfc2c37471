//! Probability calibration of a binary model's raw margin.
//!
//! Boosted trees rank deals well but their probabilities are mis-calibrated:
//! shrinkage, early stopping and class weighting push the sigmoid of the
//! margin away from observed frequencies, usually towards over-confidence at
//! the ends. Leadership reads "70 % to close" literally and sums it into a
//! forecast, so we map the margin to a probability that matches the observed
//! win rate, on a calibration slice the booster did not train on.
//!
//! Two maps are offered. [`Calibration::Platt`] is a two-parameter sigmoid:
//! stable with little data but unable to follow a curve that is not
//! logistic. [`Calibration::Isotonic`] is any non-decreasing step curve
//! (interpolated here): it follows any shape but needs more data and
//! over-fits small slices. Isotonic is the more flexible of the two and so
//! always wins in-sample; [`fit_best`] therefore compares them by
//! cross-validated Brier score and refits the winner on the whole slice.
//!
//! Input is the model's *raw margin* (for LightGBM, the log-odds from a
//! raw-score prediction), not a probability: Platt is linear in the margin,
//! and on an already calibrated model it comes out at `a ≈ 1, b ≈ 0`.
//! Either map also works on any score where larger means more likely to win.
//!
//! This module does not choose the calibration slice, nor does it evaluate the
//! result; see [`crate::metrics`] for that.

use crate::metrics::brier;
use serde::{Deserialize, Serialize};

/// Fewest rows [`fit_best`] accepts: below this each fold holds a handful of
/// rows and the comparison is noise.
pub const MIN_CALIBRATION_ROWS: usize = 20;

/// Number of cross-validation folds in [`fit_best`].
pub const CV_FOLDS: usize = 5;

/// Isotonic probabilities are kept inside `[EPS, 1 - EPS]` even after
/// smoothing (see [`smoothed`]).
const ISOTONIC_PROB_EPS: f64 = 1e-4;

/// Each block's probability: its win rate, except where blocks hold only
/// losses (or only wins). Those — the run of all-loss blocks at the low end
/// and of all-win blocks at the high end (PAV keeps equal-rate neighbours
/// apart) — get the Laplace estimate of the whole run, `(wins + 1) /
/// (n + 2)`, instead of 0 (or 1): no calibrated score claims certainty,
/// since the next deal landing there may well have the other outcome.
/// Taken per run, not per block, so a run of many one-deal blocks is
/// smoothed as the many deals it holds.
fn smoothed(blocks: &[Block]) -> Vec<f64> {
    let pure = |b: &Block| b.positives == 0 || b.positives == b.count;
    let mut probs = Vec::with_capacity(blocks.len());
    let mut i = 0;
    while i < blocks.len() {
        let b = &blocks[i];
        if !pure(b) {
            probs.push(b.positives as f64 / b.count as f64);
            i += 1;
            continue;
        }
        let all_won = b.positives == b.count;
        let run = blocks[i..]
            .iter()
            .take_while(|r| pure(r) && (r.positives == r.count) == all_won)
            .count();
        let (wins, n) = blocks[i..i + run]
            .iter()
            .fold((0usize, 0usize), |(w, n), r| (w + r.positives, n + r.count));
        let p = (wins as f64 + 1.0) / (n as f64 + 2.0);
        probs.extend(std::iter::repeat_n(p, run));
        i += run;
    }
    for p in probs.iter_mut() {
        *p = p.clamp(ISOTONIC_PROB_EPS, 1.0 - ISOTONIC_PROB_EPS);
    }
    // A small smoothed run can pass its neighbour: non-decreasing again.
    for i in 1..probs.len() {
        probs[i] = probs[i].max(probs[i - 1]);
    }
    probs
}

/// Newton iterations for Platt; it converges in well under 20 in practice.
const PLATT_MAX_ITERATIONS: usize = 100;
/// Stop when the Newton decrement `g' H^-1 g` of the *mean* loss falls below
/// this: twice the decrease still on offer, already near the rounding noise of
/// the loss, with (a, b) within about 1e-6 of the optimum.
const PLATT_DECREMENT_TOLERANCE: f64 = 1e-12;
/// Sufficient-decrease constant of the backtracking line search (Armijo).
const PLATT_ARMIJO: f64 = 1e-4;
/// Shortest step tried before the line search gives up on a direction.
const PLATT_MIN_STEP: f64 = 1e-10;
/// Levenberg damping added to the Hessian's diagonal when a Newton step fails:
/// first value tried, growth factor, and the value at which we stop.
const PLATT_DAMPING_START: f64 = 1e-6;
const PLATT_DAMPING_GROWTH: f64 = 100.0;
const PLATT_DAMPING_MAX: f64 = 1e6;

/// A fitted map from a binary model's raw margin to a calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibration {
    /// p = 1 / (1 + exp(-(a * margin + b)))
    Platt {
        /// Slope on the margin; about 1 when the margin is already calibrated log-odds.
        a: f64,
        /// Intercept: the log-odds at margin 0.
        b: f64,
    },
    /// Piecewise-linear non-decreasing map from margin to probability through `(margins[i], probs[i])`; constant beyond the ends.
    Isotonic {
        /// Knot margins, increasing: the mean margin of each pooled block.
        margins: Vec<f64>,
        /// Probability at each knot, non-decreasing, within `[1e-4, 1 - 1e-4]` when fitted.
        probs: Vec<f64>,
    },
}

impl Calibration {
    /// The calibrated probability for `margin`, in `[0, 1]`; NaN stays NaN.
    ///
    /// An isotonic map with no points (fitted on no rows) gives 0.5, as does
    /// Platt fitted on no rows.
    pub fn apply(&self, margin: f64) -> f64 {
        if margin.is_nan() {
            return f64::NAN;
        }
        match self {
            Calibration::Platt { a, b } => {
                // With a = 0 an infinite margin would give 0 * inf = NaN.
                let z = if *a == 0.0 { *b } else { a * margin + b };
                sigmoid(z)
            }
            Calibration::Isotonic { margins, probs } => {
                interpolate(margins, probs, margin).clamp(0.0, 1.0)
            }
        }
    }

    /// The method's name as it appears in JSON: `"platt"` or `"isotonic"`.
    pub fn method(&self) -> &'static str {
        match self {
            Calibration::Platt { .. } => "platt",
            Calibration::Isotonic { .. } => "isotonic",
        }
    }

    /// Fits Platt scaling by maximum likelihood.
    ///
    /// Follows Platt (1999) with its smoothed targets `t+ = (N+ + 1)/(N+ + 2)`
    /// and `t- = 1/(N- + 2)`, which keep the fit finite on separable data and
    /// when one class is tiny or absent, and the numerically careful Newton
    /// method of Lin, Lin & Weng (2007): backtracking line search, plus
    /// Levenberg damping of the Hessian when it is near-singular or a step
    /// fails. If all margins are equal the slope is unidentified and set to
    /// 0, with `b` fitted alone. Rows with a non-finite margin are skipped.
    pub fn fit_platt(margins: &[f64], labels: &[bool]) -> Calibration {
        assert_eq!(margins.len(), labels.len(), "one label per margin");
        let rows = finite_rows(margins, labels);
        if rows.is_empty() {
            return Calibration::Platt { a: 0.0, b: 0.0 };
        }
        let positives = rows.iter().filter(|r| r.1).count() as f64;
        let negatives = rows.len() as f64 - positives;
        let target_positive = (positives + 1.0) / (positives + 2.0);
        let target_negative = 1.0 / (negatives + 2.0);
        let rows: Vec<(f64, f64)> = rows
            .into_iter()
            .map(|(m, y)| (m, if y { target_positive } else { target_negative }))
            .collect();

        if rows.iter().all(|r| r.0 == rows[0].0) {
            // Only a * m + b is identified; a slope of 0 is the honest answer,
            // and b is then the logit of the mean smoothed target.
            let mean_target = rows.iter().map(|r| r.1).sum::<f64>() / rows.len() as f64;
            let b = (mean_target / (1.0 - mean_target)).ln();
            return Calibration::Platt { a: 0.0, b };
        }

        // Start from the smoothed prior with no slope, as Platt does.
        let mut params = [0.0, ((positives + 1.0) / (negatives + 1.0)).ln()];
        let mut loss = platt_loss(&rows, params);
        let mut damping = 0.0;
        for _ in 0..PLATT_MAX_ITERATIONS {
            let (gradient, hessian) = platt_derivatives(&rows, params);
            // Try the Newton step; if the Hessian is singular or no step
            // along it decreases the loss, damp the Hessian (moving towards
            // gradient descent) and retry.
            let accepted = loop {
                if let Some((direction, slope)) = newton_direction(gradient, hessian, damping) {
                    if -slope < PLATT_DECREMENT_TOLERANCE {
                        break None;
                    }
                    if let Some(step) = line_search(&rows, params, loss, direction, slope) {
                        break Some(step);
                    }
                }
                damping = if damping == 0.0 {
                    PLATT_DAMPING_START
                } else {
                    damping * PLATT_DAMPING_GROWTH
                };
                if damping > PLATT_DAMPING_MAX {
                    break None;
                }
            };
            match accepted {
                Some((new_params, new_loss)) => {
                    params = new_params;
                    loss = new_loss;
                    damping /= PLATT_DAMPING_GROWTH;
                    if damping < PLATT_DAMPING_START {
                        damping = 0.0;
                    }
                }
                // Converged, or no direction decreases the loss beyond
                // rounding: either way we are at the optimum.
                None => break,
            }
        }
        Calibration::Platt {
            a: params[0],
            b: params[1],
        }
    }

    /// Fits isotonic regression of the labels on the margins.
    ///
    /// Pool-adjacent-violators on the rows sorted by margin, with tied
    /// margins pooled first so equal margins always get equal probabilities.
    /// Each final block becomes one point: its mean margin and its positive
    /// rate, clipped to `[1e-4, 1 - 1e-4]`. Rows with a non-finite margin
    /// are skipped; with no rows left the map is empty (see [`Self::apply`]).
    pub fn fit_isotonic(margins: &[f64], labels: &[bool]) -> Calibration {
        assert_eq!(margins.len(), labels.len(), "one label per margin");
        let mut rows = finite_rows(margins, labels);
        rows.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));

        let mut blocks: Vec<Block> = Vec::new();
        let mut start = 0;
        while start < rows.len() {
            // `==` so that -0.0 and 0.0 pool; they are adjacent once sorted.
            let margin = rows[start].0;
            let end = start + rows[start..].iter().take_while(|r| r.0 == margin).count();
            let mut block = Block {
                margin_sum: margin * (end - start) as f64,
                positives: rows[start..end].iter().filter(|r| r.1).count(),
                count: end - start,
            };
            while let Some(previous) = blocks.last() {
                if !previous.rate_exceeds(&block) {
                    break;
                }
                let previous = blocks.pop().expect("last() just returned a block");
                block = previous.merge(block);
            }
            blocks.push(block);
            start = end;
        }

        Calibration::Isotonic {
            margins: blocks
                .iter()
                .map(|b| b.margin_sum / b.count as f64)
                .collect(),
            probs: smoothed(&blocks),
        }
    }

    /// Whether the map is non-decreasing in the margin: `a >= 0` for Platt;
    /// sorted margins and probabilities of equal length for isotonic.
    pub fn is_monotone(&self) -> bool {
        match self {
            Calibration::Platt { a, .. } => *a >= 0.0,
            Calibration::Isotonic { margins, probs } => {
                margins.len() == probs.len()
                    && margins.windows(2).all(|w| w[0] <= w[1])
                    && probs.windows(2).all(|w| w[0] <= w[1])
            }
        }
    }
}

/// Which calibration [`fit_best`] chose, and the evidence for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationChoice {
    /// `"platt"` or `"isotonic"`, as in [`Calibration::method`].
    pub method: String,
    /// Out-of-fold Brier score of Platt scaling over the whole slice.
    pub platt_cv_brier: f64,
    /// Out-of-fold Brier score of isotonic regression over the whole slice.
    pub isotonic_cv_brier: f64,
    /// Number of cross-validation folds.
    pub folds: usize,
}

/// Why a calibration slice cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// Fewer rows than [`MIN_CALIBRATION_ROWS`].
    #[error(
        "calibration needs at least {min} rows, got {rows} ({positives} won, {negatives} lost)",
        min = MIN_CALIBRATION_ROWS,
        rows = .positives + .negatives
    )]
    TooFewRows { positives: usize, negatives: usize },
    /// Every row has the same outcome, so there is nothing to calibrate to.
    #[error("calibration needs both outcomes, got {positives} won and {negatives} lost rows")]
    SingleClass { positives: usize, negatives: usize },
    /// A margin is NaN or infinite.
    #[error("margin of row {row} is {value}; calibration needs finite margins")]
    NonFiniteMargin { row: usize, value: f64 },
}

/// Compares Platt and isotonic by K-fold (K = 5, deterministic fold assignment i % K) cross-validated Brier on the calibration slice, then refits the winner on all of it.
///
/// Both CV scores are pooled over all out-of-fold predictions. Ties go to
/// Platt, the simpler map. Fold `k` holds rows `k, k + 5, k + 10, …`, so an
/// input ordered by time or by margin still spreads every region over all
/// folds; rows are used in the order given.
pub fn fit_best(
    margins: &[f64],
    labels: &[bool],
) -> Result<(Calibration, CalibrationChoice), CalibrationError> {
    assert_eq!(margins.len(), labels.len(), "one label per margin");
    if let Some(row) = margins.iter().position(|m| !m.is_finite()) {
        return Err(CalibrationError::NonFiniteMargin {
            row,
            value: margins[row],
        });
    }
    let positives = labels.iter().filter(|&&y| y).count();
    let negatives = labels.len() - positives;
    if labels.len() < MIN_CALIBRATION_ROWS {
        return Err(CalibrationError::TooFewRows {
            positives,
            negatives,
        });
    }
    if positives == 0 || negatives == 0 {
        return Err(CalibrationError::SingleClass {
            positives,
            negatives,
        });
    }

    let mut platt_out_of_fold = vec![0.0; margins.len()];
    let mut isotonic_out_of_fold = vec![0.0; margins.len()];
    for fold in 0..CV_FOLDS {
        let (train_margins, train_labels): (Vec<f64>, Vec<bool>) = (0..margins.len())
            .filter(|i| i % CV_FOLDS != fold)
            .map(|i| (margins[i], labels[i]))
            .unzip();
        let platt = Calibration::fit_platt(&train_margins, &train_labels);
        let isotonic = Calibration::fit_isotonic(&train_margins, &train_labels);
        for i in (fold..margins.len()).step_by(CV_FOLDS) {
            platt_out_of_fold[i] = platt.apply(margins[i]);
            isotonic_out_of_fold[i] = isotonic.apply(margins[i]);
        }
    }
    let platt_cv_brier = brier(&platt_out_of_fold, labels);
    let isotonic_cv_brier = brier(&isotonic_out_of_fold, labels);

    let calibration = if isotonic_cv_brier < platt_cv_brier {
        Calibration::fit_isotonic(margins, labels)
    } else {
        Calibration::fit_platt(margins, labels)
    };
    let choice = CalibrationChoice {
        method: calibration.method().to_string(),
        platt_cv_brier,
        isotonic_cv_brier,
        folds: CV_FOLDS,
    };
    Ok((calibration, choice))
}

/// A run of consecutive rows (by margin) pooled by pool-adjacent-violators.
struct Block {
    margin_sum: f64,
    positives: usize,
    count: usize,
}

impl Block {
    /// Whether this block's positive rate is strictly above `next`'s; compared
    /// by cross-multiplying counts so equal rates are exactly equal.
    fn rate_exceeds(&self, next: &Block) -> bool {
        (self.positives as u128) * (next.count as u128)
            > (next.positives as u128) * (self.count as u128)
    }

    fn merge(self, next: Block) -> Block {
        Block {
            margin_sum: self.margin_sum + next.margin_sum,
            positives: self.positives + next.positives,
            count: self.count + next.count,
        }
    }
}

fn finite_rows(margins: &[f64], labels: &[bool]) -> Vec<(f64, bool)> {
    margins
        .iter()
        .zip(labels)
        .filter(|(m, _)| m.is_finite())
        .map(|(&m, &y)| (m, y))
        .collect()
}

/// Linear interpolation through `(margins[i], probs[i])`, constant beyond the
/// ends. Tolerates maps that did not come from [`Calibration::fit_isotonic`]
/// (unsorted, unequal lengths) without panicking.
fn interpolate(margins: &[f64], probs: &[f64], margin: f64) -> f64 {
    let n = margins.len().min(probs.len());
    if n == 0 {
        return 0.5;
    }
    if margin <= margins[0] {
        return probs[0];
    }
    if margin >= margins[n - 1] {
        return probs[n - 1];
    }
    // margins[j - 1] <= margin < margins[j] when the margins are sorted.
    let j = margins[..n]
        .partition_point(|&x| x <= margin)
        .clamp(1, n - 1);
    let (m0, m1) = (margins[j - 1], margins[j]);
    if m1 > m0 {
        let weight = ((margin - m0) / (m1 - m0)).clamp(0.0, 1.0);
        probs[j - 1] + weight * (probs[j] - probs[j - 1])
    } else {
        probs[j]
    }
}

fn sigmoid(z: f64) -> f64 {
    // Two forms so exp never overflows.
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^x)` without overflow or loss of precision for large |x|.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Mean cross-entropy of the smoothed targets under `sigmoid(a m + b)`.
fn platt_loss(rows: &[(f64, f64)], [a, b]: [f64; 2]) -> f64 {
    let total: f64 = rows
        .iter()
        .map(|&(m, t)| {
            let z = a * m + b;
            // -t ln p - (1 - t) ln(1 - p), with ln p = -softplus(-z) and
            // ln(1 - p) = -softplus(z).
            t * softplus(-z) + (1.0 - t) * softplus(z)
        })
        .sum();
    total / rows.len() as f64
}

/// Gradient and Hessian `[h_aa, h_ab, h_bb]` of [`platt_loss`].
fn platt_derivatives(rows: &[(f64, f64)], [a, b]: [f64; 2]) -> ([f64; 2], [f64; 3]) {
    let mut gradient = [0.0; 2];
    let mut hessian = [0.0; 3];
    for &(m, t) in rows {
        let p = sigmoid(a * m + b);
        let residual = p - t;
        let curvature = p * (1.0 - p);
        gradient[0] += residual * m;
        gradient[1] += residual;
        hessian[0] += curvature * m * m;
        hessian[1] += curvature * m;
        hessian[2] += curvature;
    }
    let n = rows.len() as f64;
    (gradient.map(|g| g / n), hessian.map(|h| h / n))
}

/// The damped Newton direction `-(H + damping I)^-1 g` and the directional
/// derivative `g . d` along it (minus the Newton decrement when undamped);
/// `None` if the damped Hessian is singular or the direction is not downhill.
fn newton_direction(
    gradient: [f64; 2],
    [h_aa, h_ab, h_bb]: [f64; 3],
    damping: f64,
) -> Option<([f64; 2], f64)> {
    let (h00, h11) = (h_aa + damping, h_bb + damping);
    let determinant = h00 * h11 - h_ab * h_ab;
    // Relative test: a determinant that is rounding noise means singular.
    // Written so that NaN also counts as singular.
    let invertible = determinant > 1e-12 * h00 * h11;
    if !invertible {
        return None;
    }
    let direction = [
        -(h11 * gradient[0] - h_ab * gradient[1]) / determinant,
        -(h00 * gradient[1] - h_ab * gradient[0]) / determinant,
    ];
    let slope = gradient[0] * direction[0] + gradient[1] * direction[1];
    (slope <= 0.0).then_some((direction, slope))
}

/// Backtracking from the full step along `direction`: the new parameters and
/// loss at the first step that decreases the loss enough (Armijo).
fn line_search(
    rows: &[(f64, f64)],
    params: [f64; 2],
    loss: f64,
    direction: [f64; 2],
    slope: f64,
) -> Option<([f64; 2], f64)> {
    let mut step = 1.0;
    while step >= PLATT_MIN_STEP {
        let candidate = [
            params[0] + step * direction[0],
            params[1] + step * direction[1],
        ];
        let candidate_loss = platt_loss(rows, candidate);
        if candidate_loss <= loss + PLATT_ARMIJO * step * slope {
            return Some((candidate, candidate_loss));
        }
        step /= 2.0;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Knuth's MMIX linear congruential generator: deterministic test data
    /// without a `rand` dependency.
    struct Lcg(u64);

    impl Lcg {
        fn uniform(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Top 53 bits: the well-mixed ones, exactly representable.
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// `n` margins uniform on `[-4, 4]` with labels drawn from `truth(margin)`.
    fn sample(seed: u64, n: usize, truth: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<bool>) {
        let mut rng = Lcg(seed);
        (0..n)
            .map(|_| {
                let margin = -4.0 + 8.0 * rng.uniform();
                (margin, rng.uniform() < truth(margin))
            })
            .unzip()
    }

    fn platt_params(c: &Calibration) -> (f64, f64) {
        match c {
            Calibration::Platt { a, b } => (*a, *b),
            other => panic!("expected Platt, got {other:?}"),
        }
    }

    #[test]
    fn platt_recovers_a_known_logistic_curve() {
        let (margins, labels) = sample(7, 20_000, |m| sigmoid(1.5 * m - 0.5));
        let (a, b) = platt_params(&Calibration::fit_platt(&margins, &labels));
        assert!((a - 1.5).abs() < 0.1, "a = {a}");
        assert!((b + 0.5).abs() < 0.1, "b = {b}");
    }

    #[test]
    fn platt_stays_finite_on_separable_and_lopsided_data() {
        // Perfectly separable: unsmoothed maximum likelihood would send a to infinity.
        let margins: Vec<f64> = (0..100).map(|i| i as f64 - 50.0).collect();
        let labels: Vec<bool> = margins.iter().map(|&m| m > 0.0).collect();
        let fit = Calibration::fit_platt(&margins, &labels);
        let (a, b) = platt_params(&fit);
        assert!(
            a.is_finite() && b.is_finite() && a > 0.0,
            "a = {a}, b = {b}"
        );
        assert!(fit.apply(49.0) > 0.9 && fit.apply(-50.0) < 0.1);

        // One win in 500 deals.
        let margins: Vec<f64> = (0..500).map(|i| i as f64 / 100.0).collect();
        let mut labels = vec![false; 500];
        labels[250] = true;
        let fit = Calibration::fit_platt(&margins, &labels);
        let (a, b) = platt_params(&fit);
        assert!(a.is_finite() && b.is_finite());
        assert!((0..500).all(|i| {
            let p = fit.apply(margins[i]);
            p > 0.0 && p < 0.05
        }));
    }

    #[test]
    fn platt_on_constant_margins_gives_the_smoothed_rate() {
        // Singular Hessian: only 2a + b is identified, so a = 0. With 3 of 10 positive
        // the smoothed targets are t+ = 4/5, t- = 1/9, so the optimum is
        // p = (3 * 4/5 + 7 * 1/9) / 10 = 0.31778.
        let margins = [2.0; 10];
        let labels = [
            true, true, true, false, false, false, false, false, false, false,
        ];
        let fit = Calibration::fit_platt(&margins, &labels);
        assert_eq!(platt_params(&fit).0, 0.0);
        assert!(fit.is_monotone());
        let expected = (3.0 * 0.8 + 7.0 / 9.0) / 10.0;
        assert!(
            (fit.apply(2.0) - expected).abs() < 1e-6,
            "{}",
            fit.apply(2.0)
        );
    }

    #[test]
    fn platt_on_no_rows_or_one_class_does_not_panic() {
        assert_eq!(Calibration::fit_platt(&[], &[]).apply(3.0), 0.5);
        let fit = Calibration::fit_platt(&[1.0, 2.0, 3.0], &[true; 3]);
        // All positive: smoothed target 4/5 everywhere.
        assert!((fit.apply(2.0) - 0.8).abs() < 1e-6);
    }

    #[test]
    fn isotonic_matches_hand_worked_pav() {
        // Sorted by margin, labels as 0/1:
        //   -1: {1, 0} (tie, pooled first -> 1/2, weight 2)
        //    0: 0   1: 1   2: 1   3: 0   4: 0   5: 1
        // PAV, left to right:
        //   [-1: 1/2] then 0 -> violates; pool -> {-1,-1,0}: 1/3, mean margin -2/3
        //   push 1 @1, push 1 @2 (equal rates are not a violation)
        //   0 @3 violates 1 @2 -> {2,3}: 1/2, which violates 1 @1 -> {1,2,3}: 2/3
        //   0 @4 violates 2/3 -> {1,2,3,4}: 2/4 = 1/2, mean margin 2.5; 1/3 <= 1/2 stops
        //   push 1 @5
        // Points: (-2/3, 1/3), (2.5, 1/2), (5, 1/1 won -> Laplace (1+1)/(1+2) = 2/3).
        let margins = [3.0, -1.0, 5.0, 0.0, 2.0, -1.0, 4.0, 1.0];
        let labels = [false, true, true, false, true, false, false, true];
        let fit = Calibration::fit_isotonic(&margins, &labels);
        let Calibration::Isotonic {
            margins: points,
            probs,
        } = &fit
        else {
            panic!("expected isotonic, got {fit:?}");
        };
        let expected_margins = [-2.0 / 3.0, 2.5, 5.0];
        let expected_probs = [1.0 / 3.0, 0.5, 2.0 / 3.0];
        assert_eq!(points.len(), 3);
        for i in 0..3 {
            assert!(
                (points[i] - expected_margins[i]).abs() < 1e-12,
                "{points:?}"
            );
            assert!((probs[i] - expected_probs[i]).abs() < 1e-12, "{probs:?}");
        }
        assert!(fit.is_monotone());
        // Halfway between the first two points: 1/3 + (1/2 - 1/3)/2 = 5/12.
        let midway = (-2.0 / 3.0 + 2.5) / 2.0;
        assert!((fit.apply(midway) - 5.0 / 12.0).abs() < 1e-12);
    }

    /// Many one-deal all-loss blocks at the low end are one run of losses:
    /// smoothed together to about 0, not each to 1/3.
    #[test]
    fn a_run_of_small_pure_blocks_is_smoothed_as_one() {
        let margins: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let labels: Vec<bool> = (0..100).map(|i| i >= 90).collect();
        let fit = Calibration::fit_isotonic(&margins, &labels);
        assert!(fit.apply(0.0) < 0.02, "{}", fit.apply(0.0));
        assert!(
            fit.apply(99.0) > 0.9 && fit.apply(99.0) < 1.0,
            "{}",
            fit.apply(99.0)
        );
        assert!(fit.is_monotone());
    }

    #[test]
    fn isotonic_is_monotone_and_clipped_on_noisy_data() {
        let (margins, labels) = sample(11, 3_000, sigmoid);
        let fit = Calibration::fit_isotonic(&margins, &labels);
        assert!(fit.is_monotone());
        let Calibration::Isotonic { probs, .. } = &fit else {
            unreachable!()
        };
        assert!(probs.iter().all(|&p| (1e-4..=1.0 - 1e-4).contains(&p)));
        let grid: Vec<f64> = (-60..=60).map(|i| fit.apply(i as f64 / 10.0)).collect();
        assert!(grid.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn apply_is_constant_beyond_the_ends() {
        let fit = Calibration::Isotonic {
            margins: vec![-1.0, 1.0],
            probs: vec![0.2, 0.6],
        };
        assert_eq!(fit.apply(-1e300), 0.2);
        assert_eq!(fit.apply(-1.0), 0.2);
        assert_eq!(fit.apply(0.0), 0.4);
        assert_eq!(fit.apply(1.0), 0.6);
        assert_eq!(fit.apply(f64::INFINITY), 0.6);
        assert!(fit.apply(f64::NAN).is_nan());

        let platt = Calibration::Platt { a: 2.0, b: 0.0 };
        assert_eq!(platt.apply(f64::INFINITY), 1.0);
        assert_eq!(platt.apply(f64::NEG_INFINITY), 0.0);
        assert_eq!(platt.apply(-800.0), 0.0);
        assert!(platt.apply(f64::NAN).is_nan());
        assert_eq!(
            Calibration::Platt { a: 0.0, b: 0.0 }.apply(f64::INFINITY),
            0.5
        );

        let empty = Calibration::Isotonic {
            margins: vec![],
            probs: vec![],
        };
        assert_eq!(empty.apply(1.0), 0.5);
    }

    #[test]
    fn is_monotone_detects_decreasing_maps() {
        assert!(Calibration::Platt { a: 0.5, b: -1.0 }.is_monotone());
        assert!(!Calibration::Platt { a: -0.5, b: -1.0 }.is_monotone());
        let falling = Calibration::Isotonic {
            margins: vec![0.0, 1.0],
            probs: vec![0.6, 0.2],
        };
        assert!(!falling.is_monotone());
    }

    #[test]
    fn fit_best_picks_isotonic_for_a_step_curve() {
        // At 10 000 rows the choice was right for each of the 40 seeds we tried;
        // at 2 000 it was wrong for one step seed and five logistic ones.
        let (margins, labels) = sample(3, 10_000, |m| if m < 1.0 { 0.15 } else { 0.75 });
        let (fit, choice) = fit_best(&margins, &labels).expect("valid slice");
        assert_eq!(choice.method, "isotonic", "{choice:?}");
        assert!(matches!(fit, Calibration::Isotonic { .. }));
        assert!(choice.isotonic_cv_brier < choice.platt_cv_brier);
        assert_eq!(choice.folds, 5);
    }

    #[test]
    fn fit_best_picks_platt_for_a_logistic_curve() {
        // Same size as above; see there.
        let (margins, labels) = sample(5, 10_000, |m| sigmoid(0.8 * m + 0.3));
        let (fit, choice) = fit_best(&margins, &labels).expect("valid slice");
        assert_eq!(choice.method, "platt", "{choice:?}");
        assert!(matches!(fit, Calibration::Platt { .. }));
        assert!(choice.platt_cv_brier < choice.isotonic_cv_brier);
        assert!(choice.platt_cv_brier > 0.0 && choice.isotonic_cv_brier < 0.25);
    }

    #[test]
    fn fit_best_rejects_unusable_slices() {
        let margins: Vec<f64> = (0..30).map(f64::from).collect();
        let err = fit_best(&margins, &[true; 30]).unwrap_err();
        assert!(matches!(
            err,
            CalibrationError::SingleClass {
                positives: 30,
                negatives: 0
            }
        ));
        assert_eq!(
            err.to_string(),
            "calibration needs both outcomes, got 30 won and 0 lost rows"
        );

        let labels: Vec<bool> = (0..10).map(|i| i % 2 == 0).collect();
        let err = fit_best(&margins[..10], &labels).unwrap_err();
        assert_eq!(
            err.to_string(),
            "calibration needs at least 20 rows, got 10 (5 won, 5 lost)"
        );

        let mut margins = margins;
        margins[4] = f64::NAN;
        let labels: Vec<bool> = (0..30).map(|i| i % 2 == 0).collect();
        let err = fit_best(&margins, &labels).unwrap_err();
        assert!(matches!(
            err,
            CalibrationError::NonFiniteMargin { row: 4, .. }
        ));
    }
}
