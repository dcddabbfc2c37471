//! `win_prob(stage_index, age_days, days_in_stage, stage_velocity_ratio,
//! stage_changes, close_date_pushes, days_to_close, amount, amount_vs_segment,
//! owner_win_rate, owner_closed_deals, days_since_last_activity, segment,
//! deal_type, lead_source, product_id)` → Float64, the calibrated P(won).
//!
//! The arguments are the model features in [`MODEL_FEATURES`] order — the
//! columns of `deal_features` of the same names — so what-if questions are
//! plain SQL: pass `amount / 2` or `stage_index + 1` instead of the column.
//! NULL arguments are missing values, never zeros: a feature that was
//! sometimes missing in training takes the branch the model learned for
//! it, one that never was is scored as its training median, and a
//! category the model never saw is scored exactly like NULL (see
//! [`crate::encoding`]).

use super::common::{check_feature_types, doc};
use crate::encoding::N_FEATURES;
use crate::trained::WinProbModel;
use datafusion::arrow::array::Float64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_datafusion_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

/// The `win_prob` UDF over a loaded model.
#[derive(Debug)]
pub struct WinProb {
    model: Arc<WinProbModel>,
    signature: Signature,
}

impl WinProb {
    pub fn new(model: Arc<WinProbModel>) -> Self {
        Self {
            model,
            signature: Signature::any(N_FEATURES, Volatility::Immutable),
        }
    }
}

impl std::fmt::Debug for WinProbModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WinProbModel({})", self.fingerprint)
    }
}

impl PartialEq for WinProb {
    fn eq(&self, other: &Self) -> bool {
        self.model.fingerprint == other.model.fingerprint
    }
}
impl Eq for WinProb {}
impl Hash for WinProb {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.model.fingerprint.hash(state);
    }
}

impl ScalarUDFImpl for WinProb {
    fn name(&self) -> &str {
        "win_prob"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_feature_types("win_prob", arg_types)?;
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let columns = ColumnarValue::values_to_arrays(&args.args)?;
        let matrix = self
            .model
            .meta
            .encodings
            .matrix(&columns)
            .map_err(|e| exec_datafusion_err!("win_prob: {e}"))?;
        let probs = self
            .model
            .probabilities(&matrix)
            .map_err(|e| exec_datafusion_err!("win_prob: {e}"))?;
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(probs))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            doc(
                "Calibrated probability that a deal is won, from the model features in deal_features order.",
                "win_prob(stage_index, age_days, days_in_stage, stage_velocity_ratio, stage_changes, close_date_pushes, days_to_close, amount, amount_vs_segment, owner_win_rate, owner_closed_deals, days_since_last_activity, segment, deal_type, lead_source, product_id)",
            )
        }))
    }
}
