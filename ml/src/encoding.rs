//! The model's view of a deal: which `deal_features` columns go in, in what
//! order, and how categories become numbers.
//!
//! The same code builds the matrix for training, for the UDFs and for the
//! benchmarks, so a model is always fed exactly what it was trained on.
//!
//! **Missing values.** NULL becomes NaN. What the model then does with it is
//! decided here, and said the same way in the README and the drivers:
//! - a numeric feature that was missing in some training rows has a branch
//!   for missing values the model learned: NaN takes it;
//! - a numeric feature that was never missing in training has no such
//!   branch (LightGBM would read NaN as 0), so a missing value is scored as
//!   the training median, recorded in the model ([`Encodings::fills`]) and
//!   named in the deal's drivers ("amount not known; scored as $55k");
//! - a categorical feature's NULL, and a category never seen in training,
//!   take the branch of "not one of the split's categories" of every
//!   categorical split — the same for both, and never a known category's.

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How a feature is given to LightGBM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    Numeric,
    Categorical,
}

/// The model's features, in matrix column order. Every name is a column of
/// `deal_features` (see [`crate::features::FEATURE_COLUMNS`]).
pub const MODEL_FEATURES: [(&str, FeatureKind); 16] = [
    ("stage_index", FeatureKind::Numeric),
    ("age_days", FeatureKind::Numeric),
    ("days_in_stage", FeatureKind::Numeric),
    ("stage_velocity_ratio", FeatureKind::Numeric),
    ("stage_changes", FeatureKind::Numeric),
    ("close_date_pushes", FeatureKind::Numeric),
    ("days_to_close", FeatureKind::Numeric),
    ("amount", FeatureKind::Numeric),
    ("amount_vs_segment", FeatureKind::Numeric),
    ("owner_win_rate", FeatureKind::Numeric),
    ("owner_closed_deals", FeatureKind::Numeric),
    ("days_since_last_activity", FeatureKind::Numeric),
    ("segment", FeatureKind::Categorical),
    ("deal_type", FeatureKind::Categorical),
    ("lead_source", FeatureKind::Categorical),
    ("product_id", FeatureKind::Categorical),
];

/// Number of model features.
pub const N_FEATURES: usize = MODEL_FEATURES.len();

/// The model feature names, in order.
pub fn feature_names() -> Vec<String> {
    MODEL_FEATURES.iter().map(|(n, _)| n.to_string()).collect()
}

/// Positions of the categorical features (LightGBM's `categorical_feature`).
pub fn categorical_positions() -> Vec<usize> {
    MODEL_FEATURES
        .iter()
        .enumerate()
        .filter(|(_, (_, k))| *k == FeatureKind::Categorical)
        .map(|(i, _)| i)
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("feature `{0}` is missing from the input")]
    Missing(String),
    #[error("feature `{name}` has type {found}, which cannot be used as a {kind:?} feature")]
    Type {
        name: String,
        found: DataType,
        kind: FeatureKind,
    },
    #[error("expected {expected} feature columns, got {found}")]
    Count { expected: usize, found: usize },
}

/// The categories of one categorical feature; a category's code is its index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryCodes {
    pub feature: String,
    pub categories: Vec<String>,
}

/// Category codes for every categorical feature, and the values scored for
/// missing numeric features, fitted on training data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Encodings {
    pub categorical: Vec<CategoryCodes>,
    /// Per model feature, in [`MODEL_FEATURES`] order: the value a missing
    /// value is scored as (the training median), for numeric features that
    /// were never missing in training; None where the model learned a
    /// branch for missing values (and for categorical features).
    #[serde(default)]
    pub fills: Vec<Option<f64>>,
}

impl Encodings {
    /// The sorted distinct non-NULL values of each categorical feature.
    pub fn fit(batches: &[RecordBatch]) -> Result<Encodings, FeatureError> {
        let mut categorical = Vec::new();
        for (name, kind) in MODEL_FEATURES {
            if kind != FeatureKind::Categorical {
                continue;
            }
            let mut values = std::collections::BTreeSet::new();
            for batch in batches {
                let column = batch
                    .column_by_name(name)
                    .ok_or_else(|| FeatureError::Missing(name.to_string()))?;
                let strings = as_strings(name, column)?;
                values.extend(strings.iter().flatten().map(str::to_string));
            }
            categorical.push(CategoryCodes {
                feature: name.to_string(),
                categories: values.into_iter().collect(),
            });
        }
        Ok(Encodings {
            categorical,
            fills: Vec::new(),
        })
    }

