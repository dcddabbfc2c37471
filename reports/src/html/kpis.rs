//! KPI tiles: a block of headline figures, each a label, a value and
//! optionally the change with its direction.
//!
//! The change is coloured by whether it moved the good way, not by its sign:
//! a tile says which way up is good, so "risk up" is bad (red) and "revenue
//! up" is good (green). The arrow and a `data-trend` attribute carry the
//! direction for readers who do not see colour. The stylesheet lays tiles
//! out in a grid as wide as the page allows.

use std::fmt::Write as _;

use crate::document::{Kpi, Trend};

use super::escape;

/// Writes the tiles of one KPI block.
pub(crate) fn write(out: &mut String, kpis: &[Kpi]) {
    out.push_str("<div class=\"kpis\">\n");
    for kpi in kpis {
        write_tile(out, kpi);
    }
    out.push_str("</div>\n");
}

fn write_tile(out: &mut String, kpi: &Kpi) {
    let _ = write!(
        out,
        "<div class=\"kpi\"><div class=\"kpi-label\">{}</div><div class=\"kpi-value\">{}</div>",
        escape(&kpi.label),
        escape(&kpi.value)
    );
    if kpi.change.is_some() || kpi.trend.is_some() {
        write_change(out, kpi);
    }
    out.push_str("</div>\n");
}

/// The change line: arrow, text, and a class saying whether it is good news.
fn write_change(out: &mut String, kpi: &Kpi) {
    let (arrow, direction) = match kpi.trend {
        Some(Trend::Up) => ("▲ ", "up"),
        Some(Trend::Down) => ("▼ ", "down"),
        Some(Trend::Flat) => ("▶ ", "flat"),
        None => ("", "flat"),
    };
    let _ = write!(
        out,
        "<div class=\"kpi-change {}\" data-trend=\"{direction}\">{arrow}{}</div>",
        tone(kpi),
        escape(kpi.change.as_deref().unwrap_or(""))
    );
}

/// "good", "bad" or "neutral": the trend judged by which way up is good.
fn tone(kpi: &Kpi) -> &'static str {
    match (kpi.trend, kpi.up_is_good) {
        (Some(Trend::Up), true) | (Some(Trend::Down), false) => "good",
        (Some(Trend::Up), false) | (Some(Trend::Down), true) => "bad",
        _ => "neutral",
    }
}
