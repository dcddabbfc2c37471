//! revintel: revenue intelligence for sales pipelines.
//!
//! The library behind the `revintel` binary, in layers that import only
//! downwards (ARCHITECTURE.md draws them):
//!
//! - **Project and data:** [`project`] (the folder and its `revintel.toml`),
//!   [`settings`] (the query engine's memory and `DATAFUSION_*` settings),
//!   [`sources`] (CRM exports and databases loaded into Arrow, with a load
//!   report), [`seed`] and [`demo`] (the demo data), [`lock`] (one writer
//!   per project).
//! - **SQL:** [`query`] (parsing, the read-only rule, nesting bounds, located
//!   errors, streaming results), [`readonly`], [`output`] (tables, CSV,
//!   JSON), [`session`] (the DataFusion session: tables and the views of
//!   [`pipeline_changes`] and the features), [`lazy_table`].
//! - **Models:** [`models`] (present, trained), [`caches`] (computed tables
//!   kept on disk), [`scoring`] and [`forecast_tables`] (the scored deals and
//!   the forecast as tables), [`attach`] (models onto a session),
//!   [`backtest`] (past forecasts against what was won), [`track_record`]
//!   (the saved backtest as the band's record of misses).
//! - **Use:** [`open`] (the one way to get a ready session), [`build`]
//!   (templates to HTML and PDF), [`live`] (rebuilding as files change, and
//!   serving).
//!
//! Nothing here prints: the binary (`main.rs`, `cmd/`) shows what the
//! library returns.

pub mod attach;
pub mod backtest;
pub mod build;
pub mod caches;
pub mod delivery;
pub mod delivery_config;
pub mod demo;
pub mod forecast_tables;
pub mod lazy_table;
pub mod live;
pub mod lock;
pub mod models;
pub mod open;
pub mod output;
pub mod pg;
pub mod pipeline_changes;
pub mod project;
pub mod quality;
pub mod query;
pub mod readonly;
pub mod scoring;
pub mod seed;
pub mod session;
pub mod settings;
pub mod sources;
pub mod track_record;
pub mod withheld_table;
