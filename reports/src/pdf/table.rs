//! Tables: column widths from content, wrapped cells, a shaded header that
//! repeats on every page the table spans, and zebra rows.
//!
//! Column widths follow the browser's automatic table layout: each column
//! gets at least its longest word and, as room allows, a share of its
//! natural (unwrapped) width; no column's natural width may claim more than
//! half the table, so one long text column cannot starve the others. A row is
//! never split across pages; a row taller than a whole page is cut short.

use crate::document::{Align, Cell, Table};

use super::canvas::{palette, Page};
use super::flow::Flow;
use super::fonts::Face;
use super::text::{draw_lines, wrap, HAlign, Line, LineMetrics, Run, RunStyle};

const SIZE: f32 = 8.5;
const LEADING: f32 = 11.0;
const PAD_X: f32 = 5.0;
const PAD_Y: f32 = 3.5;
const GAP: f32 = 10.0;
const CAPTION_SIZE: f32 = 8.5;
const CAPTION_LEADING: f32 = 12.0;

/// A table measured for a given width.
struct Measured {
    widths: Vec<f32>,
    aligns: Vec<HAlign>,
    caption: Vec<Line>,
    header: Vec<Vec<Line>>,
    header_height: f32,
    rows: Vec<(Vec<Vec<Line>>, f32)>,
}

fn columns(t: &Table) -> usize {
    t.rows
        .iter()
        .map(Vec::len)
        .chain([t.header.len()])
        .max()
        .unwrap_or(0)
}

fn header_runs(text: &str) -> Vec<Run> {
    vec![Run::Text(
        text.to_string(),
        RunStyle::plain(Face::Bold, palette::ACCENT),
    )]
}

fn cell_runs(cell: Option<&Cell>) -> Vec<Run> {
    let Some(cell) = cell else {
        return Vec::new();
    };
    let style = match &cell.href {
        Some(href) => RunStyle {
            href: Some(href.clone()),
            ..RunStyle::plain(Face::Regular, palette::LINK)
        },
        None => RunStyle::plain(Face::Regular, palette::TEXT),
    };
    vec![Run::Text(cell.text.clone(), style)]
}

/// Column widths summing to `total` (see the module comment).
fn column_widths(flow: &Flow<'_>, t: &Table, n: usize, total: f32) -> Vec<f32> {
    let fonts = flow.fonts;
    let mut natural = vec![0.0f32; n];
    let mut longest_word = vec![0.0f32; n];
    let mut see = |col: usize, face: Face, text: &str| {
        natural[col] = natural[col].max(fonts.width(face, text.trim(), SIZE));
        for word in text.split_whitespace() {
            longest_word[col] = longest_word[col].max(fonts.width(face, word, SIZE));
        }
    };
    for (col, h) in t.header.iter().enumerate() {
        see(col, Face::Bold, h);
    }
    for row in &t.rows {
        for (col, cell) in row.iter().enumerate() {
            see(col, Face::Regular, &cell.text);
        }
    }
    let min: Vec<f32> = longest_word
        .iter()
        .map(|w| w.min(total * 0.3) + 2.0 * PAD_X)
        .collect();
    let nat: Vec<f32> = natural
        .iter()
        .zip(&min)
        .map(|(w, m)| (w.min(total * 0.5) + 2.0 * PAD_X).max(*m))
        .collect();
    let (sum_min, sum_nat) = (min.iter().sum::<f32>(), nat.iter().sum::<f32>());
    if sum_nat <= total {
        // Room to spare: widen every column in proportion to its content.
        nat.iter().map(|w| w * total / sum_nat).collect()
    } else if sum_min >= total {
        min.iter().map(|w| w * total / sum_min).collect()
    } else {
        let share = (total - sum_min) / (sum_nat - sum_min);
        min.iter()
            .zip(&nat)
            .map(|(m, w)| m + (w - m) * share)
            .collect()
    }
}

