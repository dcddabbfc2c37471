//! How good the models are, where scores are read: the `model_quality`
//! table (the evaluation metrics against the stage-only baseline, and the
//! leak guard's verdict) and the one-line note the reports carry.
//!
//! The verdict is one of: `ok`; `weak` — the model barely beats knowing the
//! stage alone (AUC within [`WEAK_LIFT`] of the baseline's), or too few
//! held-out deals were won to measure it ([`MIN_EVALUATION_WINS`]), or it
//! ranks held-out deals backwards before calibration — so its scores rank
//! deals only roughly; `withheld` — the leak guard flagged a feature
//! nobody accepted, and the scores are not published; `accepted` — flagged
//! features were accepted by name, and every report says so.

use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use ml::leaks::LeakCheck;
use ml::trained::{Models, QualitySummary};
use std::sync::Arc;

/// AUC lift over the stage-only baseline below which the scores are weak.
pub const WEAK_LIFT: f64 = 0.03;

/// Held-out wins below which the metrics are too noisy to vouch for a
/// model (an AUC from 30 wins moves by ±0.05 from one sample to the next).
pub const MIN_EVALUATION_WINS: usize = 50;

/// The verdict on a model set, with its sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `ok`, `weak`, `withheld` or `accepted`.
    pub kind: &'static str,
    /// Flagged features (accepted or not).
    pub leaks: Vec<String>,
    /// The one-line note for reports.
    pub note: String,
    /// Why scores are not published, when `kind` is `withheld`.
    pub withheld: Option<String>,
}

/// The verdict for `models`, with `accepted` leak flags (the project's).
pub fn verdict(models: &Models, accepted: &[String]) -> Verdict {
    let meta = &models.win_prob.meta;
    let mut all_accepted = meta.accepted_leaks.clone();
    all_accepted.extend(accepted.iter().cloned());
    verdict_of(&meta.metrics, &meta.leaks, &all_accepted)
}

