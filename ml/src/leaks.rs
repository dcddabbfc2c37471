//! A guard against models that are too good to be true.
//!
//! A CRM export whose closed deals carry values finalised at close — a lost
//! deal's amount set to 0, the close date moved to the day it closed, the
//! stage and its dates without history — lets a model read the outcome off
//! the features. Evaluation then looks perfect (AUC 1.000) while every open
//! deal, which has none of those final values, scores about 0%. Nothing in
//! the metrics alone says why, so after training every feature is scored
//! on its own on the evaluation slice, and:
//! - a feature that alone separates won from lost (AUC ≥
//!   [`SINGLE_FEATURE_AUC`]) is flagged, with its likely cause and the fix;
//! - an overall evaluation AUC ≥ [`IMPLAUSIBLE_AUC`] is flagged too.
//!
//! A flagged model is withheld: its scores are not published until the user
//! accepts each flagged feature by name (`revintel train --accept-leak F`, or
//! `[models] accept_leaks` in revintel.toml), and then every report says so.
//! The thresholds are the usual ones for "a single field predicts the
//! label": no real pipeline feature separates outcomes that cleanly.

use crate::encoding::{FeatureKind, MODEL_FEATURES, N_FEATURES};
use crate::metrics::auc;
use serde::{Deserialize, Serialize};

/// A feature alone at or above this AUC on the evaluation slice is a leak.
pub const SINGLE_FEATURE_AUC: f64 = 0.95;

/// An overall evaluation AUC at or above this is implausible for a pipeline.
pub const IMPLAUSIBLE_AUC: f64 = 0.98;

/// The name a flag on the overall AUC carries instead of a feature's.
pub const OVERALL: &str = "overall";

/// What the guard found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeakCheck {
    /// Each feature's AUC on its own on the evaluation slice (the larger of
    /// AUC and 1 − AUC, so a feature that separates backwards counts too);
    /// None where it cannot be told (too few known values).
    pub single_feature_auc: Vec<(String, Option<f64>)>,
    pub flags: Vec<LeakFlag>,
}

/// One finding, with what probably caused it and how to fix it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakFlag {
    /// A model feature, or [`OVERALL`].
    pub feature: String,
    pub auc: f64,
    pub cause: String,
    pub fix: String,
}

impl LeakFlag {
    /// The sentence a user reads.
    pub fn explain(&self) -> String {
        if self.feature == OVERALL {
            format!(
                "the model separates won from lost deals almost perfectly (evaluation AUC {:.3}): {}; {}",
                self.auc, self.cause, self.fix
            )
        } else {
            format!(
                "`{}` alone separates won from lost deals (AUC {:.3}): {}; {}",
                self.feature, self.auc, self.cause, self.fix
            )
        }
    }
}