fn measure(flow: &Flow<'_>, t: &Table) -> Option<Measured> {
    let n = columns(t);
    if n == 0 {
        return None;
    }
    let total = flow.geo.width();
    let widths = column_widths(flow, t, n, total);
    let aligns = (0..n)
        .map(|i| match t.align.get(i).copied().unwrap_or(Align::Left) {
            Align::Left => HAlign::Left,
            Align::Right => HAlign::Right,
            Align::Center => HAlign::Center,
        })
        .collect();
    let wrap_cell = |runs: &[Run], col: usize| -> Vec<Line> {
        wrap(runs, flow.fonts, SIZE, widths[col] - 2.0 * PAD_X)
    };
    let header: Vec<Vec<Line>> = (0..n)
        .map(|c| wrap_cell(&header_runs(t.header.get(c).map_or("", |s| s)), c))
        .collect();
    let header_height = row_height(&header);
    // The tallest row that fits a fresh page under the header.
    let max_lines = ((flow.geo.content_height() - header_height - 2.0 * PAD_Y) / LEADING)
        .floor()
        .max(1.0) as usize;
    let rows = t
        .rows
        .iter()
        .map(|row| {
            let mut cells: Vec<Vec<Line>> = (0..n)
                .map(|c| wrap_cell(&cell_runs(row.get(c)), c))
                .collect();
            for lines in &mut cells {
                lines.truncate(max_lines);
            }
            let h = row_height(&cells);
            (cells, h)
        })
        .collect();
    let caption = match &t.caption {
        Some(c) => {
            let style = RunStyle {
                oblique: true,
                ..RunStyle::plain(Face::Regular, palette::MUTED)
            };
            wrap(
                &[Run::Text(c.clone(), style)],
                flow.fonts,
                CAPTION_SIZE,
                total,
            )
        }
        None => Vec::new(),
    };
    Some(Measured {
        widths,
        aligns,
        caption,
        header,
        header_height,
        rows,
    })
}

fn row_height(cells: &[Vec<Line>]) -> f32 {
    let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
    lines as f32 * LEADING + 2.0 * PAD_Y
}

fn caption_height(m: &Measured) -> f32 {
    if m.caption.is_empty() {
        0.0
    } else {
        m.caption.len() as f32 * CAPTION_LEADING + 3.0
    }
}

/// What must fit with a heading above the table: caption, header, first row.
pub(crate) fn lead_height(flow: &Flow<'_>, t: &Table) -> f32 {
    match measure(flow, t) {
        Some(m) => GAP + caption_height(&m) + m.header_height + m.rows.first().map_or(0.0, |r| r.1),
        None => 0.0,
    }
}

/// One row of wrapped cell lines, header or body, left to right.
fn draw_cells(page: &mut Page, cells: &[Vec<Line>], left: f32, top: f32, m: &Measured) {
    let mut x = left;
    for (c, lines) in cells.iter().enumerate() {
        let w = m.widths[c];
        draw_lines(
            page,
            lines,
            x + PAD_X,
            top + PAD_Y,
            w - 2.0 * PAD_X,
            LineMetrics::new(SIZE, LEADING),
            m.aligns[c],
        );
        x += w;
    }
}

fn draw_header(flow: &mut Flow<'_>, m: &Measured) {
    let (left, total, top) = (flow.geo.left(), flow.geo.width(), flow.y);
    let page = flow.page();
    page.fill(left, top, total, m.header_height, palette::HEADER_FILL);
    draw_cells(page, &m.header, left, top, m);
    let bottom = top + m.header_height;
    page.line(left, bottom, left + total, bottom, palette::AXIS, 0.6);
    flow.y = bottom;
}

fn close_segment(flow: &mut Flow<'_>) {
    let (left, total, y) = (flow.geo.left(), flow.geo.width(), flow.y);
    flow.page()
        .line(left, y, left + total, y, palette::BORDER, 0.6);
}

/// Lay out a table, breaking between rows and repeating the header.
pub(crate) fn lay_out(flow: &mut Flow<'_>, t: &Table) {
    let Some(m) = measure(flow, t) else {
        return;
    };
    flow.gap(GAP);
    let first_row = m.rows.first().map_or(0.0, |r| r.1);
    flow.ensure(caption_height(&m) + m.header_height + first_row);
    if !m.caption.is_empty() {
        let (x, w, y) = (flow.geo.left(), flow.geo.width(), flow.y);
        draw_lines(
            flow.page(),
            &m.caption,
            x,
            y,
            w,
            LineMetrics::new(CAPTION_SIZE, CAPTION_LEADING),
            HAlign::Left,
        );
        flow.y += caption_height(&m);
    }
    draw_header(flow, &m);
    let left = flow.geo.left();
    let total: f32 = m.widths.iter().sum();
    for (i, (cells, h)) in m.rows.iter().enumerate() {
        if *h > flow.remaining() + 0.01 {
            close_segment(flow);
            flow.new_page();
            draw_header(flow, &m);
        }
        let top = flow.y;
        let page = flow.page();
        if i % 2 == 1 {
            page.fill(left, top, total, *h, palette::ZEBRA);
        }
        draw_cells(page, cells, left, top, &m);
        flow.y += h;
    }
    close_segment(flow);
}
