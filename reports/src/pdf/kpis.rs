//! KPI tiles: a block of headline figures in rows of bordered boxes.
//!
//! Rows hold up to four equal tiles and are balanced (five tiles are 3 + 2,
//! not 4 + 1). Each tile has a small label, a large value (shrunk to fit its
//! tile rather than overflow), and the change, green when it moved the good
//! way and red when it moved the bad way — so "risk up" is red and "revenue
//! up" is green. Labels of different lengths still leave every value in a row
//! on one line. Rows are never split, but a page may break between rows.

use crate::document::{Kpi, Trend};

use super::canvas::{palette, Color, Page, TextStyle};
use super::flow::Flow;
use super::fonts::{Face, Fonts};
use super::text::{draw_lines, wrap, HAlign, Line, LineMetrics, Run, RunStyle};

const GAP: f32 = 10.0;
const TILE_GAP: f32 = 8.0;
const TILE_PAD: f32 = 9.0;
const TILES_PER_ROW: usize = 4;
const KPI_LABEL_SIZE: f32 = 8.0;
const KPI_LABEL_LEADING: f32 = 10.0;
const KPI_VALUE_SIZE: f32 = 17.0;
const KPI_CHANGE_SIZE: f32 = 8.0;

/// Tiles per row: at most four, and rows as even as possible (5 → 3 + 2, not 4 + 1).
fn per_row(count: usize) -> usize {
    let rows = count.div_ceil(TILES_PER_ROW).max(1);
    count.div_ceil(rows).max(1)
}

fn tile_width(flow: &Flow<'_>, per_row: usize) -> f32 {
    (flow.geo.width() - TILE_GAP * (per_row as f32 - 1.0)) / per_row as f32
}

/// A tile's label in at most two lines, the second cut with an ellipsis if need be.
fn kpi_label(fonts: &Fonts, kpi: &Kpi, width: f32) -> Vec<Line> {
    let style = RunStyle::plain(Face::Regular, palette::MUTED);
    let mut lines = wrap(
        &[Run::Text(kpi.label.clone(), style.clone())],
        fonts,
        KPI_LABEL_SIZE,
        width,
    );
    if lines.len() > 2 {
        let rest: Vec<String> = lines[1..]
            .iter()
            .flat_map(|l| l.fragments.iter().map(|f| f.text.clone()))
            .collect();
        let cut = fonts.truncate(Face::Regular, &rest.join(" "), KPI_LABEL_SIZE, width);
        lines.truncate(1);
        lines.extend(wrap(
            &[Run::Text(cut, style)],
            fonts,
            KPI_LABEL_SIZE,
            width + 1.0,
        ));
    }
    lines
}

/// The most label lines of any tile in the row: values line up below them.
fn label_lines(flow: &Flow<'_>, row: &[Kpi], width: f32) -> usize {
    row.iter()
        .map(|k| kpi_label(flow.fonts, k, width - 2.0 * TILE_PAD).len())
        .max()
        .unwrap_or(1)
        .max(1)
}

fn row_height(flow: &Flow<'_>, row: &[Kpi], width: f32) -> f32 {
    let label_lines = label_lines(flow, row, width);
    let change = if row.iter().any(|k| k.change.is_some()) {
        13.0
    } else {
        0.0
    };
    2.0 * TILE_PAD + label_lines as f32 * KPI_LABEL_LEADING + 4.0 + 20.0 + change
}

/// The height of the first row of tiles, gap included (for keep-with-next).
pub(crate) fn height(flow: &Flow<'_>, kpis: &[Kpi]) -> f32 {
    if kpis.is_empty() {
        return 0.0;
    }
    let per_row = per_row(kpis.len());
    let w = tile_width(flow, per_row);
    GAP + row_height(flow, &kpis[..per_row], w)
}

/// Whether a KPI's change is good news, bad news or neither.
fn change_color(kpi: &Kpi) -> (Color, &'static str) {
    match kpi.trend {
        Some(Trend::Up) if kpi.up_is_good => (palette::GOOD, "▲ "),
        Some(Trend::Up) => (palette::BAD, "▲ "),
        Some(Trend::Down) if kpi.up_is_good => (palette::BAD, "▼ "),
        Some(Trend::Down) => (palette::GOOD, "▼ "),
        Some(Trend::Flat) => (palette::MUTED, "► "),
        None => (palette::MUTED, ""),
    }
}

/// Lay out KPI tiles in rows of up to four.
pub(crate) fn lay_out(flow: &mut Flow<'_>, kpis: &[Kpi]) {
    if kpis.is_empty() {
        return;
    }
    flow.gap(GAP);
    let per_row = per_row(kpis.len());
    let w = tile_width(flow, per_row);
    for (r, row) in kpis.chunks(per_row).enumerate() {
        let h = row_height(flow, row, w);
        let label_lines = label_lines(flow, row, w);
        if r > 0 {
            flow.y += TILE_GAP;
        }
        flow.ensure(h);
        let top = flow.y;
        let fonts = flow.fonts;
        let left = flow.geo.left();
        let page = flow.page();
        for (i, kpi) in row.iter().enumerate() {
            let x = left + i as f32 * (w + TILE_GAP);
            draw_tile(page, fonts, kpi, (x, top, w, h), label_lines);
        }
        flow.y += h;
    }
}

/// Draw one tile in the box (x, top, w, h), its value below `label_lines` lines.
fn draw_tile(
    page: &mut Page,
    fonts: &Fonts,
    kpi: &Kpi,
    bounds: (f32, f32, f32, f32),
    label_lines: usize,
) {
    let (x, top, w, h) = bounds;
    page.frame(x, top, w, h, palette::BORDER, 0.75);
    page.fill(x, top, 2.5, h, palette::ACCENT);
    let inner = w - 2.0 * TILE_PAD;
    let label = kpi_label(fonts, kpi, inner);
    draw_lines(
        page,
        &label,
        x + TILE_PAD,
        top + TILE_PAD - 1.0,
        inner,
        LineMetrics::new(KPI_LABEL_SIZE, KPI_LABEL_LEADING),
        HAlign::Left,
    );
    let mut y = top + TILE_PAD + label_lines as f32 * KPI_LABEL_LEADING + 4.0;
    // Shrink a long value to its tile rather than let it overflow.
    let natural = fonts.width(Face::Bold, &kpi.value, KPI_VALUE_SIZE);
    let size = if natural > inner {
        (KPI_VALUE_SIZE * inner / natural).max(9.0)
    } else {
        KPI_VALUE_SIZE
    };
    let value = fonts.truncate(Face::Bold, &kpi.value, size, inner);
    page.text(
        x + TILE_PAD,
        y + 15.5,
        TextStyle::new(Face::Bold, size, palette::TEXT),
        value,
    );
    y += 20.0;
    if let Some(change) = &kpi.change {
        let (color, arrow) = change_color(kpi);
        let text = fonts.truncate(
            Face::Regular,
            &format!("{arrow}{change}"),
            KPI_CHANGE_SIZE,
            inner,
        );
        page.text(
            x + TILE_PAD,
            y + 10.0,
            TextStyle::new(Face::Regular, KPI_CHANGE_SIZE, color),
            text,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_rows_are_balanced() {
        let rows: Vec<usize> = (1..=9).map(per_row).collect();
        assert_eq!(rows, vec![1, 2, 3, 4, 3, 3, 4, 4, 3]);
    }
}
