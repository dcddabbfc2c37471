//! Deal features, models and the DataFusion UDFs over them.
//!
//! This crate knows the feature definitions and (later) the trained models;
//! it knows nothing of reports, files on disk layouts or the CLI.

pub mod features;
pub mod stages;
