//! Turning SHAP contributions into what a sales leader reads: the top
//! drivers of a deal's score, each with a plain phrase, and a suggested
//! action for the drivers that hurt.
//!
//! Contributions are TreeSHAP values in the model's raw **log-odds** space
//! (before calibration): for each deal they sum, with the bias, to the raw
//! margin exactly. Positive raises the chance of winning, negative lowers it.
//!
//! Suggested actions follow a fixed rule table (below and in the README),
//! applied only to drivers that lower the win chance:
//!
//! | driver | action |
//! | --- | --- |
//! | `days_in_stage`, `stage_velocity_ratio` | Agree a dated next step with the buyer to move the deal out of its stage |
//! | `days_since_last_activity` | Re-engage the buyer: book a meeting this week |
//! | `close_date_pushes` (≥ 1) | Re-qualify the timeline with the buyer |
//! | `days_to_close` (overdue) | Replace the overdue close date with the buyer's real timeline |
//! | `amount_vs_segment`, `amount` | Confirm budget and the sign-off path for a deal this size |
//! | `owner_win_rate`, `owner_closed_deals` | Review the deal with the owner's manager |
//! | `stage_index` | Confirm need, budget, authority and timing before investing more |
//! | `age_days`, `stage_changes` | Decide: commit a dated path to close, or close it out |
//! | categorical context | none (not something the team can change) |

use crate::encoding::{Encodings, FeatureKind, MODEL_FEATURES, N_FEATURES};
use crate::stages::OPEN_STAGES;

/// One driver of a deal's score.
#[derive(Debug, Clone, PartialEq)]
pub struct Driver {
    pub feature: &'static str,
    /// The feature's value as shown to people (category name, number).
    pub value: String,
    /// TreeSHAP contribution in log-odds.
    pub contribution: f64,
    pub phrase: String,
    pub action: Option<&'static str>,
}

fn idx(name: &str) -> usize {
    MODEL_FEATURES
        .iter()
        .position(|(n, _)| *n == name)
        .expect("driver rules name model features")
}

fn stage_name(row: &[f64]) -> &'static str {
    let s = row[idx("stage_index")];
    if s.is_finite() && s >= 0.0 {
        OPEN_STAGES.get(s as usize).copied().unwrap_or("its stage")
    } else {
        "its stage"
    }
}

fn plural(n: f64, one: &str, many: &str) -> String {
    let n = n.round() as i64;
    format!("{n} {}", if n == 1 { one } else { many })
}

fn display(feature: &str, kind: FeatureKind, v: f64, enc: &Encodings) -> String {
    if v.is_nan() {
        return "unknown".into();
    }
    match kind {
        FeatureKind::Categorical => enc.category(feature, v).unwrap_or("unknown").to_string(),
        FeatureKind::Numeric if v.fract() == 0.0 => format!("{v:.0}"),
        FeatureKind::Numeric => format!("{v:.2}"),
    }
}

/// A plain-language phrase for `feature` of the deal `row`.
pub fn phrase(feature: &str, row: &[f64], enc: &Encodings) -> String {
    let v = row[idx(feature)];
    if v.is_nan() {
        return format!("{} not known", feature.replace('_', " "));
    }
    let stage = stage_name(row);
    match feature {
        "stage_index" => format!("in {stage}"),
        "age_days" => format!("{} old", plural(v, "day", "days")),
        "days_in_stage" => format!("{} in {stage}", plural(v, "day", "days")),
        "stage_velocity_ratio" => {
            let days = row[idx("days_in_stage")];
            format!(
                "{} in {stage}, {v:.1}× the usual",
                plural(days, "day", "days")
            )
        }
        "stage_changes" => plural(v, "stage change", "stage changes"),
        "close_date_pushes" if v == 0.0 => "close date never pushed".into(),
        "close_date_pushes" => format!("close date pushed {}", plural(v, "time", "times")),
        "days_to_close" if v < 0.0 => format!("close date {} overdue", plural(-v, "day", "days")),
        "days_to_close" => format!("expected to close in {}", plural(v, "day", "days")),
        "amount" => format!("amount {}", utils::numbers::money(v, None, "$")),
        "amount_vs_segment" => format!("{v:.1}× the segment's typical deal size"),
        "owner_win_rate" => format!("owner wins {:.0}% of closed deals", v * 100.0),
        "owner_closed_deals" => format!("owner has closed {}", plural(v, "deal", "deals")),
        "days_since_last_activity" if v == 0.0 => "activity today".into(),
        "days_since_last_activity" => format!("no activity for {}", plural(v, "day", "days")),
        other => {
            let value = enc.category(other, v).unwrap_or("unknown");
            format!("{}: {value}", other.replace('_', " "))
        }
    }
}

