//! `risk_score(win_prob, amount_vs_segment, stage_velocity_ratio, days_since_last_activity)`
//! → Float64 in 0–100, higher = more risk.
//!
//! A composite meant to rank where attention pays: a deal is risky when it is
//! likely to be lost, when much is at stake relative to its segment, when it
//! moves slower than deals usually do in its stage, and when nobody has
//! touched it lately. Each part is scaled to 0–1 and weighted:
//!
//! | part | weight | 0 when | 1 when |
//! | --- | --- | --- | --- |
//! | loss risk `1 − win_prob` | 0.50 | sure win | sure loss |
//! | size `log2(amount_vs_segment)` | 0.20 | ≤ ¼ of the segment's typical deal | ≥ 4× it (1× = 0.5) |
//! | velocity `stage_velocity_ratio` | 0.15 | at or faster than usual | ≥ 3× the usual time in stage |
//! | stagnation `days_since_last_activity` | 0.15 | activity today | ≥ 30 days without |
//!
//! A NULL part (e.g. no usual time yet for a stage) counts as neutral (0.5);
//! a NULL `win_prob` gives a NULL score.

use datafusion::arrow::array::{ArrayRef, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, OnceLock};

/// Weights of loss risk, size, velocity and stagnation; they sum to 1.
pub const WEIGHTS: [f64; 4] = [0.50, 0.20, 0.15, 0.15];

/// The composite for one deal (see the module docs); `None` without a win probability.
pub fn risk_score(
    win_prob: Option<f64>,
    amount_vs_segment: Option<f64>,
    stage_velocity_ratio: Option<f64>,
    days_since_last_activity: Option<f64>,
) -> Option<f64> {
    let p = win_prob.filter(|p| p.is_finite())?;
    let neutral =
        |x: Option<f64>, f: &dyn Fn(f64) -> f64| x.filter(|v| v.is_finite()).map_or(0.5, f);
    let parts = [
        1.0 - p.clamp(0.0, 1.0),
        neutral(amount_vs_segment, &|r| {
            ((r.max(1e-9).log2() + 2.0) / 4.0).clamp(0.0, 1.0)
        }),
        neutral(stage_velocity_ratio, &|r| ((r - 1.0) / 2.0).clamp(0.0, 1.0)),
        neutral(days_since_last_activity, &|d| (d / 30.0).clamp(0.0, 1.0)),
    ];
    Some(100.0 * parts.iter().zip(WEIGHTS).map(|(x, w)| x * w).sum::<f64>())
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RiskScore {
    signature: Signature,
}

impl Default for RiskScore {
    fn default() -> Self {
        Self {
            signature: Signature::any(4, Volatility::Immutable),
        }
    }
}

fn floats(a: &ArrayRef, arg: &str) -> Result<Float64Array> {
    if !a.data_type().is_numeric() && a.data_type() != &DataType::Null {
        return exec_err!(
            "risk_score: argument `{arg}` must be a number, got {}",
            a.data_type()
        );
    }
    Ok(cast(a, &DataType::Float64)?
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("cast to Float64 gives a Float64Array")
        .clone())
}

impl ScalarUDFImpl for RiskScore {
    fn name(&self) -> &str {
        "risk_score"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        for t in arg_types {
            if !t.is_numeric() && t != &DataType::Null {
                return plan_err!(
                    "risk_score(win_prob, amount_vs_segment, stage_velocity_ratio, days_since_last_activity) takes numbers, got {t}"
                );
            }
        }
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let names = [
            "win_prob",
            "amount_vs_segment",
            "stage_velocity_ratio",
            "days_since_last_activity",
        ];
        let cols: Vec<Float64Array> = arrays
            .iter()
            .zip(names)
            .map(|(a, n)| floats(a, n))
            .collect::<Result<_>>()?;
        let get = |c: &Float64Array, i: usize| (!c.is_null(i)).then(|| c.value(i));
        use datafusion::arrow::array::Array;
        let out: Float64Array = (0..args.number_rows)
            .map(|i| {
                risk_score(
                    get(&cols[0], i),
                    get(&cols[1], i),
                    get(&cols[2], i),
                    get(&cols[3], i),
                )
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                datafusion::logical_expr::DocSection {
                    include: true,
                    label: "revintel",
                    description: None,
                },
                "Composite 0–100 deal risk from loss risk (0.50), relative size (0.20), stage velocity (0.15) and stagnation (0.15).",
                "risk_score(win_prob, amount_vs_segment, stage_velocity_ratio, days_since_last_activity)",
            )
            .build()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_weights() {
        // Sure win, typical size (0.5), usual pace (0), active today (0): 0.2 * 0.5 * 100.
        assert!(
            (risk_score(Some(1.0), Some(1.0), Some(1.0), Some(0.0)).unwrap() - 10.0).abs() < 1e-9
        );
        // Sure loss, 4x size, 3x slow, 30 days idle: everything at 1.
        assert!(
            (risk_score(Some(0.0), Some(4.0), Some(3.0), Some(30.0)).unwrap() - 100.0).abs() < 1e-9
        );
        // NULL parts are neutral; NULL probability gives NULL.
        assert!((risk_score(Some(0.5), None, None, None).unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(risk_score(None, Some(1.0), Some(1.0), Some(1.0)), None);
        // More risk as each input worsens.
        let base = risk_score(Some(0.5), Some(1.0), Some(1.5), Some(5.0)).unwrap();
        assert!(risk_score(Some(0.3), Some(1.0), Some(1.5), Some(5.0)).unwrap() > base);
        assert!(risk_score(Some(0.5), Some(2.0), Some(1.5), Some(5.0)).unwrap() > base);
        assert!(risk_score(Some(0.5), Some(1.0), Some(2.5), Some(5.0)).unwrap() > base);
        assert!(risk_score(Some(0.5), Some(1.0), Some(1.5), Some(15.0)).unwrap() > base);
    }
}
