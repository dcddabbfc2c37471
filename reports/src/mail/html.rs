//! The mail HTML: one table-free-of-CSS-classes document with every style
//! inline, because mail clients strip `<style>` and `<link>`.

use std::fmt::Write as _;

use crate::document::{Align, Block, Chart, DealCard, Document, Inline, Kpi, Table, Trend};
use crate::html::escape;

use super::{MailOptions, MAX_CHART_ROWS};

const BODY: &str = "font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.45;color:#1f2933;max-width:760px;margin:0 auto;padding:16px";
const TABLE: &str = "border-collapse:collapse;margin:8px 0 16px;font-size:13px";
const TH: &str =
    "border-bottom:2px solid #cbd2d9;padding:4px 8px;text-align:left;background:#f5f7fa";
const TD: &str = "border-bottom:1px solid #e4e7eb;padding:4px 8px;vertical-align:top";
const MUTED: &str = "color:#616e7c;font-size:12px";

/// The whole mail body for `doc`: a complete HTML document with inline
/// styles, no scripts and no images.
pub fn mail_html(doc: &Document, options: &MailOptions) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"{BODY}\">\n<h1 style=\"font-size:22px;margin:0 0 4px\">{}</h1>\n",
        escape(&doc.title),
        escape(&doc.title)
    );
    if let Some(subtitle) = &doc.subtitle {
        let _ = writeln!(
            out,
            "<p style=\"{MUTED};margin:0 0 16px\">{}</p>",
            escape(subtitle)
        );
    }
    for block in &doc.blocks {
        write_block(&mut out, block, options);
    }
    if let Some(footer) = &doc.footer {
        let _ = writeln!(
            out,
            "<hr style=\"border:0;border-top:1px solid #e4e7eb\"><p style=\"{MUTED}\">{}</p>",
            escape(footer)
        );
    }
    out.push_str("</body></html>\n");
    out
}

fn write_block(out: &mut String, block: &Block, options: &MailOptions) {
    match block {
        Block::Heading { level, text, .. } => {
            let size = match level {
                1 => 20,
                2 => 18,
                _ => 15,
            };
            let level = (*level).clamp(1, 6);
            let _ = writeln!(
                out,
                "<h{level} style=\"font-size:{size}px;margin:20px 0 8px\">{}</h{level}>",
                inlines(text, options)
            );
        }
        Block::Paragraph(text) => {
            let _ = writeln!(
                out,
                "<p style=\"margin:0 0 10px\">{}</p>",
                inlines(text, options)
            );
        }
        Block::List { ordered, items } => {
            let tag = if *ordered { "ol" } else { "ul" };
            let _ = write!(out, "<{tag} style=\"margin:0 0 10px;padding-left:22px\">");
            for item in items {
                let _ = write!(out, "<li>{}</li>", inlines(item, options));
            }
            let _ = writeln!(out, "</{tag}>");
        }
        Block::Table(table) => write_table(out, table, options),
        Block::Chart(chart) => write_chart(out, chart, options),
        Block::Kpis(kpis) => write_kpis(out, kpis),
        Block::DealCard(card) => write_card(out, card, options),
        Block::Code { text, .. } => {
            let _ = writeln!(
                out,
                "<pre style=\"background:#f5f7fa;padding:8px;font-size:12px;white-space:pre-wrap\">{}</pre>",
                escape(text)
            );
        }
        Block::Rule => out.push_str("<hr style=\"border:0;border-top:1px solid #e4e7eb\">\n"),
        Block::PageBreak => {}
    }
}

fn inlines(items: &[Inline], options: &MailOptions) -> String {
    let mut out = String::new();
    for item in items {
        match item {
            Inline::Text(t) => out.push_str(&escape(t)),
            Inline::Strong(inner) => {
                let _ = write!(out, "<strong>{}</strong>", inlines(inner, options));
            }
            Inline::Emphasis(inner) => {
                let _ = write!(out, "<em>{}</em>", inlines(inner, options));
            }
            Inline::Code(code) => {
                let _ = write!(
                    out,
                    "<code style=\"font-size:12px\">{}</code>",
                    escape(code)
                );
            }
            Inline::Link { text, href } => {
                out.push_str(&linked(&inlines(text, options), href, options))
            }
            Inline::LineBreak => out.push_str("<br>"),
        }
    }
    out
}

/// `markup` as a link to `href` when it can be linked from a mail.
fn linked(markup: &str, href: &str, options: &MailOptions) -> String {
    match options.target(href) {
        Some(target) => format!(
            "<a href=\"{}\" style=\"color:#1f6feb\">{markup}</a>",
            escape(&target)
        ),
        None => markup.to_string(),
    }
}

