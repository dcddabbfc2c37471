//! Evaluation metrics for the win-probability model and the forecast quantiles.
//!
//! A probability model can be wrong in two separate ways, and we measure both:
//!
//! * **Discrimination** — does it rank won deals above lost ones? [`auc`]
//!   answers this and is blind to the probability scale: squashing every
//!   prediction towards 50 % leaves it unchanged.
//! * **Calibration** — when it says 70 %, do 70 % of those deals close?
//!   Leadership reads the percentages literally, so this matters as much as
//!   ranking. [`reliability`] and [`expected_calibration_error`] show it
//!   directly; [`log_loss`] and [`brier`] are proper scoring rules that reward
//!   both properties at once and are what calibration methods are compared by.
//!
//! For the revenue forecast, [`pinball_loss`] scores a single quantile and
//! [`interval_coverage`] checks that an interval holds as many actuals as its
//! nominal level promises.
//!
//! Every function takes plain slices and returns plain numbers; none of them
//! fits anything. Empty inputs give 0 (and `None` for AUC) rather than NaN so
//! the results always serialize to JSON. Slices of different lengths are a
//! programming error and panic.

use serde::{Deserialize, Serialize};

/// Probabilities are clipped to `[EPS, 1 - EPS]` before taking logs, so one
/// confident mistake costs about 34.5 nats instead of infinity.
const LOG_LOSS_EPS: f64 = 1e-15;

/// Bins used by [`BinaryMetrics::compute`] for the reliability table and ECE.
pub const DEFAULT_BINS: usize = 10;

/// One equal-width bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin (inclusive).
    pub lower: f64,
    /// Upper edge of the bin (exclusive, except 1.0 for the last bin).
    pub upper: f64,
    /// Number of predictions that fell in the bin.
    pub count: usize,
    /// Mean predicted probability in the bin; 0.0 when the bin is empty.
    pub mean_predicted: f64,
    /// Share of positives in the bin; 0.0 when the bin is empty.
    pub observed_rate: f64,
}

/// The standard report on a binary probability model over one data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// Rows evaluated.
    pub rows: usize,
    /// Rows whose label is `true`.
    pub positives: usize,
    /// Area under the ROC curve; `None` when either class is absent.
    pub auc: Option<f64>,
    /// Mean negative log-likelihood in nats (see [`log_loss`]).
    pub log_loss: f64,
    /// Mean squared error of the probabilities (see [`brier`]).
    pub brier: f64,
    /// Expected calibration error over [`DEFAULT_BINS`] bins.
    pub ece: f64,
    /// Reliability table over [`DEFAULT_BINS`] equal-width bins.
    pub reliability: Vec<ReliabilityBin>,
}

impl BinaryMetrics {
    /// Computes every metric for predicted probabilities `probs` against `labels`.
    pub fn compute(probs: &[f64], labels: &[bool]) -> BinaryMetrics {
        assert_eq!(probs.len(), labels.len(), "one label per probability");
        let reliability = reliability(probs, labels, DEFAULT_BINS);
        BinaryMetrics {
            rows: probs.len(),
            positives: labels.iter().filter(|&&y| y).count(),
            auc: auc(probs, labels),
            log_loss: log_loss(probs, labels),
            brier: brier(probs, labels),
            ece: ece_from_bins(&reliability, probs.len()),
            reliability,
        }
    }
}

/// Area under the ROC curve: the probability that a random positive scores
/// above a random negative, ties counting one half.
///
/// Computed as the Mann–Whitney U statistic with average ranks for tied
/// scores, in O(n log n). `None` when either class is absent, since the
/// question has no answer then. Scores may be on any scale (margins or
/// probabilities); NaN scores sort above every number.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let positives = labels.iter().filter(|&&y| y).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }

    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&i, &j| scores[i].total_cmp(&scores[j]));

    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        // `==` rather than `total_cmp` so that -0.0 and 0.0 count as a tie;
        // they are adjacent in the total order, so grouping neighbours works.
        let score = scores[order[start]];
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == score {
            end += 1;
        }
        // Ranks start+1 ..= end share their average.
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| labels[i]).count();
        positive_rank_sum += average_rank * tied_positives as f64;
        start = end;
    }

    let (p, n) = (positives as f64, negatives as f64);
    let u = positive_rank_sum - p * (p + 1.0) / 2.0;
    Some(u / (p * n))
}