    /// The row-major `rows × N_FEATURES` matrix of `columns`, given in
    /// [`MODEL_FEATURES`] order; NULL and unseen categories become NaN.
    pub fn matrix(&self, columns: &[ArrayRef]) -> Result<Vec<f64>, FeatureError> {
        if columns.len() != N_FEATURES {
            return Err(FeatureError::Count {
                expected: N_FEATURES,
                found: columns.len(),
            });
        }
        let rows = columns.first().map_or(0, |c| c.len());
        let mut matrix = vec![f64::NAN; rows * N_FEATURES];
        let mut codes = self.categorical.iter();
        for (j, ((name, kind), column)) in MODEL_FEATURES.iter().zip(columns).enumerate() {
            match kind {
                FeatureKind::Numeric => {
                    let values = as_f64(name, column)?;
                    for (i, v) in values.iter().enumerate() {
                        if let Some(v) = v {
                            matrix[i * N_FEATURES + j] = v;
                        }
                    }
                }
                FeatureKind::Categorical => {
                    let known = codes
                        .next()
                        .ok_or_else(|| FeatureError::Missing(name.to_string()))?;
                    let lookup: HashMap<&str, f64> = known
                        .categories
                        .iter()
                        .enumerate()
                        .map(|(code, c)| (c.as_str(), code as f64))
                        .collect();
                    let strings = as_strings(name, column)?;
                    for (i, v) in strings.iter().enumerate() {
                        if let Some(code) = v.and_then(|v| lookup.get(v)) {
                            matrix[i * N_FEATURES + j] = *code;
                        }
                    }
                }
            }
        }
        Ok(matrix)
    }

    /// Records, from the training rows `rows` of `matrix`, the value each
    /// numeric feature never missing there is scored as when missing: its
    /// median (see the module docs).
    pub fn fit_fills(&mut self, matrix: &[f64], rows: &[usize]) {
        self.fills = MODEL_FEATURES
            .iter()
            .enumerate()
            .map(|(j, (_, kind))| {
                if *kind != FeatureKind::Numeric {
                    return None;
                }
                let mut values: Vec<f64> = Vec::with_capacity(rows.len());
                for &i in rows {
                    let v = matrix[i * N_FEATURES + j];
                    if v.is_nan() {
                        return None;
                    }
                    values.push(v);
                }
                if values.is_empty() {
                    return None;
                }
                values.sort_by(f64::total_cmp);
                Some(values[values.len() / 2])
            })
            .collect();
    }

    /// What the model is given for `matrix`: missing values of features
    /// with a fill replaced by it; unchanged (borrowed) when there are none.
    pub fn model_input<'m>(&self, matrix: &'m [f64]) -> std::borrow::Cow<'m, [f64]> {
        let filled = |j: usize| self.fills.get(j).copied().flatten();
        let needs = matrix
            .iter()
            .enumerate()
            .any(|(k, v)| v.is_nan() && filled(k % N_FEATURES).is_some());
        if !needs {
            return std::borrow::Cow::Borrowed(matrix);
        }
        let mut input = matrix.to_vec();
        for (k, v) in input.iter_mut().enumerate() {
            if v.is_nan() {
                if let Some(fill) = filled(k % N_FEATURES) {
                    *v = fill;
                }
            }
        }
        std::borrow::Cow::Owned(input)
    }

    /// The value a missing `feature` is scored as, if it has one.
    pub fn fill_of(&self, feature: &str) -> Option<f64> {
        let j = MODEL_FEATURES.iter().position(|(n, _)| *n == feature)?;
        self.fills.get(j).copied().flatten()
    }

    /// The category name of `code` for the categorical feature `feature`.
    pub fn category(&self, feature: &str, code: f64) -> Option<&str> {
        let codes = self.categorical.iter().find(|c| c.feature == feature)?;
        (code >= 0.0).then(|| codes.categories.get(code as usize).map(String::as_str))?
    }
}

