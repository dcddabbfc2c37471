//! Deal features, models and the DataFusion UDFs over them.
//!
//! This crate knows the feature definitions, trains and loads the models,
//! calibrates and explains their scores, and exposes them to SQL as UDFs.
//! It knows nothing of reports, file layouts of CRM exports or the CLI.

pub mod calibration;
pub mod drivers;
pub mod features;
pub mod forecast;
pub mod forecast_quantile;
pub mod metrics;
pub mod model;
pub mod model_features;
pub mod risk_score;
pub mod shap_top;
pub mod stages;
pub mod time;
pub mod train;
pub mod win_prob;
