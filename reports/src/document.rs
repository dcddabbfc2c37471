//! The document model shared by the HTML and PDF writers.
//!
//! A rendered report is first turned into a [`Document`]: a title, an
//! optional subtitle (usually the as-of date), an optional footer and a flat
//! list of [`Block`]s — headings, paragraphs, lists, tables, charts, KPI tiles,
//! deal cards, code, rules and page breaks. Both writers consume this one
//! model, so a report says the same thing in HTML and in PDF: what differs is
//! only how each medium lays it out (the browser flows HTML; the PDF writer
//! paginates itself). Keeping the model free of styling and of any notion of
//! pages is deliberate — page breaks are a hint ([`Block::PageBreak`]), not a
//! layout.
//!
//! This module knows nothing of SQL, Arrow or templates; it is plain data plus
//! the pieces of geometry both writers need identically: [`nice_ticks`]
//! and [`tick_labels`], so a chart's axis reads the same in HTML and PDF.

/// A whole report, ready to be written as HTML or PDF.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The report title, shown at the top and in every PDF page header.
    pub title: String,
    /// A secondary line such as "As of 2026-11-23".
    pub subtitle: Option<String>,
    /// Text for the page footer (PDF) or the closing line (HTML).
    pub footer: Option<String>,
    /// The content, in reading order.
    pub blocks: Vec<Block>,
}

/// One unit of content in a [`Document`].
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading; `level` 1 is the largest. `anchor` is an id for links.
    Heading {
        level: u8,
        text: Vec<Inline>,
        anchor: Option<String>,
    },
    /// A paragraph of running text.
    Paragraph(Vec<Inline>),
    /// A bulleted (`ordered == false`) or numbered list of one-paragraph items.
    List {
        ordered: bool,
        items: Vec<Vec<Inline>>,
    },
    /// A data table.
    Table(Table),
    /// A bar or line chart.
    Chart(Chart),
    /// A row of headline figures.
    Kpis(Vec<Kpi>),
    /// A boxed summary of one deal: facts, risk drivers and suggested actions.
    DealCard(DealCard),
    /// Preformatted text such as SQL, shown verbatim.
    Code { lang: Option<String>, text: String },
    /// A horizontal rule.
    Rule,
    /// Start a new page (PDF); a hint for printing in HTML.
    PageBreak,
}

/// Inline text with light formatting.
#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    /// Plain text.
    Text(String),
    /// Strong emphasis (bold).
    Strong(Vec<Inline>),
    /// Emphasis (italic where the medium has it).
    Emphasis(Vec<Inline>),
    /// Inline code.
    Code(String),
    /// A hyperlink.
    Link { text: Vec<Inline>, href: String },
    /// A forced line break inside a paragraph.
    LineBreak,
}

/// Horizontal alignment of a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
    Center,
}

/// A data table: a header row, per-column alignment and body rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column headings.
    pub header: Vec<String>,
    /// Alignment per column; a missing entry means [`Align::Left`].
    pub align: Vec<Align>,
    /// Body rows; a row shorter than the header leaves the rest blank.
    pub rows: Vec<Vec<Cell>>,
    /// An optional caption shown with the table.
    pub caption: Option<String>,
}

/// One table cell: already-formatted text and an optional link.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The cell's display text.
    pub text: String,
    /// A link target for the cell, if any.
    pub href: Option<String>,
}

/// How a chart draws its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Bar,
    Line,
}

/// One named data series; `values[i]` belongs to the chart's `labels[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend name.
    pub name: String,
    /// One value per label; non-finite values are skipped when drawing.
    pub values: Vec<f64>,
}

/// A bar or line chart over categorical labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Bars or lines.
    pub kind: ChartKind,
    /// The chart title.
    pub title: String,
    /// Category labels along the x axis.
    pub labels: Vec<String>,
    /// The series drawn against the labels.
    pub series: Vec<Series>,
    /// An optional y-axis caption such as "Revenue (USD)".
    pub y_label: Option<String>,
}

/// The direction a KPI moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Up,
    Down,
    Flat,
}

