//! Turning SHAP contributions into what a sales leader reads: the top
//! drivers of a deal's score, each with a plain phrase, and a suggested
//! action for the drivers that hurt.
//!
//! Contributions are TreeSHAP values in the model's raw **log-odds** space
//! (before calibration): for each deal they sum, with the bias, to the raw
//! margin exactly. Positive raises the chance of winning, negative lowers it.
//!
//! Features that state one fact are one driver, said once, with their
//! contributions added (SHAP values add up): time in stage and its pace
//! against the usual; for a deal that never left its first stage, also its
//! age and stage changes; the stage itself when it pushes the same way as
//! the time in it; the amount, absolute and against the segment; the
//! owner's win rate and record.
//!
//! Suggested actions follow a fixed rule table (below and in the README),
//! one per driver that lowers the win chance, each from that driver:
//!
//! | driver | action |
//! | --- | --- |
//! | never moved from its first stage | Decide: commit a dated path to close, or close it out |
//! | time in stage, pace against the usual | Agree a dated next step with the buyer to move the deal out of its stage |
//! | `days_since_last_activity` | Re-engage the buyer: book a meeting this week |
//! | `close_date_pushes` (≥ 1) | Re-qualify the timeline with the buyer: ask what changed since the last date |
//! | `days_to_close` (overdue) | Replace the overdue close date with the buyer's real timeline |
//! | amount (≥ 1.5× the segment's typical size) | Confirm who signs off on a deal this far above the segment's usual size, or re-scope it |
//! | amount (otherwise) | Confirm budget and the sign-off path for a deal this size |
//! | owner's win rate and record | Review the deal with the owner's manager |
//! | `stage_index` | Confirm need, budget, authority and timing before investing more |
//! | `age_days` | Decide: commit a dated path to close, or close it out |
//! | `stage_changes` | Ask what moved the deal back and forth, and agree the path forward |
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

/// A plain-language phrase for `feature` of the deal `row`. A missing value
/// says so, and — where the model scores it as a typical value (see
/// `encoding`) — which one.
pub fn phrase(feature: &str, row: &[f64], enc: &Encodings) -> String {
    let v = row[idx(feature)];
    if v.is_nan() {
        let name = feature.replace('_', " ");
        return match enc.fill_of(feature) {
            Some(fill) => {
                let mut typical = row.to_vec();
                typical[idx(feature)] = fill;
                format!(
                    "{name} not known; scored as the typical value ({})",
                    phrase(feature, &typical, enc)
                )
            }
            None => format!("{name} not known"),
        };
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

/// Features that state one fact between them, and say it once: the time a
/// deal has sat in its stage (with its pace against the usual); when it
/// never moved, its age and stage changes too; its amount absolute and
/// against the segment; its owner's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fact {
    /// Never left its first stage: age, time in stage, changes, pace.
    NeverMoved,
    /// Time in the current stage, and its pace.
    TimeInStage,
    Amount,
    Owner,
    /// A feature that says something of its own.
    Own(usize),
}

fn fact_of(feature: &str, j: usize, row: &[f64]) -> Fact {
    let never_moved = row[idx("stage_changes")] == 0.0;
    match feature {
        "age_days" | "stage_changes" if never_moved => Fact::NeverMoved,
        "days_in_stage" | "stage_velocity_ratio" if never_moved => Fact::NeverMoved,
        "days_in_stage" | "stage_velocity_ratio" => Fact::TimeInStage,
        "amount" | "amount_vs_segment" => Fact::Amount,
        "owner_win_rate" | "owner_closed_deals" => Fact::Owner,
        _ => Fact::Own(j),
    }
}

/// How a fact reads, from the features of it that are known.
fn fact_phrase(fact: Fact, lead: &str, row: &[f64], enc: &Encodings) -> String {
    let known = |f: &str| row[idx(f)].is_finite();
    match fact {
        Fact::NeverMoved if known("days_in_stage") => {
            let mut text = format!("{}, never moved", phrase("days_in_stage", row, enc));
            if known("stage_velocity_ratio") {
                text.push_str(&format!(
                    " ({:.1}× the usual time in it)",
                    row[idx("stage_velocity_ratio")]
                ));
            }
            text
        }
        Fact::TimeInStage if known("stage_velocity_ratio") => {
            phrase("stage_velocity_ratio", row, enc)
        }
        // The amount leads (said "not known" when it is); its size against
        // the segment follows when known.
        Fact::Amount if known("amount_vs_segment") => format!(
            "{}, {}",
            phrase("amount", row, enc),
            phrase("amount_vs_segment", row, enc)
        ),
        Fact::Amount => phrase("amount", row, enc),
        Fact::Owner if known("owner_win_rate") && known("owner_closed_deals") => format!(
            "owner wins {:.0}% of {}",
            row[idx("owner_win_rate")] * 100.0,
            plural(
                row[idx("owner_closed_deals")],
                "closed deal",
                "closed deals"
            )
        ),
        _ => phrase(lead, row, enc),
    }
}

/// The suggested action for a fact that lowers the win chance: each from
/// its own driver (see the table in the module docs).
fn fact_action(fact: Fact, lead: &str, row: &[f64]) -> Option<&'static str> {
    let v = |f: &str| row[idx(f)];
    match fact {
        Fact::NeverMoved => Some("Decide: commit a dated path to close, or close it out"),
        Fact::TimeInStage => {
            Some("Agree a dated next step with the buyer to move the deal out of its stage")
        }
        Fact::Amount if v("amount_vs_segment") >= 1.5 => Some(
            "Confirm who signs off on a deal this far above the segment's usual size, or re-scope it",
        ),
        Fact::Amount => Some("Confirm budget and the sign-off path for a deal this size"),
        Fact::Owner => Some("Review the deal with the owner's manager"),
        Fact::Own(_) => match lead {
            "days_since_last_activity" => Some("Re-engage the buyer: book a meeting this week"),
            "close_date_pushes" if v(lead) >= 1.0 => {
                Some("Re-qualify the timeline with the buyer: ask what changed since the last date")
            }
            "days_to_close" if v(lead) < 0.0 => {
                Some("Replace the overdue close date with the buyer's real timeline")
            }
            "stage_index" => Some("Confirm need, budget, authority and timing before investing more"),
            "age_days" => Some("Decide: commit a dated path to close, or close it out"),
            "stage_changes" => Some("Ask what moved the deal back and forth, and agree the path forward"),
            _ => None,
        },
    }
}

