//! Writing a document block by block: the title header, headings,
//! paragraphs, lists, code and rules here; tables, charts, KPI tiles and deal
//! cards in their own modules.
//!
//! A template usually opens with its own level-1 heading. Then that heading
//! is the page's title: the subtitle follows it and the document title is not
//! repeated above it. Otherwise the page opens with a header holding the
//! title and subtitle.

use std::fmt::Write as _;

use crate::document::{Block, Document, Inline};

use super::text::inlines;
use super::{chart, deal_card, escape, kpis, table};

/// Writes the title header (unless the first block takes its place) and
/// every block in reading order.
pub(crate) fn write_document(out: &mut String, doc: &Document) {
    let opens_with_title = matches!(doc.blocks.first(), Some(Block::Heading { level: 1, .. }));
    let subtitle = subtitle_line(doc.subtitle.as_deref());
    if !opens_with_title {
        write_header(out, &doc.title, &subtitle);
    }
    for (i, block) in doc.blocks.iter().enumerate() {
        write_block(out, block);
        if i == 0 && opens_with_title {
            out.push_str(&subtitle);
        }
    }
}

/// The subtitle's paragraph, or nothing.
fn subtitle_line(subtitle: Option<&str>) -> String {
    subtitle
        .map(|s| format!("<p class=\"subtitle\">{}</p>\n", escape(s)))
        .unwrap_or_default()
}

/// The header for a document that does not open with its own title.
fn write_header(out: &mut String, title: &str, subtitle: &str) {
    let _ = write!(
        out,
        "<header class=\"report-header\">\n<h1 class=\"report-title\">{}</h1>\n{subtitle}</header>\n",
        escape(title)
    );
}

fn write_block(out: &mut String, block: &Block) {
    match block {
        Block::Heading {
            level,
            text,
            anchor,
        } => write_heading(out, *level, text, anchor.as_deref()),
        Block::Paragraph(text) => {
            let _ = writeln!(out, "<p>{}</p>", inlines(text));
        }
        Block::List { ordered, items } => write_list(out, *ordered, items),
        Block::Table(t) => table::write(out, t),
        Block::Chart(c) => chart::write(out, c),
        Block::Kpis(k) => kpis::write(out, k),
        Block::DealCard(d) => deal_card::write(out, d),
        Block::Code { lang, text } => write_code(out, lang.as_deref(), text),
        Block::Rule => out.push_str("<hr>\n"),
        Block::PageBreak => out.push_str("<div class=\"page-break\" aria-hidden=\"true\"></div>\n"),
    }
}

/// A heading at `level`, clamped to HTML's `h1`..`h6`.
fn write_heading(out: &mut String, level: u8, text: &[Inline], anchor: Option<&str>) {
    let level = level.clamp(1, 6);
    let id = anchor
        .map(|a| format!(" id=\"{}\"", escape(a)))
        .unwrap_or_default();
    let _ = writeln!(out, "<h{level}{id}>{}</h{level}>", inlines(text));
}

fn write_list(out: &mut String, ordered: bool, items: &[Vec<Inline>]) {
    let tag = if ordered { "ol" } else { "ul" };
    let _ = writeln!(out, "<{tag}>");
    for item in items {
        let _ = writeln!(out, "<li>{}</li>", inlines(item));
    }
    let _ = writeln!(out, "</{tag}>");
}

/// A code block; the language, if given, becomes a `language-…` class.
fn write_code(out: &mut String, lang: Option<&str>, text: &str) {
    let class = lang
        .map(|l| format!(" class=\"language-{}\"", escape(l)))
        .unwrap_or_default();
    let _ = writeln!(out, "<pre><code{class}>{}</code></pre>", escape(text));
}