/// A headline figure such as "Open pipeline: $12.4M, +8% vs last quarter".
#[derive(Debug, Clone, PartialEq)]
pub struct Kpi {
    /// What is measured.
    pub label: String,
    /// The formatted value.
    pub value: String,
    /// The formatted change, e.g. "+8% QoQ".
    pub change: Option<String>,
    /// Which way it moved.
    pub trend: Option<Trend>,
    /// Whether up is good (revenue) or bad (risk); decides green or red.
    pub up_is_good: bool,
}

/// A boxed summary of one deal.
#[derive(Debug, Clone, PartialEq)]
pub struct DealCard {
    /// The deal name, e.g. "D0004222 — Acme renewal".
    pub title: String,
    /// An optional link for the title.
    pub href: Option<String>,
    /// Label/value pairs such as ("Amount", "$120,000").
    pub facts: Vec<(String, String)>,
    /// Plain-language risk drivers.
    pub drivers: Vec<String>,
    /// Suggested next actions.
    pub actions: Vec<String>,
}

impl Inline {
    /// The text of `inlines` without formatting; a line break becomes a space.
    pub fn plain_text(inlines: &[Inline]) -> String {
        fn walk(inlines: &[Inline], out: &mut String) {
            for inline in inlines {
                match inline {
                    Inline::Text(t) | Inline::Code(t) => out.push_str(t),
                    Inline::Strong(inner) | Inline::Emphasis(inner) => walk(inner, out),
                    Inline::Link { text, .. } => walk(text, out),
                    Inline::LineBreak => out.push(' '),
                }
            }
        }
        let mut out = String::new();
        walk(inlines, &mut out);
        out
    }
}

/// The labels of axis `ticks` (as [`nice_ticks`] gives them): scaled like
/// the largest (k, M, B), with just enough decimals for the step — "1.5M",
/// "2.0M"; "40k"; "0.25". The same in the HTML and the PDF writer.
pub fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let step = if ticks.len() > 1 {
        ticks[1] - ticks[0]
    } else {
        1.0
    };
    let magnitude = ticks.iter().fold(0f64, |m, t| m.max(t.abs()));
    ticks
        .iter()
        .map(|t| tick_label(*t, step, magnitude))
        .collect()
}

/// Scale and suffix for a magnitude: billions, millions, thousands.
pub(crate) fn scale(magnitude: f64) -> (f64, &'static str) {
    if magnitude >= 1e9 {
        (1e9, "B")
    } else if magnitude >= 1e6 {
        (1e6, "M")
    } else if magnitude >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    }
}

/// An axis label: scaled like the largest tick, with just enough decimals for the step.
fn tick_label(v: f64, step: f64, magnitude: f64) -> String {
    let (div, suffix) = scale(magnitude);
    let step = step / div;
    let decimals = (0..=4)
        .find(|d| {
            let s = step * 10f64.powi(*d);
            (s - s.round()).abs() < 1e-6 * s.abs().max(1.0)
        })
        .unwrap_or(4) as usize;
    let v = v / div;
    if v.abs() < 1e-12 {
        return "0".to_string();
    }
    let text = format!("{:.decimals$}{suffix}", v.abs());
    if v < 0.0 {
        // The true minus sign, as every other number the reports show.
        format!("{}{text}", utils::numbers::MINUS)
    } else {
        text
    }
}

