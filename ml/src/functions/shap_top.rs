//! `shap_top(<the 16 win_prob arguments>, k)` → the `k` largest drivers of a
//! deal's win probability, as a list of structs
//! `{feature, value, contribution, phrase, action}`.
//!
//! Contributions are LightGBM's TreeSHAP values in **log-odds** (the raw
//! margin, before calibration); with the bias they sum to the margin. A
//! positive contribution raises the win chance. `action` is the suggested
//! action for a driver that lowers it (see [`crate::drivers`]), else NULL.

use super::common::{check_feature_types, doc};
use crate::drivers::top_drivers;
use crate::encoding::N_FEATURES;
use crate::trained::WinProbModel;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, ListArray, StringBuilder, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Int64Type};
use datafusion::common::{exec_datafusion_err, exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

/// The fields of one driver struct.
pub fn driver_fields() -> Fields {
    Fields::from(vec![
        Field::new("feature", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
        Field::new("contribution", DataType::Float64, false),
        Field::new("phrase", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, true),
    ])
}

/// The list type `shap_top` returns.
pub fn drivers_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(driver_fields()),
        true,
    )))
}

#[derive(Debug)]
pub struct ShapTop {
    model: Arc<WinProbModel>,
    signature: Signature,
}

impl ShapTop {
    pub fn new(model: Arc<WinProbModel>) -> Self {
        Self {
            model,
            signature: Signature::any(N_FEATURES + 1, Volatility::Immutable),
        }
    }
}

impl PartialEq for ShapTop {
    fn eq(&self, other: &Self) -> bool {
        self.model.fingerprint == other.model.fingerprint
    }
}
impl Eq for ShapTop {}
impl Hash for ShapTop {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.model.fingerprint.hash(state);
    }
}

/// Builds the list-of-driver-structs column for `rows` deals.
pub fn drivers_array(model: &WinProbModel, matrix: &[f64], k: &[usize]) -> Result<ArrayRef> {
    let rows = matrix.len() / N_FEATURES;
    let contributions = model
        .contributions(matrix)
        .map_err(|e| exec_datafusion_err!("shap_top: {e}"))?;
    let (mut feature, mut value, mut phrase, mut action) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut contribution = Float64Builder::new();
    let mut offsets = Vec::with_capacity(rows + 1);
    offsets.push(0i32);
    for i in 0..rows {
        let row = &matrix[i * N_FEATURES..(i + 1) * N_FEATURES];
        let c = &contributions[i * (N_FEATURES + 1)..(i + 1) * (N_FEATURES + 1)];
        let drivers = top_drivers(row, c, k[i], &model.meta.encodings);
        for d in &drivers {
            feature.append_value(d.feature);
            value.append_value(&d.value);
            contribution.append_value(d.contribution);
            phrase.append_value(&d.phrase);
            action.append_option(d.action);
        }
        offsets.push(offsets[i] + drivers.len() as i32);
    }
    let items = StructArray::new(
        driver_fields(),
        vec![
            Arc::new(feature.finish()),
            Arc::new(value.finish()),
            Arc::new(contribution.finish()),
            Arc::new(phrase.finish()),
            Arc::new(action.finish()),
        ],
        None,
    );
    let list = ListArray::new(
        Arc::new(Field::new("item", DataType::Struct(driver_fields()), true)),
        OffsetBuffer::new(offsets.into()),
        Arc::new(items),
        None,
    );
    Ok(Arc::new(list))
}

impl ScalarUDFImpl for ShapTop {
    fn name(&self) -> &str {
        "shap_top"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_feature_types("shap_top", &arg_types[..N_FEATURES])?;
        if !arg_types[N_FEATURES].is_integer() {
            return plan_err!(
                "shap_top: the last argument `k` must be a whole number, got {}",
                arg_types[N_FEATURES]
            );
        }
        Ok(drivers_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let columns = ColumnarValue::values_to_arrays(&args.args)?;
        let k = datafusion::arrow::compute::cast(&columns[N_FEATURES], &DataType::Int64)?;
        let k = k.as_primitive::<Int64Type>();
        let mut ks = Vec::with_capacity(k.len());
        for i in 0..k.len() {
            if k.is_null(i) || k.value(i) < 0 {
                return exec_err!(
                    "shap_top: k must be 0 or more, got {}",
                    if k.is_null(i) {
                        "NULL".into()
                    } else {
                        k.value(i).to_string()
                    }
                );
            }
            ks.push((k.value(i) as usize).min(N_FEATURES));
        }
        let matrix = self
            .model
            .meta
            .encodings
            .matrix(&columns[..N_FEATURES])
            .map_err(|e| exec_datafusion_err!("shap_top: {e}"))?;
        Ok(ColumnarValue::Array(drivers_array(
            &self.model,
            &matrix,
            &ks,
        )?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            doc(
                "Top-k drivers of a deal's win probability: TreeSHAP contributions in log-odds with a phrase and a suggested action.",
                "shap_top(<win_prob arguments>, k)",
            )
        }))
    }
}
