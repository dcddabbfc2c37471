//! Revenue models: the features a deal is judged on, training and loading
//! the models, calibrating and explaining their scores, simulating the
//! forecast, and the SQL functions over all of it.
//!
//! - [`features`]: the `deal_features` SQL; [`encoding`]: which features go
//!   into the models, in what order, and how categories become numbers.
//! - [`train`], [`calibration`], [`metrics`]: training and judging the
//!   win-probability and time-to-close models (through LightGBM's C API,
//!   [`lgbm`]); [`trained`]: the trained
//!   models on disk (one verified set) and in memory.
//! - [`leaks`]: the guard against a model that is too good to be true.
//! - [`drivers`]: SHAP contributions in words, with suggested actions.
//! - [`simulation`]: the Monte Carlo revenue forecast; [`book`]: a
//!   pipeline's simulations, run once per period; [`track_record`]: how
//!   far past forecasts missed, which widens the band.
//! - [`functions`]: the SQL functions (`win_prob`, `shap_top`, `risk_score`,
//!   `forecast_quantile`), one per file, registered from one list.
//! - [`stages`], [`time`]: the canonical funnel and Arrow's calendar days.
//!
//! It knows nothing of reports, of CRM export formats or of the CLI.

pub mod book;
pub mod calibration;
pub mod drivers;
pub mod encoding;
pub mod features;
pub mod functions;
pub mod leaks;
pub mod lgbm;
pub mod metrics;
pub mod new_pipeline;
pub mod simulation;
pub mod stages;
pub mod time;
pub mod track_record;
pub mod train;
pub mod trained;
