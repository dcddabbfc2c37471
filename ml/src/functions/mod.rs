//! The SQL functions, one per file, the way DataFusion lays out its own:
//! each file holds the function's struct, its `ScalarUDFImpl`, the kernel
//! over whole Arrow arrays and its tests; [`common`] holds what they share.
//! [`all`] is the one list that registers them — nothing registers a
//! function by hand elsewhere.

pub mod common;
pub mod forecast_quantile;
pub mod risk_score;
pub mod shap_top;
pub mod win_prob;
pub mod withheld;

use crate::book::ForecastBook;
use crate::trained::Models;
use datafusion::logical_expr::ScalarUDF;
use std::sync::Arc;

/// Every function that can run: `risk_score` always, the model functions
/// when `models` are given, `forecast_quantile` when its `book` is.
pub fn all(models: Option<&Models>, book: Option<Arc<ForecastBook>>) -> Vec<ScalarUDF> {
    let mut functions = vec![ScalarUDF::new_from_impl(risk_score::RiskScore::default())];
    if let Some(models) = models {
        functions.push(ScalarUDF::new_from_impl(win_prob::WinProb::new(
            models.win_prob.clone(),
        )));
        functions.push(ScalarUDF::new_from_impl(shap_top::ShapTop::new(
            models.win_prob.clone(),
        )));
    }
    if let Some(book) = book {
        functions.push(ScalarUDF::new_from_impl(
            forecast_quantile::ForecastQuantile::new(book),
        ));
    }
    functions
}

/// For a model the leak guard withheld: `risk_score`, and in place of each
/// model function a stand-in that refuses with `reason` (see [`withheld`]).
pub fn withheld(reason: &str) -> Vec<ScalarUDF> {
    let mut functions = all(None, None);
    for name in ["win_prob", "shap_top", "forecast_quantile"] {
        functions.push(ScalarUDF::new_from_impl(withheld::Withheld::new(
            name, reason,
        )));
    }
    functions
}

/// The names of every function [`all`] can register.
pub const NAMES: [&str; 4] = ["risk_score", "win_prob", "shap_top", "forecast_quantile"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_functions_share_a_name() {
        let mut names = NAMES.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
        let without_models: Vec<String> = all(None, None)
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        assert_eq!(without_models, ["risk_score"]);
        for name in &without_models {
            assert!(NAMES.contains(&name.as_str()));
        }
        let stand_ins: Vec<String> = withheld("why")
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        let mut sorted = stand_ins.clone();
        sorted.sort();
        let mut all_names = NAMES.to_vec();
        all_names.sort();
        assert_eq!(sorted, all_names, "every function has its stand-in");
    }
}
