//! The stand-in for a model function whose model the leak guard withheld
//! (see [`crate::leaks`]): same name, any arguments, and planning a query
//! that calls it fails with the reason and how to accept the model, instead
//! of DataFusion's "invalid function".

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// A function `name` that refuses to run, saying `reason`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Withheld {
    name: &'static str,
    reason: String,
    signature: Signature,
}

impl Withheld {
    pub fn new(name: &'static str, reason: &str) -> Self {
        Self {
            name,
            reason: reason.to_string(),
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Withheld {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("{}: {}", self.name, self.reason)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        plan_err!("{}: {}", self.name, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planning_a_call_fails_with_the_reason() {
        let f = Withheld::new(
            "win_prob",
            "scores withheld: `amount` gives the outcome away",
        );
        let err = f
            .return_type(&[DataType::Int64, DataType::Utf8])
            .unwrap_err()
            .to_string();
        assert!(err.contains("win_prob: scores withheld: `amount`"), "{err}");
    }
}