/// "in Prospecting" beside "230 days in Prospecting, never moved" names
/// the stage twice. When the time in the stage leads and the stage pushes
/// the same way, they are one driver, said by the time in stage. Otherwise
/// both stay: when they push apart (an advanced stage helps, sitting in it
/// too long hurts) they tell two different things, and when the stage
/// leads, folding it in would credit the time in stage with the stage's
/// effect.
fn fold_stage_into_time_in_stage(facts: &mut Vec<(Fact, usize, f64)>) {
    let stage = facts
        .iter()
        .position(|(f, _, _)| *f == Fact::Own(idx("stage_index")));
    let time = facts
        .iter()
        .position(|(f, _, _)| matches!(f, Fact::NeverMoved | Fact::TimeInStage));
    if let (Some(s), Some(t)) = (stage, time) {
        if facts[s].2 * facts[t].2 > 0.0 && facts[t].2.abs() >= facts[s].2.abs() {
            facts[t].2 += facts[s].2;
            facts.remove(s);
        }
    }
}

/// The suggested action for a driver that lowers the win chance, alone.
pub fn action(feature: &str, row: &[f64]) -> Option<&'static str> {
    let j = idx(feature);
    fact_action(fact_of(feature, j, row), feature, row)
}

/// The `k` largest drivers of one deal, given its feature row and its
/// `N_FEATURES + 1` contributions (bias last). Features that state one fact
/// are one driver (their contributions added: SHAP values add up), named
/// by the largest of them and said once; drivers rank by |contribution|.
pub fn top_drivers(row: &[f64], contributions: &[f64], k: usize, enc: &Encodings) -> Vec<Driver> {
    let mut order: Vec<usize> = (0..N_FEATURES).collect();
    order.sort_by(|&a, &b| {
        contributions[b]
            .abs()
            .total_cmp(&contributions[a].abs())
            .then(a.cmp(&b))
    });
    // One entry per fact, led by its largest feature: (fact, lead, sum).
    let mut facts: Vec<(Fact, usize, f64)> = Vec::new();
    for j in order {
        let fact = fact_of(MODEL_FEATURES[j].0, j, row);
        match facts.iter_mut().find(|(f, _, _)| *f == fact) {
            Some(entry) => entry.2 += contributions[j],
            None => facts.push((fact, j, contributions[j])),
        }
    }
    fold_stage_into_time_in_stage(&mut facts);
    facts.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()).then(a.1.cmp(&b.1)));
    facts
        .into_iter()
        .take(k)
        .map(|(fact, j, contribution)| {
            let (feature, kind) = MODEL_FEATURES[j];
            Driver {
                feature,
                value: display(feature, kind, row[j], enc),
                contribution,
                phrase: fact_phrase(fact, feature, row, enc),
                action: if contribution < 0.0 {
                    fact_action(fact, feature, row)
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
        assert_eq!(
            d[2].action,
            Some("Re-qualify the timeline with the buyer: ask what changed since the last date")
        );
    }

    /// A deal that never moved: its time in stage, age and zero stage
    /// changes are one fact, said once, with their contributions added.
    #[test]
    fn one_fact_is_said_once() {
        let enc = Encodings::default();
        let r = row(&[
            ("stage_index", 0.0),
            ("days_in_stage", 230.0),
            ("age_days", 230.0),
            ("stage_changes", 0.0),
            ("amount", 250_000.0),
            ("amount_vs_segment", 4.5),
            ("days_since_last_activity", 9.0),
        ]);
        let mut c = vec![0.0; N_FEATURES + 1];
        c[idx("days_in_stage")] = -0.6;
        c[idx("age_days")] = -0.5;
        c[idx("stage_changes")] = -0.3;
        c[idx("amount")] = -0.2;
        c[idx("amount_vs_segment")] = -0.25;
        c[idx("days_since_last_activity")] = 0.1;
        let d = top_drivers(&r, &c, 3, &enc);
        let phrases: Vec<&str> = d.iter().map(|d| d.phrase.as_str()).collect();
        assert_eq!(
            phrases,
            [
                "230 days in Prospecting, never moved",
                "amount $250k, 4.5× the segment's typical deal size",
                "no activity for 9 days",
            ]
        );
        assert!(
            (d[0].contribution + 1.4).abs() < 1e-12,
            "{}",
            d[0].contribution
        );
        let actions: Vec<Option<&str>> = d.iter().map(|d| d.action).collect();
        assert_eq!(
            actions,
            [
                Some("Decide: commit a dated path to close, or close it out"),
                Some("Confirm who signs off on a deal this far above the segment's usual size, or re-scope it"),
                None,
            ]
        );
    }

    /// The stage is folded into the time in it when both push the same
    /// way, and kept apart when they pull against each other.
    #[test]
    fn the_stage_is_named_once_when_it_says_the_same_as_the_time_in_it() {
        let enc = Encodings::default();
        let r = row(&[
            ("stage_index", 0.0),
            ("days_in_stage", 488.0),
            ("age_days", 488.0),
            ("stage_changes", 0.0),
            ("stage_velocity_ratio", 20.3),
        ]);
        let mut c = vec![0.0; N_FEATURES + 1];
        c[idx("days_in_stage")] = -1.0;
        c[idx("stage_index")] = -0.6;
        let d = top_drivers(&r, &c, 2, &enc);
        assert_eq!(
            d[0].phrase,
            "488 days in Prospecting, never moved (20.3× the usual time in it)"
        );
        assert!((d[0].contribution + 1.6).abs() < 1e-12);
        assert!(d.iter().all(|d| d.phrase != "in Prospecting"), "{d:?}");

        let r = row(&[
            ("stage_index", 2.0),
            ("days_in_stage", 84.0),
            ("stage_changes", 2.0),
            ("stage_velocity_ratio", 4.7),
        ]);
        let mut c = vec![0.0; N_FEATURES + 1];
        c[idx("stage_index")] = 1.2;
        c[idx("days_in_stage")] = -0.5;
        let d = top_drivers(&r, &c, 2, &enc);
        let phrases: Vec<&str> = d.iter().map(|d| d.phrase.as_str()).collect();
        assert_eq!(
            phrases,
            ["in Proposal", "84 days in Proposal, 4.7× the usual"]
        );

        // The stage leads, the same way: both stay, each with its own share.
        c[idx("days_in_stage")] = 0.1;
        let d = top_drivers(&r, &c, 2, &enc);
        let phrases: Vec<&str> = d.iter().map(|d| d.phrase.as_str()).collect();
        assert_eq!(
            phrases,
            ["in Proposal", "84 days in Proposal, 4.7× the usual"]
        );
        assert!((d[0].contribution - 1.2).abs() < 1e-12);
    }

    /// A missing amount is said as such even when its size against the
    /// segment leads the driver.
    #[test]
    fn a_missing_amount_is_said_in_its_driver() {
        let enc = Encodings {
            fills: MODEL_FEATURES
                .iter()
                .map(|(n, _)| (*n == "amount").then_some(68_000.0))
                .collect(),
            ..Default::default()
        };
        let r = row(&[("stage_index", 1.0), ("amount_vs_segment", 1.89)]);
        let mut c = vec![0.0; N_FEATURES + 1];
        c[idx("amount_vs_segment")] = -0.1;
        c[idx("amount")] = -0.05;
        let d = top_drivers(&r, &c, 1, &enc);
        assert_eq!(
            d[0].phrase,
            "amount not known; scored as the typical value (amount $68k), 1.9× the segment's typical deal size"
        );
    }

    /// A missing feature scored as a typical value says which.
    #[test]
    fn a_missing_value_says_how_it_was_scored() {
        let enc = Encodings {
            fills: MODEL_FEATURES
                .iter()
                .map(|(n, _)| (*n == "amount").then_some(55_000.0))
                .collect(),
            ..Default::default()
        };
        let r = row(&[("stage_index", 1.0)]);
        assert_eq!(
            phrase("amount", &r, &enc),
            "amount not known; scored as the typical value (amount $55k)"
        );
        assert_eq!(
            phrase("owner_win_rate", &r, &enc),
            "owner win rate not known"
        );
    }
}
