//! The plain-text part: what a reader sees in a client that shows no HTML,
//! or in a notification preview. Headings are underlined, tables are
//! aligned in columns, KPIs are "label: value (change)" lines.

use std::fmt::Write as _;

use crate::document::{Align, Block, Cell, Chart, Document, Inline, Table};

use super::MAX_CHART_ROWS;

/// Widest a column is drawn in the text part; longer cells are cut with "…".
const MAX_COLUMN: usize = 40;

/// The plain-text part for `doc`.
pub fn mail_text(doc: &Document) -> String {
    let mut out = String::new();
    underline(&mut out, &doc.title, '=');
    if let Some(subtitle) = &doc.subtitle {
        let _ = writeln!(out, "{subtitle}\n");
    }
    for block in &doc.blocks {
        write_block(&mut out, block);
    }
    if let Some(footer) = &doc.footer {
        let _ = writeln!(out, "--\n{footer}");
    }
    out
}

fn underline(out: &mut String, text: &str, with: char) {
    let _ = writeln!(out, "{text}");
    let _ = writeln!(
        out,
        "{}\n",
        with.to_string().repeat(text.chars().count().max(3))
    );
}

fn write_block(out: &mut String, block: &Block) {
    match block {
        Block::Heading { level, text, .. } => {
            underline(out, &plain(text), if *level <= 2 { '-' } else { '~' })
        }
        Block::Paragraph(text) => {
            let _ = writeln!(out, "{}\n", plain(text));
        }
        Block::List { ordered, items } => {
            for (i, item) in items.iter().enumerate() {
                let bullet = if *ordered {
                    format!("{}.", i + 1)
                } else {
                    "-".into()
                };
                let _ = writeln!(out, "{bullet} {}", plain(item));
            }
            out.push('\n');
        }
        Block::Table(table) => write_table(out, table),
        Block::Chart(chart) => {
            if chart.labels.len() > MAX_CHART_ROWS || chart.series.is_empty() {
                let _ = writeln!(
                    out,
                    "[Chart: {} ({} points) — in the PDF]\n",
                    chart.title,
                    chart.labels.len()
                );
            } else {
                write_table(out, &chart_table(chart));
            }
        }
        Block::Kpis(kpis) => {
            for kpi in kpis {
                let change = kpi
                    .change
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                let _ = writeln!(out, "* {}: {}{change}", kpi.label, kpi.value);
            }
            out.push('\n');
        }
        Block::DealCard(card) => {
            let _ = writeln!(out, "# {}", card.title);
            for (label, value) in &card.facts {
                let _ = writeln!(out, "  {label}: {value}");
            }
            for (title, items) in [
                ("Risk drivers", &card.drivers),
                ("Suggested actions", &card.actions),
            ] {
                if !items.is_empty() {
                    let _ = writeln!(out, "  {title}:");
                    for item in items {
                        let _ = writeln!(out, "  - {item}");
                    }
                }
            }
            out.push('\n');
        }
        Block::Code { text, .. } => {
            for line in text.lines() {
                let _ = writeln!(out, "    {line}");
            }
            out.push('\n');
        }
        Block::Rule => out.push_str("----\n\n"),
        Block::PageBreak => {}
    }
}

/// Text without markup; a link keeps its text only.
fn plain(items: &[Inline]) -> String {
    Inline::plain_text(items)
}

/// Cut to `max` characters, ending in "…" when cut.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn write_table(out: &mut String, table: &Table) {
    let columns = table
        .header
        .len()
        .max(table.rows.iter().map(Vec::len).max().unwrap_or(0));
    let text = |row: &[Cell], i: usize| fit(row.get(i).map_or("", |c| c.text.as_str()), MAX_COLUMN);
    let mut widths: Vec<usize> = (0..columns)
        .map(|i| {
            table
                .header
                .get(i)
                .map_or(0, |h| fit(h, MAX_COLUMN).chars().count())
        })
        .collect();
    for row in &table.rows {
        for (i, w) in widths.iter_mut().enumerate() {
            *w = (*w).max(text(row, i).chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i].saturating_sub(c.chars().count());
                if table.align.get(i) == Some(&Align::Right) {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    if let Some(caption) = &table.caption {
        let _ = writeln!(out, "{caption}");
    }
    let header: Vec<String> = (0..columns)
        .map(|i| fit(table.header.get(i).map_or("", String::as_str), MAX_COLUMN))
        .collect();
    let _ = writeln!(out, "{}", line(header));
    let _ = writeln!(
        out,
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
    );
    for row in &table.rows {
        let _ = writeln!(
            out,
            "{}",
            line((0..columns).map(|i| text(row, i)).collect())
        );
    }
    out.push('\n');
}

/// A chart's figures as a table: one row per label, one column per series.
pub(crate) fn chart_table(chart: &Chart) -> Table {
    let mut header = vec![String::new()];
    header.extend(chart.series.iter().map(|s| s.name.clone()));
    let mut align = vec![Align::Left];
    align.extend(chart.series.iter().map(|_| Align::Right));
    let rows = chart
        .labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let mut row = vec![Cell {
                text: label.clone(),
                href: None,
            }];
            row.extend(chart.series.iter().map(|s| {
                Cell {
                    text: s
                        .values
                        .get(i)
                        .filter(|v| v.is_finite())
                        .map_or(String::new(), |v| {
                            utils::numbers::number(*v, Some(if v.abs() >= 100.0 { 0 } else { 2 }))
                        }),
                    href: None,
                }
            }));
            row
        })
        .collect();
    Table {
        header,
        align,
        rows,
        caption: Some(chart.title.clone()),
    }
}
