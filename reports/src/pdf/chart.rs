//! Charts drawn as vector graphics: title, legend, y axis with nice ticks
//! and gridlines, category labels, and bars or lines with markers.
//!
//! A chart is one unbreakable block about 70 mm tall. Bars always start from
//! zero (a bar's length is its value); a line chart zooms to its data unless
//! zero is close by. Category labels that would collide are thinned to every
//! k-th label rather than overprinted. All text is real text.

use crate::document::{nice_ticks, scale, tick_labels, Chart, ChartKind};

use super::canvas::{palette, Item, Page, TextStyle};
use super::flow::{Flow, MM};
use super::fonts::{Face, Fonts};

const GAP: f32 = 12.0;
const HEIGHT: f32 = 70.0 * MM;
const TITLE_SIZE: f32 = 10.0;
const LABEL_SIZE: f32 = 7.5;

/// The space a chart takes, gap included.
pub(crate) fn height() -> f32 {
    GAP + HEIGHT
}

/// Lay out a chart as one block.
pub(crate) fn lay_out(flow: &mut Flow<'_>, chart: &Chart) {
    flow.gap(GAP);
    flow.ensure(HEIGHT);
    let (x, y, w) = (flow.geo.left(), flow.y, flow.geo.width());
    let fonts = flow.fonts;
    draw(flow.page(), fonts, chart, x, y, w, HEIGHT);
    flow.y += HEIGHT;
}