fn cell_style(align: Option<&Align>) -> String {
    match align {
        Some(Align::Right) => format!("{TD};text-align:right"),
        Some(Align::Center) => format!("{TD};text-align:center"),
        _ => TD.to_string(),
    }
}

fn write_table(out: &mut String, table: &Table, options: &MailOptions) {
    let _ = write!(out, "<table style=\"{TABLE}\">");
    if let Some(caption) = &table.caption {
        let _ = write!(
            out,
            "<caption style=\"{MUTED};text-align:left\">{}</caption>",
            escape(caption)
        );
    }
    out.push_str("<tr>");
    for (i, h) in table.header.iter().enumerate() {
        let align = if table.align.get(i) == Some(&Align::Right) {
            ";text-align:right"
        } else {
            ""
        };
        let _ = write!(out, "<th style=\"{TH}{align}\">{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for i in 0..table.header.len().max(row.len()) {
            let cell = row
                .get(i)
                .map(|c| match &c.href {
                    Some(href) => linked(&escape(&c.text), href, options),
                    None => escape(&c.text),
                })
                .unwrap_or_default();
            let _ = write!(
                out,
                "<td style=\"{}\">{cell}</td>",
                cell_style(table.align.get(i))
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// A chart as the table of its figures, or a pointer to the PDF when it has
/// too many points to read in a mail: never an image that may not load.
fn write_chart(out: &mut String, chart: &Chart, options: &MailOptions) {
    if chart.labels.len() > MAX_CHART_ROWS || chart.series.is_empty() {
        let wher = options
            .pdf_name
            .as_deref()
            .map_or("the PDF report".to_string(), |n| {
                format!("the attached {n}")
            });
        let _ = writeln!(
            out,
            "<p style=\"{MUTED}\">Chart: {} ({} points) — see {}.</p>",
            escape(&chart.title),
            chart.labels.len(),
            escape(&wher)
        );
        return;
    }
    let table = super::text::chart_table(chart);
    write_table(out, &table, options);
}

fn write_kpis(out: &mut String, kpis: &[Kpi]) {
    out.push_str(
        "<table style=\"border-collapse:separate;border-spacing:8px;margin:4px 0 12px\"><tr>",
    );
    for (i, kpi) in kpis.iter().enumerate() {
        if i > 0 && i % 3 == 0 {
            out.push_str("</tr><tr>");
        }
        let _ = write!(
            out,
            "<td style=\"border:1px solid #e4e7eb;border-radius:4px;padding:8px 12px;vertical-align:top\"><div style=\"{MUTED}\">{}</div><div style=\"font-size:20px;font-weight:bold\">{}</div>",
            escape(&kpi.label),
            escape(&kpi.value)
        );
        if let Some(change) = &kpi.change {
            let (arrow, colour) = trend(kpi);
            let _ = write!(
                out,
                "<div style=\"font-size:12px;color:{colour}\">{arrow}{}</div>",
                escape(change)
            );
        }
        out.push_str("</td>");
    }
    out.push_str("</tr></table>\n");
}

/// The arrow and colour of a KPI's change: green when it moved the good way.
fn trend(kpi: &Kpi) -> (&'static str, &'static str) {
    match (kpi.trend, kpi.up_is_good) {
        (Some(Trend::Up), true) => ("▲ ", "#1a7f37"),
        (Some(Trend::Down), false) => ("▼ ", "#1a7f37"),
        (Some(Trend::Up), false) => ("▲ ", "#c62828"),
        (Some(Trend::Down), true) => ("▼ ", "#c62828"),
        _ => ("", "#616e7c"),
    }
}

fn write_card(out: &mut String, card: &DealCard, options: &MailOptions) {
    let title = match &card.href {
        Some(href) => linked(&escape(&card.title), href, options),
        None => escape(&card.title),
    };
    let _ = write!(
        out,
        "<div style=\"border:1px solid #e4e7eb;border-radius:4px;padding:8px 12px;margin:0 0 12px\"><div style=\"font-weight:bold;margin-bottom:4px\">{title}</div>"
    );
    if !card.facts.is_empty() {
        let facts: Vec<String> = card
            .facts
            .iter()
            .map(|(l, v)| format!("{}: {}", escape(l), escape(v)))
            .collect();
        let _ = write!(out, "<div style=\"{MUTED}\">{}</div>", facts.join(" · "));
    }
    for (title, items) in [
        ("Risk drivers", &card.drivers),
        ("Suggested actions", &card.actions),
    ] {
        if items.is_empty() {
            continue;
        }
        let _ = write!(out, "<div style=\"margin-top:6px;font-weight:bold;font-size:13px\">{title}</div><ul style=\"margin:2px 0;padding-left:20px\">");
        for item in items {
            let _ = write!(out, "<li>{}</li>", escape(item));
        }
        out.push_str("</ul>");
    }
    out.push_str("</div>\n");
}