/// The suggested action for a driver that lowers the win chance.
pub fn action(feature: &str, row: &[f64]) -> Option<&'static str> {
    let v = row[idx(feature)];
    match feature {
        "days_in_stage" | "stage_velocity_ratio" => {
            Some("Agree a dated next step with the buyer to move the deal out of its stage")
        }
        "days_since_last_activity" => Some("Re-engage the buyer: book a meeting this week"),
        "close_date_pushes" if v >= 1.0 => Some("Re-qualify the timeline with the buyer"),
        "days_to_close" if v < 0.0 => {
            Some("Replace the overdue close date with the buyer's real timeline")
        }
        "amount_vs_segment" | "amount" => {
            Some("Confirm budget and the sign-off path for a deal this size")
        }
        "owner_win_rate" | "owner_closed_deals" => Some("Review the deal with the owner's manager"),
        "stage_index" => Some("Confirm need, budget, authority and timing before investing more"),
        "age_days" | "stage_changes" => {
            Some("Decide: commit a dated path to close, or close it out")
        }
        _ => None,
    }
}

/// The `k` largest drivers (by |contribution|) of one deal, given its
/// feature row and its `N_FEATURES + 1` contributions (bias last).
pub fn top_drivers(row: &[f64], contributions: &[f64], k: usize, enc: &Encodings) -> Vec<Driver> {
    let mut order: Vec<usize> = (0..N_FEATURES).collect();
    order.sort_by(|&a, &b| {
        contributions[b]
            .abs()
            .total_cmp(&contributions[a].abs())
            .then(a.cmp(&b))
    });
    order
        .into_iter()
        .take(k)
        .map(|j| {
            let (feature, kind) = MODEL_FEATURES[j];
            let contribution = contributions[j];
            Driver {
                feature,
                value: display(feature, kind, row[j], enc),
                contribution,
                phrase: phrase(feature, row, enc),
                action: if contribution < 0.0 {
                    action(feature, row)
                } else {
                    None
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, f64)]) -> Vec<f64> {
        let mut r = vec![f64::NAN; N_FEATURES];
        for (n, v) in pairs {
            r[idx(n)] = *v;
        }
        r
    }

    #[test]
    fn phrases_read_naturally() {
        let enc = Encodings::default();
        let r = row(&[
            ("stage_index", 2.0),
            ("days_in_stage", 41.0),
            ("stage_velocity_ratio", 3.04),
            ("days_to_close", -12.0),
        ]);
        assert_eq!(
            phrase("stage_velocity_ratio", &r, &enc),
            "41 days in Proposal, 3.0× the usual"
        );
        assert_eq!(
            phrase("days_to_close", &r, &enc),
            "close date 12 days overdue"
        );
        assert_eq!(
            phrase(
                "close_date_pushes",
                &row(&[("close_date_pushes", 2.0)]),
                &enc
            ),
            "close date pushed 2 times"
        );
        assert_eq!(
            phrase("amount", &row(&[("amount", 250_000.0)]), &enc),
            "amount $250k"
        );
        assert_eq!(
            phrase("owner_win_rate", &r, &enc),
            "owner win rate not known"
        );
    }

    #[test]
    fn top_drivers_rank_by_magnitude_and_only_negatives_get_actions() {
        let enc = Encodings::default();
        let r = row(&[
            ("stage_index", 1.0),
            ("days_since_last_activity", 40.0),
            ("close_date_pushes", 2.0),
        ]);
        let mut c = vec![0.0; N_FEATURES + 1];
        c[idx("days_since_last_activity")] = -0.9;
        c[idx("stage_index")] = 0.5;
        c[idx("close_date_pushes")] = -0.2;
        let d = top_drivers(&r, &c, 3, &enc);
        let names: Vec<_> = d.iter().map(|d| d.feature).collect();
        assert_eq!(
            names,
            [
                "days_since_last_activity",
                "stage_index",
                "close_date_pushes"
            ]
        );
        assert_eq!(
            d[0].action,
            Some("Re-engage the buyer: book a meeting this week")
        );
        assert_eq!(d[1].action, None, "a driver that helps needs no action");
        assert_eq!(d[2].action, Some("Re-qualify the timeline with the buyer"));
    }
}
