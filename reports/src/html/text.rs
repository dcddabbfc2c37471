//! Inline text: runs of plain, strong, emphasised and code text, line breaks
//! and links, and the rule for which link targets a report may keep.
//!
//! Text is escaped as it is written; markup comes only from the document's
//! structure, never from its text. A link whose target has a scheme other
//! than http, https or mailto (`javascript:`, `data:`, …) is written as its
//! text alone, so a report cannot carry a script in an `href`. Relative
//! targets, fragments and queries are kept as they are.

use std::fmt::Write as _;

use crate::document::Inline;

use super::escape;

/// The markup for a run of inline items.
pub(crate) fn inlines(items: &[Inline]) -> String {
    let mut out = String::new();
    for item in items {
        match item {
            Inline::Text(t) => out.push_str(&escape(t)),
            Inline::Strong(inner) => {
                let _ = write!(out, "<strong>{}</strong>", inlines(inner));
            }
            Inline::Emphasis(inner) => {
                let _ = write!(out, "<em>{}</em>", inlines(inner));
            }
            Inline::Code(code) => {
                let _ = write!(out, "<code>{}</code>", escape(code));
            }
            Inline::Link { text, href } => write_link(&mut out, text, href),
            Inline::LineBreak => out.push_str("<br>"),
        }
    }
    out
}

/// A link around `text`, or `text` alone when the target may not be linked.
fn write_link(out: &mut String, text: &[Inline], href: &str) {
    match safe_href(href) {
        Some(href) => {
            let _ = write!(out, "<a href=\"{}\">{}</a>", escape(href), inlines(text));
        }
        None => out.push_str(&inlines(text)),
    }
}

/// Plain `text` as a link to `href` when there is one that may be linked.
pub(crate) fn linked(text: &str, href: Option<&str>) -> String {
    match href.and_then(safe_href) {
        Some(href) => format!("<a href=\"{}\">{}</a>", escape(href), escape(text)),
        None => escape(text),
    }
}

/// The link target to write, or None for a scheme a report must not link to.
pub(crate) fn safe_href(href: &str) -> Option<&str> {
    let href = href.trim();
    let scheme_end = href.find(':');
    let path_start = href.find(['/', '?', '#']);
    match (scheme_end, path_start) {
        (Some(colon), Some(path)) if path < colon => Some(href),
        (Some(colon), _) => {
            let scheme = href[..colon].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto").then_some(href)
        }
        (None, _) => Some(href),
    }
}
