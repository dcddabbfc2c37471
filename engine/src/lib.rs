//! revintel: revenue intelligence for sales pipelines.
//!
//! The library behind the `revintel` binary: where data comes from
//! ([`sources`]), the project and its config ([`project`]), the SQL session
//! over the pipeline ([`session`]), running user SQL read-only ([`query`],
//! [`readonly`]) and printing results ([`output`]). The demo data generator
//! lives in [`seed`].

pub mod backtest;
pub mod build;
pub mod changes;
pub mod demo;
pub mod forecast;
pub mod lazy_table;
pub mod live;
pub mod lock;
pub mod models;
pub mod output;
pub mod project;
pub mod query;
pub mod readonly;
pub mod scoring;
pub mod seed;
pub mod serve;
pub mod session;
pub mod settings;
pub mod sources;
pub mod watcher;
