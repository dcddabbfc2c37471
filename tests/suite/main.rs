//! The one integration-test suite: the `revintel` binary and library end to
//! end, one module per area, sharing the helpers in [`common`].
//!
//! - [`cli`]: seeding, one-shot SQL in every format, the read-only rule,
//!   located errors, limits on what a statement, a flag or a result may be;
//! - [`slt`]: the SQL of the tables, views and functions, as `.slt` files;
//! - [`features`]: no feature sees past its cut-off;
//! - [`import`], [`import_maven`], [`postgres`]: every source, bad input,
//!   real exports and a real PostgreSQL server;
//! - [`models`]: training, scoring, the forecast, the backtest, model files;
//!   [`leaks`]: the leak guard on exports that give the outcome away;
//! - [`reports`]: every shipped template built and read back (HTML parsed,
//!   PDF through `pdftotext`); [`snapshots`]: their HTML on the tiny fixture;
//! - [`live`]: `watch` and `serve`, with a real browser;
//! - [`pg`]: the PostgreSQL endpoint with psql, psycopg and tokio-postgres;
//! - [`deliveries`]: `deliver` and `schedule` mailing reports exactly once;
//!   [`smtp`]: the real SMTP server (aiosmtpd) on loopback they send to, and
//!   smoke tests proving it with lettre.

// A skipped test says so on stderr.
#![allow(clippy::print_stderr)]

mod cli;
mod common;
mod deliveries;
mod features;
mod import;
mod import_maven;
mod leaks;
mod live;
mod models;
mod pg;
mod postgres;
mod reports;
mod slt;
mod smtp;
mod snapshots;
