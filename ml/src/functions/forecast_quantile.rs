//! `forecast_quantile(q [, period_start, period_end] [, part])` → Float64:
//! the q-quantile of simulated revenue for a period (default: the quarter of
//! the as-of date), from [`crate::simulation`] through the [`ForecastBook`].
//! `part` is `'total'` (the default: won to date + open deals + deals not
//! created yet), `'existing'` (won to date + open deals) or `'new'` (deals
//! not created yet, see [`crate::new_pipeline`]).
//!
//! Simulations are memoised per period inside the function's book, so a
//! query asking for P10, P50 and P90 simulates once. Dates are SQL dates
//! (`DATE '2027-01-01'`); the period includes both ends.

use super::common::doc;
use crate::book::ForecastBook;
use crate::simulation::{Part, Period};
use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

#[derive(Debug)]
pub struct ForecastQuantile {
    book: Arc<ForecastBook>,
    signature: Signature,
}

impl ForecastQuantile {
    pub fn new(book: Arc<ForecastBook>) -> Self {
        Self {
            book,
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Float64]),
                    TypeSignature::Exact(vec![DataType::Float64, DataType::Utf8]),
                    TypeSignature::Exact(vec![
                        DataType::Float64,
                        DataType::Date32,
                        DataType::Date32,
                    ]),
                    TypeSignature::Exact(vec![
                        DataType::Float64,
                        DataType::Date32,
                        DataType::Date32,
                        DataType::Utf8,
                    ]),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl PartialEq for ForecastQuantile {
    fn eq(&self, other: &Self) -> bool {
        self.book.key == other.book.key
    }
}
impl Eq for ForecastQuantile {}
impl Hash for ForecastQuantile {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.book.key.hash(state);
    }
}

impl ScalarUDFImpl for ForecastQuantile {
    fn name(&self) -> &str {
        "forecast_quantile"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let q = arrays[0].as_primitive::<Float64Type>();
        let default = Period::quarter_of(self.book.as_of);
        let mut out = Vec::with_capacity(args.number_rows);
        for i in 0..args.number_rows {
            if q.is_null(i) {
                out.push(None);
                continue;
            }
            let level = q.value(i);
            if !(0.0..=1.0).contains(&level) {
                return exec_err!("forecast_quantile: q must be between 0 and 1, got {level}");
            }
            let part = if arrays.len() % 2 == 0 {
                let parts = arrays[arrays.len() - 1].as_string::<i32>();
                if parts.is_null(i) {
                    out.push(None);
                    continue;
                }
                let Some(part) = Part::parse(parts.value(i)) else {
                    return exec_err!(
                        "forecast_quantile: part must be 'total', 'existing' or 'new', got '{}'",
                        parts.value(i)
                    );
                };
                part
            } else {
                Part::Total
            };
            let period = if arrays.len() >= 3 {
                let (s, e) = (
                    arrays[1].as_primitive::<Date32Type>(),
                    arrays[2].as_primitive::<Date32Type>(),
                );
                if s.is_null(i) || e.is_null(i) {
                    out.push(None);
                    continue;
                }
                let (Some(start), Some(end)) = (
                    crate::time::checked_days_to_date(s.value(i)),
                    crate::time::checked_days_to_date(e.value(i)),
                ) else {
                    return exec_err!("forecast_quantile: the period is outside the calendar");
                };
                if end < start {
                    return exec_err!(
                        "forecast_quantile: the period ends ({end}) before it starts ({start})"
                    );
                }
                Period { start, end }
            } else {
                default
            };
            out.push(Some(
                self.book.simulation(period).part_quantile(part, level),
            ));
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            doc(
                "The q-quantile of Monte Carlo period revenue: closed-won to date, simulated wins of open deals landing in the period, and deals not created yet (new pipeline, for calendar quarters). Default period: the quarter of the as-of date. part: 'total' (default), 'existing' (won to date + open deals) or 'new'.",
                "forecast_quantile(q [, period_start, period_end] [, part])",
            )
        }))
    }
}
