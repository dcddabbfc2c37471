//! The HTML writer: a [`Document`] as one self-contained HTML file.
//!
//! Everything the page needs is inside it — inline CSS (for the screen and
//! for print: page breaks, tables that do not split mid-row), charts as
//! inline SVG, KPI tiles and deal cards — and nothing is fetched: no fonts,
//! scripts or images from anywhere. A Content-Security-Policy meta tag
//! makes that a guarantee (and blocks scripts) unless the caller relaxes it.
//!
//! Every piece of text is escaped here (`&`, `<`, `>`, `"`, `'`); the
//! document model holds plain text only. Links keep their target unless it
//! has a scheme other than http, https or mailto (a `javascript:` link is
//! shown as text).
//!
//! The page is written in one pass into a `String`: the shell and its
//! stylesheet (`page`), then the blocks in reading order (`blocks`), each
//! kind of block in its own module as in the PDF writer.

mod blocks;
mod chart;
mod deal_card;
mod kpis;
mod page;
mod table;
#[cfg(test)]
mod tests;
mod text;
pub(crate) use text::safe_href;

use std::io;
use std::path::Path;

use crate::document::Document;

pub use utils::fs::write_atomic;

/// The policy of a report: inline styles only, nothing loaded, no scripts.
pub const DEFAULT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// How to write the HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlOptions {
    /// Extra markup for the end of `<head>`, e.g. a live-reload script.
    pub extra_head: String,
    /// The Content-Security-Policy; `None` writes none (needed for an
    /// `extra_head` script that must run or connect).
    pub content_security_policy: Option<String>,
}

impl Default for HtmlOptions {
    fn default() -> HtmlOptions {
        HtmlOptions {
            extra_head: String::new(),
            content_security_policy: Some(DEFAULT_CSP.to_string()),
        }
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page for `doc`.
pub fn render_html(doc: &Document, options: &HtmlOptions) -> String {
    let mut out = String::with_capacity(16 * 1024);
    page::open(&mut out, &doc.title, options);
    blocks::write_document(&mut out, doc);
    page::close(&mut out, doc.footer.as_deref());
    out
}

/// Writes `doc` to `path` (default options) so that a reader never sees a
/// half-written file: a temporary file in the same folder, then a rename.
pub fn write_html_atomic(doc: &Document, path: &Path) -> io::Result<()> {
    write_atomic(path, render_html(doc, &HtmlOptions::default()).as_bytes())
}