/// The flags as sentences, one per cause: features flagged for the same
/// reason (`amount` and `amount_vs_segment`) are named together, so the
/// cause and its fix are said once.
pub fn explain_all<'a>(flags: impl IntoIterator<Item = &'a LeakFlag>) -> Vec<String> {
    let mut groups: Vec<Vec<&LeakFlag>> = Vec::new();
    for flag in flags {
        match groups.iter_mut().find(|g| {
            g[0].feature != OVERALL && flag.feature != OVERALL && g[0].cause == flag.cause
        }) {
            Some(group) => group.push(flag),
            None => groups.push(vec![flag]),
        }
    }
    groups
        .into_iter()
        .map(|group| match group.as_slice() {
            [one] => one.explain(),
            many => {
                let names: Vec<String> = many.iter().map(|f| format!("`{}`", f.feature)).collect();
                let aucs: Vec<String> = many.iter().map(|f| format!("{:.3}", f.auc)).collect();
                format!(
                    "{} each alone separate won from lost deals (AUC {}): {}; {}",
                    and_list(&names),
                    and_list(&aucs),
                    many[0].cause,
                    many[0].fix
                )
            }
        })
        .collect()
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Checks a name given to accept a flag: a model feature or [`OVERALL`].
pub fn check_acceptable(name: &str) -> Result<(), String> {
    if name == OVERALL || MODEL_FEATURES.iter().any(|(n, _)| *n == name) {
        return Ok(());
    }
    let known: Vec<&str> = MODEL_FEATURES
        .iter()
        .map(|(n, _)| *n)
        .chain([OVERALL])
        .collect();
    Err(format!(
        "`{name}` is not a feature the leak guard can flag; it flags one of: {}",
        known.join(", ")
    ))
}

impl LeakCheck {
    /// The flags not accepted by name in `accepted`.
    pub fn unaccepted<'a>(&'a self, accepted: &'a [String]) -> impl Iterator<Item = &'a LeakFlag> {
        self.flags
            .iter()
            .filter(move |f| !accepted.contains(&f.feature))
    }
}

/// Scores each feature alone on the evaluation rows against how each deal
/// finally ended, won or lost (`outcomes`; None for a deal still open,
/// left out). A leak tells the final outcome, whenever it came — not only
/// the model's "won within the horizon" label, which a value set at close
/// predicts less cleanly because slow wins count as misses. `matrix` is
/// row-major over [`MODEL_FEATURES`]; a categorical feature is scored by
/// its categories' win rates on the training rows.
pub fn check(
    matrix: &[f64],
    outcomes: &[Option<bool>],
    train_rows: &[usize],
    eval_rows: &[usize],
    overall_auc: Option<f64>,
) -> LeakCheck {
    let closed = |rows: &[usize]| -> Vec<usize> {
        rows.iter()
            .copied()
            .filter(|&i| outcomes[i].is_some())
            .collect()
    };
    let (train_rows, eval_rows) = (closed(train_rows), closed(eval_rows));
    let labels: Vec<bool> = outcomes.iter().map(|o| o.unwrap_or(false)).collect();
    let eval_labels: Vec<bool> = eval_rows.iter().map(|&i| labels[i]).collect();
    let mut single = Vec::with_capacity(N_FEATURES);
    let mut flags = Vec::new();
    for (j, (name, kind)) in MODEL_FEATURES.iter().enumerate() {
        let value = |i: usize| matrix[i * N_FEATURES + j];
        let scores: Vec<f64> = match kind {
            FeatureKind::Numeric => eval_rows.iter().map(|&i| value(i)).collect(),
            FeatureKind::Categorical => {
                let rates = category_rates(train_rows.iter().map(|&i| (value(i), labels[i])));
                eval_rows
                    .iter()
                    .map(|&i| rate_of(&rates, value(i)))
                    .collect()
            }
        };
        let separation = separation(&scores, &eval_labels);
        if let Some(a) = separation.filter(|a| *a >= SINGLE_FEATURE_AUC) {
            let (cause, fix) = likely_cause(name);
            flags.push(LeakFlag {
                feature: name.to_string(),
                auc: a,
                cause: cause.into(),
                fix: fix.into(),
            });
        }
        single.push((name.to_string(), separation));
    }
    if let Some(a) = overall_auc.filter(|a| *a >= IMPLAUSIBLE_AUC) {
        flags.push(LeakFlag {
            feature: OVERALL.into(),
            auc: a,
            cause: "real pipelines are not that predictable, so the data most likely holds values set when deals closed".into(),
            fix: "look for fields updated at close (amounts, close dates, stages without history) and drop or derive them in the mapping, or import stage history".into(),
        });
    }
    LeakCheck {
        single_feature_auc: single,
        flags,
    }
}

/// AUC of `scores` (NaN rows left out) taken either way round; None with
/// fewer than 20 known values or one class only.
fn separation(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let (known, known_labels): (Vec<f64>, Vec<bool>) = scores
        .iter()
        .zip(labels)
        .filter(|(s, _)| s.is_finite())
        .map(|(s, l)| (*s, *l))
        .unzip();
    if known.len() < 20 {
        return None;
    }
    let a = auc(&known, &known_labels)?;
    Some(a.max(1.0 - a))
}

/// Win rate per category code (Laplace-smoothed), and overall for unknowns.
fn category_rates(rows: impl Iterator<Item = (f64, bool)>) -> (Vec<(f64, f64)>, f64) {
    let mut counts: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
    let (mut won, mut seen) = (0.0, 0.0);
    for (code, label) in rows {
        let w = f64::from(u8::from(label));
        won += w;
        seen += 1.0;
        if code.is_finite() {
            let c = counts.entry(code as i64).or_default();
            c.0 += w;
            c.1 += 1.0;
        }
    }
    let overall = (won + 1.0) / (seen + 2.0);
    let rates = counts
        .into_iter()
        .map(|(code, (w, n))| (code as f64, (w + 1.0) / (n + 2.0)))
        .collect();
    (rates, overall)
}

fn rate_of((rates, overall): &(Vec<(f64, f64)>, f64), code: f64) -> f64 {
    rates
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(*overall, |(_, r)| *r)
}

/// What most likely makes `feature` give the outcome away, and the fix.
fn likely_cause(feature: &str) -> (&'static str, &'static str) {
    const HISTORY: &str = "import stage history (Salesforce OpportunityHistory, HubSpot's date-entered columns) so each deal is read as it stood, not as it ended";
    match feature {
        "amount" | "amount_vs_segment" => (
            "amounts are finalised at close (a lost deal's amount set to 0, a won deal's to the booked value)",
            "map `amount` to a value fixed when the deal was created, or derive it in the mapping (`derive = \"product_list_price\"`), or import stage history with the amounts as they stood",
        ),
        "days_to_close" | "close_date_pushes" => (
            "close dates are moved to the day the deal actually closed",
            HISTORY,
        ),
        "stage_index" | "days_in_stage" | "stage_velocity_ratio" | "stage_changes" | "age_days" => (
            "without stage history a closed deal's stage and its dates are its final ones",
            HISTORY,
        ),
        "days_since_last_activity" => (
            "the last activity date is updated when a deal closes",
            "drop `last_activity_date` from the mapping, or import activity as it stood",
        ),
        "owner_win_rate" | "owner_closed_deals" => (
            "the owner's record includes the outcomes it should predict (owners reassigned at close?)",
            "check that deals keep their owner when they close, or drop the owner from the mapping",
        ),
        _ => (
            "the field is filled in (or changed) only when a deal closes",
            "drop the field from the mapping, or map one that is set when the deal is created",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix where feature `leak` equals the label and the rest are noise.
    fn data(leak: Option<&str>, rows: usize) -> (Vec<f64>, Vec<bool>) {
        let mut matrix = vec![0.0; rows * N_FEATURES];
        let mut labels = Vec::with_capacity(rows);
        let mut state = 12345u64;
        for i in 0..rows {
            let won = i % 3 == 0;
            labels.push(won);
            for j in 0..N_FEATURES {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                let noise = (state >> 33) as f64 / (1u64 << 31) as f64;
                matrix[i * N_FEATURES + j] = match (MODEL_FEATURES[j], leak) {
                    ((name, _), Some(l)) if name == l => {
                        f64::from(u8::from(won)) * 2.0 + noise * 0.5
                    }
                    ((_, FeatureKind::Categorical), _) => (noise * 4.0).floor(),
                    _ => noise,
                };
            }
        }
        (matrix, labels)
    }

    fn closed(labels: &[bool]) -> Vec<Option<bool>> {
        labels.iter().map(|&l| Some(l)).collect()
    }

    #[test]
    fn a_feature_that_gives_the_outcome_away_is_named_with_its_fix() {
        let (matrix, labels) = data(Some("amount"), 600);
        let (train, eval): (Vec<usize>, Vec<usize>) = (0..600).partition(|i| i % 2 == 0);
        let check = check(&matrix, &closed(&labels), &train, &eval, Some(0.999));
        let features: Vec<&str> = check.flags.iter().map(|f| f.feature.as_str()).collect();
        assert_eq!(features, ["amount", OVERALL]);
        let said = check.flags[0].explain();
        assert!(
            said.contains("`amount` alone") && said.contains("finalised at close"),
            "{said}"
        );
        assert!(said.contains("product_list_price"), "{said}");
        assert_eq!(check.unaccepted(&["amount".into()]).count(), 1);
    }

    #[test]
    fn honest_noise_is_not_flagged() {
        let (matrix, labels) = data(None, 600);
        let (train, eval): (Vec<usize>, Vec<usize>) = (0..600).partition(|i| i % 2 == 0);
        let check = check(&matrix, &closed(&labels), &train, &eval, Some(0.74));
        assert!(check.flags.is_empty(), "{:?}", check.flags);
        assert_eq!(check.single_feature_auc.len(), N_FEATURES);
    }

    #[test]
    fn a_category_set_only_on_wins_is_flagged() {
        let (mut matrix, labels) = data(None, 600);
        let j = MODEL_FEATURES
            .iter()
            .position(|(n, _)| *n == "lead_source")
            .unwrap();
        for (i, won) in labels.iter().enumerate() {
            matrix[i * N_FEATURES + j] = if *won { 7.0 } else { f64::from((i % 3) as u8) };
        }
        let (train, eval): (Vec<usize>, Vec<usize>) = (0..600).partition(|i| i % 2 == 0);
        let check = check(&matrix, &closed(&labels), &train, &eval, None);
        assert_eq!(check.flags.len(), 1);
        assert_eq!(check.flags[0].feature, "lead_source");
    }

    /// Deals still open are left out: a value they lack (an amount only
    /// filled in at close) does not hide the leak among the closed ones.
    #[test]
    fn open_deals_do_not_hide_a_leak() {
        let (mut matrix, labels) = data(Some("amount"), 900);
        let j = MODEL_FEATURES
            .iter()
            .position(|(n, _)| *n == "amount")
            .unwrap();
        let outcomes: Vec<Option<bool>> = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| (i % 3 != 2).then_some(l))
            .collect();
        for i in (0..900).filter(|i| i % 3 == 2) {
            matrix[i * N_FEATURES + j] = 2.0 + (i % 7) as f64;
        }
        let (train, eval): (Vec<usize>, Vec<usize>) = (0..900).partition(|i| i % 2 == 0);
        let check = check(&matrix, &outcomes, &train, &eval, None);
        let features: Vec<&str> = check.flags.iter().map(|f| f.feature.as_str()).collect();
        assert_eq!(features, ["amount"]);
    }

    #[test]
    fn flags_with_one_cause_are_explained_once() {
        let (matrix, labels) = data(Some("amount"), 600);
        let mut matrix = matrix;
        let (a, b) = (
            MODEL_FEATURES
                .iter()
                .position(|(n, _)| *n == "amount")
                .unwrap(),
            MODEL_FEATURES
                .iter()
                .position(|(n, _)| *n == "amount_vs_segment")
                .unwrap(),
        );
        for i in 0..600 {
            matrix[i * N_FEATURES + b] = matrix[i * N_FEATURES + a] / 3.0;
        }
        let (train, eval): (Vec<usize>, Vec<usize>) = (0..600).partition(|i| i % 2 == 0);
        let check = check(&matrix, &closed(&labels), &train, &eval, Some(0.999));
        assert_eq!(check.flags.len(), 3);
        let said = explain_all(&check.flags);
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(
            said[0].starts_with("`amount` and `amount_vs_segment` each alone"),
            "{said:?}"
        );
        assert_eq!(said[0].matches("finalised at close").count(), 1);
        assert!(said[1].contains("almost perfectly"));
    }

    #[test]
    fn only_flaggable_names_can_be_accepted() {
        assert!(check_acceptable("amount").is_ok());
        assert!(check_acceptable(OVERALL).is_ok());
        let err = check_acceptable("amuont").unwrap_err();
        assert!(
            err.contains("`amuont`") && err.contains("amount_vs_segment"),
            "{err}"
        );
    }
}
