//! Charts as inline SVG: title, legend, y axis with nice ticks and
//! gridlines, category labels, and bars or lines with a tooltip per value.
//!
//! The SVG has a fixed coordinate system (720 × 340 user units) and scales to
//! the page's width. Bars always start from zero (a bar's length is its
//! value); a line chart zooms to its data. A missing (non-finite) value is
//! skipped: no bar, and a break in the line rather than a bridge over the
//! gap. Long category labels are shortened, and turned when there are many
//! or they are long (the full label stays in a tooltip); past 30 categories
//! only every k-th is labelled. A chart with no categories or no finite
//! values says "No data".

use std::fmt::Write as _;

use crate::document::{nice_ticks, tick_labels, Chart, ChartKind, Series};
use crate::filters;

use super::escape;

/// Series colours, distinguishable with the common colour-vision deficiencies.
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];

/// Chart geometry in SVG user units; the SVG scales to the page width.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 340.0;

/// Where the plot area sits in the SVG and how values map onto it.
struct Plot {
    /// Number of categories (bands along the x axis).
    n: usize,
    /// The y axis ticks; the first and last are the axis ends.
    ticks: Vec<f64>,
    y_min: f64,
    y_max: f64,
    left: f64,
    top: f64,
    plot_w: f64,
    plot_h: f64,
    /// The width of one category's band.
    band: f64,
    /// Category labels are turned (there are many, or they are long).
    rotate: bool,
    /// More than one series: a legend above the plot.
    legend: bool,
}

impl Plot {
    /// The plot for `chart`, whose values run from `lo` to `hi`.
    fn new(chart: &Chart, lo: f64, hi: f64) -> Plot {
        let n = chart.labels.len();
        let ticks = nice_ticks(lo, hi, 6);
        let (y_min, y_max) = (ticks[0], ticks[ticks.len() - 1]);
        let longest = chart
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        let rotate = n > 12 || longest * n > 90;
        let legend = chart.series.len() > 1;
        let left = if chart.y_label.is_some() { 78.0 } else { 58.0 };
        let top = if legend { 56.0 } else { 38.0 };
        let bottom = if rotate { 96.0 } else { 34.0 };
        let (plot_w, plot_h) = (WIDTH - left - 16.0, HEIGHT - top - bottom);
        Plot {
            n,
            ticks,
            y_min,
            y_max,
            left,
            top,
            plot_w,
            plot_h,
            band: plot_w / n as f64,
            rotate,
            legend,
        }
    }

    /// The y coordinate of value `v`.
    fn y_of(&self, v: f64) -> f64 {
        self.top + self.plot_h * (1.0 - (v - self.y_min) / (self.y_max - self.y_min))
    }

    /// The x coordinate of the middle of category `i`.
    fn x_mid(&self, i: usize) -> f64 {
        self.left + self.band * (i as f64 + 0.5)
    }
}

/// Writes `chart` as a figure holding one SVG.
pub(crate) fn write(out: &mut String, chart: &Chart) {
    write_open(out, &chart.title);
    let Some((lo, hi)) = value_range(chart) else {
        let _ = write!(
            out,
            "<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">No data</text>\n</svg>\n</figure>\n",
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return;
    };
    let plot = Plot::new(chart, lo, hi);
    write_y_axis(out, &plot, chart.y_label.as_deref());
    write_x_axis(out, &plot, &chart.labels);
    write_series(out, &plot, chart);
    if plot.legend {
        write_legend(out, plot.left, &chart.series);
    }
    out.push_str("</svg>\n</figure>\n");
}

/// The figure, the SVG element and the chart's title (as the SVG's
/// accessible name and drawn above the plot).
fn write_open(out: &mut String, title: &str) {
    let title = escape(title);
    let _ = write!(
        out,
        "<figure class=\"chart\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" role=\"img\" aria-label=\"{title}\">\n<title>{title}</title>\n<text class=\"chart-title\" x=\"{}\" y=\"22\" text-anchor=\"middle\">{title}</text>\n",
        WIDTH / 2.0
    );
}

/// The finite values of every series.
fn finite_values(chart: &Chart) -> impl Iterator<Item = f64> + '_ {
    chart
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
}

/// The range the y axis must cover, or None when there is nothing to draw.
fn value_range(chart: &Chart) -> Option<(f64, f64)> {
    if chart.labels.is_empty() || finite_values(chart).next().is_none() {
        return None;
    }
    let (lo, hi) = finite_values(chart).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    // Bars grow from zero, so zero is always on a bar chart's axis.
    Some(match chart.kind {
        ChartKind::Bar => (lo.min(0.0), hi.max(0.0)),
        ChartKind::Line => (lo, hi),
    })
}