/// The model feature columns of a batch, in model order.
pub fn feature_columns(batch: &RecordBatch) -> Result<Vec<ArrayRef>, FeatureError> {
    MODEL_FEATURES
        .iter()
        .map(|(name, _)| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| FeatureError::Missing(name.to_string()))
        })
        .collect()
}

fn as_f64(name: &str, column: &ArrayRef) -> Result<Float64Array, FeatureError> {
    let type_err = || FeatureError::Type {
        name: name.to_string(),
        found: column.data_type().clone(),
        kind: FeatureKind::Numeric,
    };
    if !(column.data_type().is_numeric() || column.data_type() == &DataType::Null) {
        return Err(type_err());
    }
    let cast = cast(column, &DataType::Float64).map_err(|_| type_err())?;
    Ok(cast
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("cast to Float64 gives a Float64Array")
        .clone())
}

fn as_strings(name: &str, column: &ArrayRef) -> Result<StringArray, FeatureError> {
    let type_err = || FeatureError::Type {
        name: name.to_string(),
        found: column.data_type().clone(),
        kind: FeatureKind::Categorical,
    };
    let cast = cast(column, &DataType::Utf8).map_err(|_| type_err())?;
    Ok(cast
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8 gives a StringArray")
        .clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;

    fn columns(segment: Vec<Option<&str>>, amount: Vec<Option<f64>>) -> Vec<ArrayRef> {
        let n = segment.len();
        MODEL_FEATURES
            .iter()
            .map(|(name, kind)| -> ArrayRef {
                match (*name, kind) {
                    ("segment", _) => Arc::new(StringArray::from(segment.clone())),
                    ("amount", _) => Arc::new(Float64Array::from(amount.clone())),
                    (_, FeatureKind::Numeric) => Arc::new(Int64Array::from(vec![Some(1); n])),
                    (_, FeatureKind::Categorical) => {
                        Arc::new(StringArray::from(vec![Some("x"); n]))
                    }
                }
            })
            .collect()
    }

    #[test]
    fn nulls_and_unseen_categories_are_missing_not_zero() {
        let enc = Encodings {
            categorical: ["segment", "deal_type", "lead_source", "product_id"]
                .iter()
                .map(|f| CategoryCodes {
                    feature: f.to_string(),
                    categories: vec!["SMB".into(), "x".into()],
                })
                .collect(),
            fills: Vec::new(),
        };
        let cols = columns(
            vec![Some("SMB"), Some("Galactic"), None],
            vec![Some(0.0), None, Some(5.0)],
        );
        let m = enc.matrix(&cols).unwrap();
        let seg = MODEL_FEATURES
            .iter()
            .position(|(n, _)| *n == "segment")
            .unwrap();
        let amount = MODEL_FEATURES
            .iter()
            .position(|(n, _)| *n == "amount")
            .unwrap();
        assert_eq!(m[seg], 0.0);
        assert!(m[N_FEATURES + seg].is_nan(), "unseen category is missing");
        assert!(m[2 * N_FEATURES + seg].is_nan(), "NULL category is missing");
        assert_eq!(m[amount], 0.0, "a real zero stays zero");
        assert!(m[N_FEATURES + amount].is_nan(), "NULL number is missing");
        assert_eq!(m[2 * N_FEATURES + amount], 5.0);
        assert_eq!(enc.category("segment", 1.0), Some("x"));
    }

    #[test]
    fn wrong_column_count_and_types_are_errors() {
        let enc = Encodings::default();
        assert!(matches!(enc.matrix(&[]), Err(FeatureError::Count { .. })));
        let mut cols = columns(vec![Some("SMB")], vec![Some(1.0)]);
        cols[0] = Arc::new(StringArray::from(vec!["three"]));
        assert!(matches!(enc.matrix(&cols), Err(FeatureError::Type { .. })));
    }
}
