//! Tables: a header row, body rows whose cells may link, per-column
//! alignment and an optional caption.
//!
//! The table sits in a wrapper that scrolls sideways on a narrow screen
//! rather than squeezing its columns; in print the wrapper lets it flow and
//! the stylesheet repeats the header on every sheet. A row shorter than the
//! header is padded with empty cells, so columns always line up.

use std::fmt::Write as _;

use crate::document::{Align, Cell, Table};

use super::escape;
use super::text::linked;

/// Writes `table` with its wrapper.
pub(crate) fn write(out: &mut String, table: &Table) {
    out.push_str("<div class=\"table-wrap\">\n<table>\n");
    if let Some(caption) = &table.caption {
        let _ = writeln!(out, "<caption>{}</caption>", escape(caption));
    }
    write_header(out, table);
    out.push_str("<tbody>\n");
    for row in &table.rows {
        write_row(out, table, row);
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// The class for a column's alignment; left is the default and needs none.
fn align_class(align: Option<&Align>) -> &'static str {
    match align {
        Some(Align::Right) => " class=\"num\"",
        Some(Align::Center) => " class=\"center\"",
        _ => "",
    }
}

fn write_header(out: &mut String, table: &Table) {
    out.push_str("<thead><tr>");
    for (i, h) in table.header.iter().enumerate() {
        let _ = write!(
            out,
            "<th scope=\"col\"{}>{}</th>",
            align_class(table.align.get(i)),
            escape(h)
        );
    }
    out.push_str("</tr></thead>\n");
}

/// One body row, as wide as the header or the row, whichever is wider.
fn write_row(out: &mut String, table: &Table, row: &[Cell]) {
    out.push_str("<tr>");
    for i in 0..table.header.len().max(row.len()) {
        let cell = row
            .get(i)
            .map(|c| linked(&c.text, c.href.as_deref()))
            .unwrap_or_default();
        let _ = write!(out, "<td{}>{cell}</td>", align_class(table.align.get(i)));
    }
    out.push_str("</tr>\n");
}