/// Nice axis ticks covering `min..=max`: evenly spaced multiples of
/// 1, 2, 2.5 or 5 × 10^k, at most `max_ticks` of them (at least 2).
///
/// The first tick is at or below `min` and the last at or above `max`, so a
/// chart can use them directly as its axis range. A degenerate range (equal
/// ends) is widened around the value; non-finite input gives `[0, 1]`.
pub fn nice_ticks(min: f64, max: f64, max_ticks: usize) -> Vec<f64> {
    let max_ticks = max_ticks.max(2);
    if !min.is_finite() || !max.is_finite() {
        return vec![0.0, 1.0];
    }
    let (mut lo, mut hi) = if min <= max { (min, max) } else { (max, min) };
    if lo == hi {
        // Widen a single value to a visible range that includes zero when close.
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= pad;
        hi += pad;
        if min >= 0.0 && lo < 0.0 {
            lo = 0.0;
        }
    }
    let span = hi - lo;
    if !span.is_finite() || span < f64::MIN_POSITIVE * 1e6 {
        // Beyond what nice numbers can express: the ends themselves.
        return vec![lo, hi];
    }
    // Start from a step that gives about `max_ticks - 1` intervals and grow it
    // until the covering ticks fit; at most a few iterations.
    let raw = span / (max_ticks - 1) as f64;
    let mut exp = raw.log10().floor() as i32;
    const MANTISSAS: [f64; 4] = [1.0, 2.0, 2.5, 5.0];
    loop {
        for m in MANTISSAS {
            let step = m * 10f64.powi(exp);
            let first = (lo / step).floor();
            let last = (hi / step).ceil();
            let count = (last - first) as usize + 1;
            if count <= max_ticks {
                return (0..count)
                    .map(|i| clean((first + i as f64) * step, step))
                    .collect();
            }
        }
        exp += 1;
    }
}

/// Round away floating-point noise such as 0.30000000000000004, relative to the step.
fn clean(value: f64, step: f64) -> f64 {
    let scale = 10f64.powi(4 - step.log10().floor() as i32);
    let v = (value * scale).round() / scale;
    if v == 0.0 {
        0.0 // no negative zero on an axis
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tick_labels_are_short_and_exact() {
        assert_eq!(
            tick_labels(&[0.0, 0.5e6, 1e6, 1.5e6, 2e6]),
            ["0", "0.5M", "1.0M", "1.5M", "2.0M"]
        );
        assert_eq!(tick_label(1_500_000.0, 500_000.0, 2_000_000.0), "1.5M");
        assert_eq!(tick_label(2_000_000.0, 500_000.0, 2_000_000.0), "2.0M");
        assert_eq!(tick_label(40_000.0, 20_000.0, 100_000.0), "40k");
        assert_eq!(tick_label(0.25, 0.05, 0.3), "0.25");
        assert_eq!(tick_label(0.0, 20.0, 100.0), "0");
        assert_eq!(tick_label(0.0, 500_000.0, 2_000_000.0), "0");
    }

    use super::*;

    #[test]
    fn plain_text_flattens_formatting() {
        let inl = vec![
            Inline::Text("Win ".into()),
            Inline::Strong(vec![Inline::Emphasis(vec![Inline::Text("rate".into())])]),
            Inline::LineBreak,
            Inline::Link {
                text: vec![Inline::Code("D1".into())],
                href: "#d1".into(),
            },
        ];
        assert_eq!(Inline::plain_text(&inl), "Win rate D1");
    }

    #[test]
    fn ticks_cover_range_and_are_nice() {
        let t = nice_ticks(0.0, 97.0, 6);
        assert_eq!(t, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let t = nice_ticks(-3.2, 7.9, 8);
        assert!(t[0] <= -3.2 && *t.last().unwrap() >= 7.9 && t.len() <= 8);
        let t = nice_ticks(0.1, 0.3, 5);
        assert_eq!(t, vec![0.1, 0.15, 0.2, 0.25, 0.3]);
        let t = nice_ticks(0.0, 1_234_567.0, 6);
        assert!(t.len() <= 6 && t[0] == 0.0 && *t.last().unwrap() >= 1_234_567.0);
    }

    #[test]
    fn ticks_handle_degenerate_input() {
        let t = nice_ticks(5.0, 5.0, 5);
        assert!(t.len() >= 2 && t[0] < 5.0 && *t.last().unwrap() > 5.0);
        assert_eq!(nice_ticks(0.0, 0.0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(nice_ticks(f64::NAN, 1.0, 5), vec![0.0, 1.0]);
        assert!(nice_ticks(10.0, 0.0, 1).len() >= 2);
        assert!(nice_ticks(-1e308, 1e308, 5).iter().all(|t| t.is_finite()));
        assert!(nice_ticks(0.0, 1e-320, 5).iter().all(|t| t.is_finite()));
    }
}
