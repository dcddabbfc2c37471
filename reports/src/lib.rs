//! Report templates rendered to HTML pages and PDF briefings.
//!
//! A template is Markdown with front matter, named SQL fences and minijinja
//! expressions ([`template`]). The engine runs the fences' SQL and hands the
//! results in as Arrow batches ([`results`]); rendering produces one
//! [`document::Document`] that both writers lay out — [`html`] (one
//! self-contained file) and [`pdf`] (printpdf, embedded DejaVu fonts). This
//! crate knows nothing of models or of where the data comes from.

pub mod components;
pub mod document;
pub mod filters;
pub mod html;
pub mod mail;
pub mod markdown;
pub mod page_name;
pub mod pdf;
pub mod results;
pub mod template;