/// The verdict from a model's evaluation figures and what the leak guard
/// found, given the flags accepted by name.
pub fn verdict_of(metrics: &QualitySummary, check: &LeakCheck, accepted: &[String]) -> Verdict {
    let leaks: Vec<String> = check.flags.iter().map(|f| f.feature.clone()).collect();
    let unaccepted: Vec<_> = check.unaccepted(accepted).collect();
    let (auc, base) = (metrics.auc, metrics.baseline_auc);
    let lift = auc.zip(base).map(|(a, b)| a - b);
    if !unaccepted.is_empty() {
        let reasons = ml::leaks::explain_all(unaccepted.iter().copied()).join("; ");
        let names: Vec<&str> = unaccepted.iter().map(|f| f.feature.as_str()).collect();
        let withheld = format!(
            "scores withheld: the model looks too good to be true — {reasons}. \
             Fix the cause and retrain; or, to publish them anyway, accept each flag by name: \
             `revintel train --accept-leak {}` (or `[models] accept_leaks = [{}]` in revintel.toml)",
            names.join(" --accept-leak "),
            names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
        );
        return Verdict {
            kind: "withheld",
            leaks,
            note: format!("Model scores are withheld: {reasons}."),
            withheld: Some(withheld),
        };
    }
    let measured = match (auc, base) {
        (Some(a), Some(b)) => format!(
            "AUC {a:.2} against {b:.2} for the stage alone on {} held-out snapshots; calibration error {:.1}%",
            metrics.evaluation_rows,
            metrics.ece * 100.0
        ),
        _ => "too few held-out outcomes to measure it".to_string(),
    };
    if !leaks.is_empty() {
        return Verdict {
            kind: "accepted",
            note: format!(
                "Warning: these scores may read the outcome off data set at close. The leak guard flagged {}, and the flag{} accepted ({measured}).",
                and_list(&leaks),
                if leaks.len() == 1 { " was" } else { "s were" }
            ),
            leaks,
            withheld: None,
        };
    }
    let weak = |why: String| Verdict {
        kind: "weak",
        note: format!("The scores are weak: {why} ({measured}); treat their rankings as rough."),
        leaks: leaks.clone(),
        withheld: None,
    };
    if metrics.evaluation_wins < MIN_EVALUATION_WINS {
        return weak(format!(
            "only {} held-out deals were won, too few to tell how good the model is",
            metrics.evaluation_wins
        ));
    }
    if lift.is_some_and(|l| l < WEAK_LIFT) {
        return weak("the model barely beats knowing the stage alone".into());
    }
    if metrics.raw_auc.is_some_and(|a| a < 0.5) {
        return weak(
            "the model ranks held-out deals backwards and only its calibration turns them round, so what it learned no longer holds".into(),
        );
    }
    Verdict {
        kind: "ok",
        note: format!("Model quality: {measured}."),
        leaks,
        withheld: None,
    }
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `model_quality`: one row for the win-probability model.
pub fn table(models: &Models, verdict: &Verdict) -> RecordBatch {
    let meta = &models.win_prob.meta;
    let m = &meta.metrics;
    let f = |v: Option<f64>| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
    let t = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v.to_string()])) };
    let schema = Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("trained_as_of", DataType::Utf8, false),
        Field::new("evaluation_rows", DataType::UInt64, false),
        Field::new("evaluation_wins", DataType::UInt64, false),
        Field::new("auc", DataType::Float64, true),
        Field::new("uncalibrated_auc", DataType::Float64, true),
        Field::new("log_loss", DataType::Float64, true),
        Field::new("brier", DataType::Float64, true),
        Field::new("ece", DataType::Float64, true),
        Field::new("baseline_auc", DataType::Float64, true),
        Field::new("baseline_brier", DataType::Float64, true),
        Field::new("auc_lift", DataType::Float64, true),
        Field::new("verdict", DataType::Utf8, false),
        Field::new("leak_features", DataType::Utf8, false),
        Field::new("note", DataType::Utf8, false),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            t("win_prob"),
            t(&meta.window.as_of),
            Arc::new(UInt64Array::from(vec![m.evaluation_rows as u64])),
            Arc::new(UInt64Array::from(vec![m.evaluation_wins as u64])),
            f(m.auc),
            f(m.raw_auc),
            f(Some(m.log_loss)),
            f(Some(m.brier)),
            f(Some(m.ece)),
            f(m.baseline_auc),
            f(m.baseline_brier),
            f(m.auc.zip(m.baseline_auc).map(|(a, b)| a - b)),
            t(verdict.kind),
            t(&verdict.leaks.join(", ")),
            t(&verdict.note),
        ],
    )
    .expect("model_quality columns match their schema")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ml::leaks::LeakFlag;

    fn metrics(auc: f64, baseline: f64) -> QualitySummary {
        QualitySummary {
            evaluation_rows: 2_000,
            evaluation_wins: 400,
            auc: Some(auc),
            raw_auc: Some(auc),
            log_loss: 0.4,
            brier: 0.12,
            ece: 0.03,
            baseline_auc: Some(baseline),
            baseline_brier: Some(0.13),
        }
    }

    fn flagged(feature: &str) -> LeakCheck {
        LeakCheck {
            single_feature_auc: Vec::new(),
            flags: vec![LeakFlag {
                feature: feature.into(),
                auc: 1.0,
                cause: "set at close".into(),
                fix: "drop it".into(),
            }],
        }
    }

    #[test]
    fn a_model_that_clearly_beats_the_stage_is_ok() {
        let v = verdict_of(&metrics(0.86, 0.75), &LeakCheck::default(), &[]);
        assert_eq!(v.kind, "ok");
        assert!(v.note.contains("AUC 0.86 against 0.75"), "{}", v.note);
        assert!(v.withheld.is_none());
    }

    #[test]
    fn a_model_that_barely_beats_the_stage_is_called_weak() {
        let v = verdict_of(&metrics(0.77, 0.75), &LeakCheck::default(), &[]);
        assert_eq!(v.kind, "weak");
        assert!(v.note.starts_with("The scores are weak"), "{}", v.note);
        // Worse than the stage alone is weak too.
        assert_eq!(
            verdict_of(&metrics(0.70, 0.75), &LeakCheck::default(), &[]).kind,
            "weak"
        );
        // So is a model measured on too few wins, or one that ranks backwards.
        let mut few = metrics(0.86, 0.75);
        few.evaluation_wins = 33;
        let v = verdict_of(&few, &LeakCheck::default(), &[]);
        assert_eq!(v.kind, "weak");
        assert!(
            v.note.contains("only 33 held-out deals were won"),
            "{}",
            v.note
        );
        let mut backwards = metrics(0.71, 0.50);
        backwards.raw_auc = Some(0.29);
        let v = verdict_of(&backwards, &LeakCheck::default(), &[]);
        assert!(
            v.kind == "weak" && v.note.contains("backwards"),
            "{}",
            v.note
        );
    }

    #[test]
    fn a_flag_withholds_until_accepted_by_name() {
        let v = verdict_of(&metrics(0.99, 0.75), &flagged("amount"), &[]);
        assert_eq!(v.kind, "withheld");
        let why = v.withheld.unwrap();
        assert!(
            why.contains("`amount`") && why.contains("--accept-leak amount"),
            "{why}"
        );
        let v = verdict_of(
            &metrics(0.99, 0.75),
            &flagged("amount"),
            &["segment".into()],
        );
        assert_eq!(
            v.kind, "withheld",
            "accepting another feature changes nothing"
        );
        let v = verdict_of(&metrics(0.99, 0.75), &flagged("amount"), &["amount".into()]);
        assert_eq!(v.kind, "accepted");
        assert!(
            v.note.starts_with("Warning:") && v.note.contains("amount"),
            "{}",
            v.note
        );
        assert!(v.withheld.is_none());
    }
}