/// Mean negative log-likelihood (natural log) of the labels under `probs`.
///
/// Probabilities are clipped to `[1e-15, 1 - 1e-15]` (the one given to the
/// observed outcome, so both kinds of certain mistake cost the same ~34.5
/// nats). 0.0 for empty input.
pub fn log_loss(probs: &[f64], labels: &[bool]) -> f64 {
    assert_eq!(probs.len(), labels.len(), "one label per probability");
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            // Clip the probability of the outcome that happened, not `p`:
            // `1 - (1 - 1e-15)` is not 1e-15 in floating point, and the two
            // kinds of confident mistake should cost the same.
            let observed = if y { p } else { 1.0 - p };
            -observed.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS).ln()
        })
        .sum();
    mean(total, probs.len())
}

/// Brier score: mean of `(p - y)^2` with `y` in {0, 1}. 0.0 for empty input.
pub fn brier(probs: &[f64], labels: &[bool]) -> f64 {
    assert_eq!(probs.len(), labels.len(), "one label per probability");
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let error = p - if y { 1.0 } else { 0.0 };
            error * error
        })
        .sum();
    mean(total, probs.len())
}

/// Reliability table over `bins` equal-width bins of `[0, 1]`.
///
/// Bin `i` holds `i/bins <= p < (i+1)/bins`; `p = 1.0` goes in the last bin,
/// and probabilities outside `[0, 1]` go in the nearer end bin. Every bin is
/// returned, empty ones with `count = 0` and `mean_predicted` and
/// `observed_rate` set to 0.0 (not NaN, which JSON cannot carry): read an
/// empty bin by its count, not by its rates. Panics if `bins` is 0.
pub fn reliability(probs: &[f64], labels: &[bool], bins: usize) -> Vec<ReliabilityBin> {
    assert_eq!(probs.len(), labels.len(), "one label per probability");
    assert!(bins > 0, "a reliability table needs at least one bin");

    let mut counts = vec![0usize; bins];
    let mut predicted_sums = vec![0.0; bins];
    let mut positive_counts = vec![0usize; bins];
    for (&p, &y) in probs.iter().zip(labels) {
        let bin = bin_index(p, bins);
        counts[bin] += 1;
        predicted_sums[bin] += p;
        positive_counts[bin] += usize::from(y);
    }

    (0..bins)
        .map(|i| ReliabilityBin {
            // Divide rather than accumulate a width so the edges are exact.
            lower: i as f64 / bins as f64,
            upper: (i + 1) as f64 / bins as f64,
            count: counts[i],
            mean_predicted: mean(predicted_sums[i], counts[i]),
            observed_rate: mean(positive_counts[i] as f64, counts[i]),
        })
        .collect()
}

/// Expected calibration error: the count-weighted mean over `bins`
/// equal-width bins of `|mean_predicted - observed_rate|` (see
/// [`reliability`] for the binning). 0.0 for empty input.
pub fn expected_calibration_error(probs: &[f64], labels: &[bool], bins: usize) -> f64 {
    ece_from_bins(&reliability(probs, labels, bins), probs.len())
}

/// Mean quantile (pinball) loss of `predicted` as the `alpha` quantile of
/// `actual`: under-prediction costs `alpha` per unit, over-prediction
/// `1 - alpha`. 0.0 for empty input. Panics unless `0 <= alpha <= 1`.
pub fn pinball_loss(actual: &[f64], predicted: &[f64], alpha: f64) -> f64 {
    assert_eq!(actual.len(), predicted.len(), "one prediction per actual");
    assert!(
        (0.0..=1.0).contains(&alpha),
        "quantile level must lie in [0, 1], got {alpha}"
    );
    let total: f64 = actual
        .iter()
        .zip(predicted)
        .map(|(&y, &q)| {
            let residual = y - q;
            (alpha * residual).max((alpha - 1.0) * residual)
        })
        .sum();
    mean(total, actual.len())
}

/// Share of rows with `lower <= actual <= upper`. 0.0 for empty input.
pub fn interval_coverage(actual: &[f64], lower: &[f64], upper: &[f64]) -> f64 {
    assert_eq!(actual.len(), lower.len(), "one lower bound per actual");
    assert_eq!(actual.len(), upper.len(), "one upper bound per actual");
    let covered = actual
        .iter()
        .zip(lower.iter().zip(upper))
        .filter(|&(&y, (&lo, &hi))| lo <= y && y <= hi)
        .count();
    mean(covered as f64, actual.len())
}

