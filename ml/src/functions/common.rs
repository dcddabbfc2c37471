//! What the model functions share: checking their feature arguments and
//! writing their documentation.

use crate::encoding::{FeatureKind, MODEL_FEATURES};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{DocSection, Documentation};

/// Checks a model UDF's argument types: numbers where the model wants
/// numbers, strings (or NULL) where it wants categories.
pub fn check_feature_types(function: &str, arg_types: &[DataType]) -> Result<()> {
    for ((name, kind), t) in MODEL_FEATURES.iter().zip(arg_types) {
        let ok = match kind {
            FeatureKind::Numeric => t.is_numeric() || t == &DataType::Null,
            FeatureKind::Categorical => {
                matches!(
                    t,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
                )
            }
        };
        if !ok {
            return plan_err!(
                "{function}: argument `{name}` must be {}, got {t}",
                match kind {
                    FeatureKind::Numeric => "a number",
                    FeatureKind::Categorical => "text",
                }
            );
        }
    }
    Ok(())
}

/// A function's documentation, in the revintel section of `SHOW FUNCTIONS`.
pub fn doc(description: &'static str, syntax: &'static str) -> Documentation {
    Documentation::builder(
        DocSection {
            include: true,
            label: "revintel",
            description: None,
        },
        description,
        syntax,
    )
    .build()
}