fn draw(page: &mut Page, fonts: &Fonts, chart: &Chart, x0: f32, top: f32, w: f32, h: f32) {
    let muted = TextStyle::new(Face::Regular, LABEL_SIZE, palette::MUTED);
    let title_style = TextStyle::new(Face::Bold, TITLE_SIZE, palette::TEXT);
    page.text(x0, top + 10.0, title_style, chart.title.clone());

    // Legend: on the title's line when there is room, else on its own line.
    let legend_size = 8.0;
    let entries: Vec<(f32, &str)> = chart
        .series
        .iter()
        .map(|s| {
            (
                fonts.width(Face::Regular, &s.name, legend_size),
                s.name.as_str(),
            )
        })
        .collect();
    let legend_w: f32 = entries
        .iter()
        .map(|(tw, _)| 8.0 + 4.0 + tw + 12.0)
        .sum::<f32>()
        - 12.0;
    let title_w = fonts.width(Face::Bold, &chart.title, TITLE_SIZE);
    let (mut lx, ly) = if legend_w + title_w + 24.0 <= w {
        (x0 + w - legend_w, top + 10.0)
    } else {
        (x0, top + 24.0)
    };
    for (i, (tw, name)) in entries.iter().enumerate() {
        let color = palette::SERIES[i % palette::SERIES.len()];
        page.fill(lx, ly - 7.0, 8.0, 8.0, color);
        let style = TextStyle::new(Face::Regular, legend_size, palette::TEXT);
        page.text(lx + 12.0, ly, style, *name);
        lx += 8.0 + 4.0 + tw + 12.0;
    }

    let plot_top = ly + 12.0;
    let plot_bottom = top + h - 16.0;
    let values: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() || chart.labels.is_empty() {
        page.frame(
            x0,
            plot_top,
            w,
            plot_bottom - plot_top,
            palette::BORDER,
            0.6,
        );
        let msg = "No data";
        let mw = fonts.width(Face::Regular, msg, 9.0);
        let style = TextStyle::new(Face::Regular, 9.0, palette::MUTED);
        page.text(
            x0 + (w - mw) / 2.0,
            (plot_top + plot_bottom) / 2.0,
            style,
            msg,
        );
        return;
    }
    let dmin = values.iter().copied().fold(f64::INFINITY, f64::min);
    let dmax = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = match chart.kind {
        ChartKind::Bar => (dmin.min(0.0), dmax.max(0.0)),
        // Zoom a line chart to its data, unless zero is near enough to show,
        // with a margin so no line runs along the axis or the top gridline.
        ChartKind::Line if dmin > 0.0 && dmin < 0.35 * dmax => (0.0, dmax + 0.05 * dmax),
        ChartKind::Line => {
            let span = dmax - dmin;
            let pad = if span > 0.0 {
                0.08 * span
            } else {
                0.1 * dmax.abs()
            };
            (dmin - pad, dmax + pad)
        }
    };
    let ticks = nice_ticks(lo, hi, 6);
    let (lo, mut hi) = (ticks[0], ticks[ticks.len() - 1]);
    if hi <= lo {
        hi = lo + 1.0; // only for absurd ranges; keeps the scale finite
    }
    let tick_labels = tick_labels(&ticks);
    let tick_w = tick_labels
        .iter()
        .map(|l| fonts.width(Face::Regular, l, LABEL_SIZE))
        .fold(0.0, f32::max);

    let y_label_w = if chart.y_label.is_some() { 12.0 } else { 0.0 };
    let plot_left = x0 + y_label_w + tick_w + 6.0;
    let plot_right = x0 + w - 4.0;
    let plot_w = plot_right - plot_left;
    let plot_h = plot_bottom - plot_top;
    let to_y = |v: f64| plot_bottom - ((v - lo) / (hi - lo)) as f32 * plot_h;

    // Gridlines and tick labels.
    for (t, label) in ticks.iter().zip(&tick_labels) {
        let y = to_y(*t);
        page.line(plot_left, y, plot_right, y, palette::GRID, 0.5);
        let lw = fonts.width(Face::Regular, label, LABEL_SIZE);
        page.text(
            plot_left - 4.0 - lw,
            y + LABEL_SIZE * 0.35,
            muted,
            label.clone(),
        );
    }
    if let Some(label) = &chart.y_label {
        let lw = fonts.width(Face::Regular, label, LABEL_SIZE).min(plot_h);
        let label = fonts.truncate(Face::Regular, label, LABEL_SIZE, plot_h);
        page.text_up(x0 + 7.0, (plot_top + plot_bottom + lw) / 2.0, muted, label);
    }

    // Category labels, thinned to every k-th when they would collide.
    let n = chart.labels.len();
    let slot = plot_w / n as f32;
    let widest = chart
        .labels
        .iter()
        .map(|l| fonts.width(Face::Regular, l, LABEL_SIZE))
        .fold(0.0, f32::max);
    let every = ((widest + 6.0) / slot).ceil().max(1.0) as usize;
    for (i, label) in chart.labels.iter().enumerate().step_by(every) {
        let room = slot * every as f32 - 4.0;
        let label = fonts.truncate(Face::Regular, label, LABEL_SIZE, room);
        let lw = fonts.width(Face::Regular, &label, LABEL_SIZE);
        let cx = plot_left + slot * (i as f32 + 0.5);
        let lx = (cx - lw / 2.0).clamp(x0, x0 + w - lw);
        page.text(lx, plot_bottom + 11.0, muted, label);
    }

    // The baseline: zero for bars (drawn over their feet), the bottom for lines
    // (drawn first, under the data).
    let zero_y = to_y(0.0_f64.clamp(lo, hi));
    if chart.kind == ChartKind::Line {
        page.line(
            plot_left,
            plot_bottom,
            plot_right,
            plot_bottom,
            palette::AXIS,
            0.75,
        );
    }
    match chart.kind {
        ChartKind::Bar => {
            let k = chart.series.len().max(1) as f32;
            let group = slot * if k > 1.0 { 0.78 } else { 0.62 };
            let bar_w = group / k;
            let labels_on_bars = chart.series.len() == 1 && n <= 12;
            for (si, s) in chart.series.iter().enumerate() {
                let color = palette::SERIES[si % palette::SERIES.len()];
                for (i, v) in s.values.iter().enumerate().take(n) {
                    if !v.is_finite() {
                        continue;
                    }
                    let bx = plot_left + slot * i as f32 + (slot - group) / 2.0 + bar_w * si as f32;
                    let y = to_y(*v);
                    let (bt, bh) = (y.min(zero_y), (y - zero_y).abs());
                    page.fill(bx + 0.5, bt, (bar_w - 1.0).max(0.5), bh, color);
                    if labels_on_bars {
                        let label = compact(*v);
                        let lw = fonts.width(Face::Regular, &label, 7.0);
                        let ly = if *v >= 0.0 { bt - 3.0 } else { bt + bh + 8.0 };
                        let style = TextStyle::new(Face::Regular, 7.0, palette::TEXT);
                        page.text(bx + (bar_w - lw) / 2.0, ly, style, label);
                    }
                }
            }
        }
        ChartKind::Line => {
            for (si, s) in chart.series.iter().enumerate() {
                let color = palette::SERIES[si % palette::SERIES.len()];
                let points: Vec<Option<(f32, f32)>> = s
                    .values
                    .iter()
                    .take(n)
                    .enumerate()
                    .map(|(i, v)| {
                        v.is_finite()
                            .then(|| (plot_left + slot * (i as f32 + 0.5), to_y(*v)))
                    })
                    .collect();
                // A missing value breaks the line.
                for run in points.split(Option::is_none) {
                    let run: Vec<(f32, f32)> = run.iter().flatten().copied().collect();
                    if run.len() >= 2 {
                        page.items.push(Item::Path {
                            points: run,
                            color,
                            width: 1.6,
                            dashed: false,
                        });
                    }
                }
                if n <= 40 {
                    for (cx, cy) in points.iter().flatten() {
                        page.items.push(Item::Circle {
                            cx: *cx,
                            cy: *cy,
                            r: 2.3,
                            fill: color,
                            stroke: Some((palette::WHITE, 0.8)),
                        });
                    }
                }
            }
        }
    }
    if chart.kind == ChartKind::Bar {
        page.line(plot_left, zero_y, plot_right, zero_y, palette::AXIS, 0.75);
    }
}

/// A value label: three significant figures with a k/M/B suffix.
pub(crate) fn compact(v: f64) -> String {
    let (div, suffix) = scale(v.abs());
    let x = v / div;
    let decimals = if x.abs() >= 100.0 {
        0
    } else if x.abs() >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_values() {
        assert_eq!(compact(1_234_567.0), "1.23M");
        assert_eq!(compact(45_600.0), "45.6k");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(0.284), "0.28");
        assert_eq!(compact(-12_000.0), "-12k");
    }
}