/// `label` cut to `max` characters, an ellipsis marking the cut.
fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let head: String = label.chars().take(max.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

/// Gridlines with their tick values, and the axis label if there is one.
fn write_y_axis(out: &mut String, plot: &Plot, y_label: Option<&str>) {
    let left = plot.left;
    out.push_str("<g class=\"axis y-axis\">\n");
    for (t, label) in plot.ticks.iter().zip(tick_labels(&plot.ticks)) {
        let y = plot.y_of(*t);
        let class = if *t == 0.0 { "grid zero" } else { "grid" };
        let _ = writeln!(
            out,
            "<line class=\"{class}\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left + plot.plot_w,
            left - 6.0,
            y + 4.0,
            escape(&label)
        );
    }
    if let Some(label) = y_label {
        let _ = writeln!(
            out,
            "<text class=\"axis-label\" transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            plot.top + plot.plot_h / 2.0,
            escape(label)
        );
    }
    out.push_str("</g>\n");
}

/// The x axis line and the category labels: every one while they fit, else
/// every k-th.
fn write_x_axis(out: &mut String, plot: &Plot, labels: &[String]) {
    let step = plot.n.div_ceil(30).max(1);
    out.push_str("<g class=\"axis x-axis\">\n");
    let _ = writeln!(
        out,
        "<line class=\"axis-line\" x1=\"{}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
        plot.left,
        plot.left + plot.plot_w,
        plot.top + plot.plot_h,
        plot.top + plot.plot_h
    );
    for (i, label) in labels.iter().enumerate().step_by(step) {
        write_x_label(out, plot, i, label);
    }
    out.push_str("</g>\n");
}

/// One category label under its band, turned when the plot says so; the
/// full label is its tooltip.
fn write_x_label(out: &mut String, plot: &Plot, i: usize, label: &str) {
    let (x, y) = (plot.x_mid(i), plot.top + plot.plot_h + 16.0);
    let text = escape(&shorten(label, if plot.rotate { 16 } else { 24 }));
    let full = escape(label);
    if plot.rotate {
        let _ = writeln!(
            out,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"end\" transform=\"rotate(-40 {x:.1} {y:.1})\"><title>{full}</title>{text}</text>"
        );
    } else {
        let _ = writeln!(out, "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\"><title>{full}</title>{text}</text>");
    }
}

/// Every series in its colour, as bars or a line.
fn write_series(out: &mut String, plot: &Plot, chart: &Chart) {
    let count = chart.series.len().max(1) as f64;
    for (s, series) in chart.series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        let _ = writeln!(
            out,
            "<g class=\"series\" fill=\"{color}\" stroke=\"{color}\">"
        );
        match chart.kind {
            ChartKind::Bar => write_bars(out, plot, &chart.labels, series, s, count),
            ChartKind::Line => write_line(out, plot, &chart.labels, series),
        }
        out.push_str("</g>\n");
    }
}

/// The tooltip of one value: category, series name and the value.
fn tooltip(label: &str, name: &str, v: f64) -> String {
    format!(
        "<title>{}: {name} {}</title>",
        escape(label),
        escape(&filters::number(v, None))
    )
}

/// Series `s` of `count` as bars side by side within each category's band.
fn write_bars(
    out: &mut String,
    plot: &Plot,
    labels: &[String],
    series: &Series,
    s: usize,
    count: f64,
) {
    let name = escape(&series.name);
    let band = plot.band;
    let group = band * 0.8;
    let width = group / count;
    for (i, v) in series.values.iter().enumerate().take(plot.n) {
        if !v.is_finite() {
            continue;
        }
        let x = plot.left + band * i as f64 + band * 0.1 + width * s as f64;
        let (y0, y1) = (
            plot.y_of(0.0_f64.clamp(plot.y_min, plot.y_max)),
            plot.y_of(*v),
        );
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" stroke=\"none\">{}</rect>",
            y0.min(y1),
            (width - 1.0).max(1.0),
            (y0 - y1).abs().max(0.5),
            tooltip(&labels[i], &name, *v)
        );
    }
}

/// A series as a line with a marker (and tooltip) on each value.
fn write_line(out: &mut String, plot: &Plot, labels: &[String], series: &Series) {
    let name = escape(&series.name);
    let _ = writeln!(
        out,
        "<path d=\"{}\" fill=\"none\" stroke-width=\"2\"/>",
        line_path(plot, &series.values)
    );
    for (i, v) in series.values.iter().enumerate().take(plot.n) {
        if v.is_finite() {
            let _ = writeln!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" stroke=\"none\">{}</circle>",
                plot.x_mid(i),
                plot.y_of(*v),
                tooltip(&labels[i], &name, *v)
            );
        }
    }
}

/// The path data of a line through `values`. A missing value breaks the
/// line rather than bridging the gap.
fn line_path(plot: &Plot, values: &[f64]) -> String {
    let mut path = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate().take(plot.n) {
        if !v.is_finite() {
            pen_down = false;
            continue;
        }
        let _ = write!(
            path,
            "{}{:.1} {:.1} ",
            if pen_down { "L" } else { "M" },
            plot.x_mid(i),
            plot.y_of(*v)
        );
        pen_down = true;
    }
    path.trim_end().to_string()
}

/// A swatch and the (shortened) name of each series, left to right.
fn write_legend(out: &mut String, left: f64, series: &[Series]) {
    out.push_str("<g class=\"legend\">\n");
    let mut x = left;
    for (s, series) in series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        let name = shorten(&series.name, 28);
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"34\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"44\">{}</text>",
            x + 16.0,
            escape(&name)
        );
        x += 28.0 + 7.0 * name.chars().count() as f64;
    }
    out.push_str("</g>\n");
}