/// The bin of probability `p` among `bins` equal-width bins of `[0, 1]`.
fn bin_index(p: f64, bins: usize) -> usize {
    // The float-to-int cast saturates (and maps NaN to 0), so out-of-range
    // values land in the end bins; `min` puts p = 1.0 in the last one.
    let scaled = (p * bins as f64).floor() as usize;
    scaled.min(bins - 1)
}

fn ece_from_bins(bins: &[ReliabilityBin], rows: usize) -> f64 {
    let total: f64 = bins
        .iter()
        .map(|b| b.count as f64 * (b.mean_predicted - b.observed_rate).abs())
        .sum();
    mean(total, rows)
}

/// `total / count`, or 0.0 when there is nothing to average.
fn mean(total: f64, count: usize) -> f64 {
    if count == 0 {
        0.0
    } else {
        total / count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-9
    }

    #[test]
    fn auc_with_ties_matches_pairwise_count() {
        // positives score {0.2, 0.6, 0.9}, negatives {0.2, 0.2, 0.6}.
        // Pairs (pos, neg), tie = 1/2:
        //   0.2 vs 0.2, 0.2, 0.6 -> 0.5 + 0.5 + 0   = 1.0
        //   0.6 vs 0.2, 0.2, 0.6 -> 1   + 1   + 0.5 = 2.5
        //   0.9 vs all three     -> 3.0
        // AUC = 6.5 / 9. By ranks: 0.2s share rank 2, 0.6s share 4.5, 0.9 is
        // 6; positive rank sum 12.5, U = 12.5 - 3*4/2 = 6.5.
        let scores = [0.2, 0.2, 0.2, 0.6, 0.6, 0.9];
        let labels = [true, false, false, true, false, true];
        assert!(close(auc(&scores, &labels).unwrap(), 6.5 / 9.0));

        // Order of the rows does not matter.
        let scores = [0.6, 0.9, 0.2, 0.2, 0.6, 0.2];
        let labels = [false, true, false, true, true, false];
        assert!(close(auc(&scores, &labels).unwrap(), 6.5 / 9.0));
    }

    #[test]
    fn auc_extremes() {
        let labels = [false, false, true, true];
        assert_eq!(auc(&[0.1, 0.2, 0.3, 0.4], &labels), Some(1.0));
        assert_eq!(auc(&[0.4, 0.3, 0.2, 0.1], &labels), Some(0.0));
        assert_eq!(auc(&[0.5; 4], &labels), Some(0.5));
        // Signed zeros are the same score.
        assert_eq!(auc(&[0.0, -0.0], &[true, false]), Some(0.5));
    }

    #[test]
    fn auc_needs_both_classes() {
        assert_eq!(auc(&[0.1, 0.9], &[true, true]), None);
        assert_eq!(auc(&[0.1, 0.9], &[false, false]), None);
        assert_eq!(auc(&[], &[]), None);
    }

    #[test]
    fn brier_and_log_loss_by_hand() {
        // Squared errors: 0.1^2, 0.2^2, 0.6^2, 0.7^2 = 0.01 + 0.04 + 0.36 + 0.49.
        // Log loss: -(ln 0.9 + ln 0.8 + ln 0.4 + ln 0.3) / 4
        //         = (0.1053605 + 0.2231436 + 0.9162907 + 1.2039728) / 4.
        let probs = [0.9, 0.2, 0.6, 0.3];
        let labels = [true, false, false, true];
        assert!(close(brier(&probs, &labels), 0.9 / 4.0));
        assert!((log_loss(&probs, &labels) - 0.612_191_900_8).abs() < 1e-9);
    }

    #[test]
    fn log_loss_is_finite_for_confident_mistakes() {
        // Clipped at 1e-15: -ln(1e-15) = 34.5387764.
        assert!((log_loss(&[0.0], &[true]) - 34.538_776_394_9).abs() < 1e-6);
        assert!((log_loss(&[1.0], &[false]) - 34.538_776_394_9).abs() < 1e-6);
        assert!(close(log_loss(&[1.0, 0.0], &[true, false]), 0.0));
    }

    #[test]
    fn reliability_bins_and_ece_of_constructed_example() {
        // Bin 0: p = 0.05 four times, one positive  -> gap |0.05 - 0.25| = 0.2.
        // Bin 9: p = 0.95 four times, all positive  -> gap |0.95 - 1.00| = 0.05.
        // ECE = 4/8 * 0.2 + 4/8 * 0.05 = 0.125.
        let probs = [0.05, 0.05, 0.05, 0.05, 0.95, 0.95, 0.95, 0.95];
        let labels = [false, false, false, true, true, true, true, true];
        let table = reliability(&probs, &labels, 10);
        assert_eq!(table.len(), 10);
        assert_eq!(table[0].count, 4);
        assert!(close(table[0].mean_predicted, 0.05));
        assert!(close(table[0].observed_rate, 0.25));
        assert_eq!(table[9].count, 4);
        assert!(close(table[9].observed_rate, 1.0));
        let empty = &table[3];
        assert_eq!(
            (empty.count, empty.mean_predicted, empty.observed_rate),
            (0, 0.0, 0.0)
        );
        assert_eq!((empty.lower, empty.upper), (0.3, 0.4));
        assert!(close(
            expected_calibration_error(&probs, &labels, 10),
            0.125
        ));
    }

    #[test]
    fn reliability_edges() {
        let table = reliability(&[0.0, 0.5, 1.0, 1.5, -0.5], &[false; 5], 4);
        let counts: Vec<usize> = table.iter().map(|b| b.count).collect();
        // 0.0 and -0.5 in the first bin, 0.5 in bin 2, 1.0 and 1.5 in the last.
        assert_eq!(counts, [2, 0, 1, 2]);
        assert_eq!(table[3].upper, 1.0);
    }

    #[test]
    fn perfectly_calibrated_has_zero_ece() {
        let probs = [0.25; 4];
        let labels = [true, false, false, false];
        assert!(close(expected_calibration_error(&probs, &labels, 10), 0.0));
    }

    #[test]
    fn pinball_loss_by_hand() {
        // Residuals actual - predicted: -2, 5, 0.
        // alpha 0.9: 0.1*2 + 0.9*5 + 0 = 4.7, mean 4.7/3.
        // alpha 0.5: half the absolute error, (1 + 2.5 + 0)/3.
        let actual = [10.0, 20.0, 30.0];
        let predicted = [12.0, 15.0, 30.0];
        assert!(close(pinball_loss(&actual, &predicted, 0.9), 4.7 / 3.0));
        assert!(close(pinball_loss(&actual, &predicted, 0.5), 3.5 / 3.0));
    }

    #[test]
    fn coverage_counts_inclusive_bounds() {
        let actual = [1.0, 2.0, 3.0, 4.0];
        let lower = [0.0, 2.0, 3.5, 5.0];
        let upper = [2.0, 2.0, 4.0, 6.0];
        assert!(close(interval_coverage(&actual, &lower, &upper), 0.5));
    }

    #[test]
    fn empty_input_gives_zeros_not_nan() {
        let m = BinaryMetrics::compute(&[], &[]);
        assert_eq!((m.rows, m.positives, m.auc), (0, 0, None));
        assert_eq!((m.log_loss, m.brier, m.ece), (0.0, 0.0, 0.0));
        assert_eq!(m.reliability.len(), DEFAULT_BINS);
        assert!(m
            .reliability
            .iter()
            .all(|b| b.count == 0 && b.mean_predicted == 0.0 && b.observed_rate == 0.0));
        assert_eq!(pinball_loss(&[], &[], 0.5), 0.0);
        assert_eq!(interval_coverage(&[], &[], &[]), 0.0);
    }

    #[test]
    fn compute_agrees_with_the_parts() {
        let probs = [0.9, 0.2, 0.6, 0.3, 0.05, 0.95];
        let labels = [true, false, false, true, false, true];
        let m = BinaryMetrics::compute(&probs, &labels);
        assert_eq!((m.rows, m.positives), (6, 3));
        assert_eq!(m.auc, auc(&probs, &labels));
        assert_eq!(m.brier, brier(&probs, &labels));
        assert_eq!(m.log_loss, log_loss(&probs, &labels));
        assert_eq!(m.ece, expected_calibration_error(&probs, &labels, 10));
    }

    #[test]
    #[should_panic(expected = "one label per probability")]
    fn mismatched_lengths_panic() {
        brier(&[0.5], &[]);
    }
}
