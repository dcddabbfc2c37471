//! The HTML writer: a [`Document`] as one self-contained HTML file.
//!
//! Everything the page needs is inside it — inline CSS (for the screen and
//! for print: page breaks, tables that do not split mid-row), charts as
//! inline SVG, KPI tiles and deal cards — and nothing is fetched: no fonts,
//! scripts or images from anywhere. A Content-Security-Policy meta tag
//! makes that a guarantee (and blocks scripts) unless the caller relaxes it.
//!
//! Every piece of text is escaped here (`&`, `<`, `>`, `"`, `'`); the
//! document model holds plain text only. Links keep their target unless it
//! has a scheme other than http, https or mailto (a `javascript:` link is
//! shown as text).

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::document::{
    nice_ticks, Align, Block, Chart, ChartKind, DealCard, Document, Inline, Kpi, Table, Trend,
};
use crate::filters;

/// The policy of a report: inline styles only, nothing loaded, no scripts.
pub const DEFAULT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// How to write the HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlOptions {
    /// Extra markup for the end of `<head>`, e.g. a live-reload script.
    pub extra_head: String,
    /// The Content-Security-Policy; `None` writes none (needed for an
    /// `extra_head` script that must run or connect).
    pub content_security_policy: Option<String>,
}

impl Default for HtmlOptions {
    fn default() -> HtmlOptions {
        HtmlOptions {
            extra_head: String::new(),
            content_security_policy: Some(DEFAULT_CSP.to_string()),
        }
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The link target to write, or None for a scheme a report must not link to.
fn safe_href(href: &str) -> Option<&str> {
    let href = href.trim();
    let scheme_end = href.find(':');
    let path_start = href.find(['/', '?', '#']);
    match (scheme_end, path_start) {
        (Some(colon), Some(path)) if path < colon => Some(href),
        (Some(colon), _) => {
            let scheme = href[..colon].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto").then_some(href)
        }
        (None, _) => Some(href),
    }
}

/// The whole page for `doc`.
pub fn render_html(doc: &Document, options: &HtmlOptions) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    if let Some(csp) = &options.content_security_policy {
        let _ = writeln!(
            out,
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
            escape(csp)
        );
    }
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"generator\" content=\"revintel\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&doc.title));
    let _ = writeln!(out, "<style>{CSS}</style>");
    out.push_str(&options.extra_head);
    out.push_str("</head>\n<body>\n<main class=\"report\">\n");

    // A template usually opens with its own H1; then the subtitle follows it
    // and the title is not repeated.
    let opens_with_title = matches!(doc.blocks.first(), Some(Block::Heading { level: 1, .. }));
    let subtitle = doc
        .subtitle
        .as_ref()
        .map(|s| format!("<p class=\"subtitle\">{}</p>\n", escape(s)))
        .unwrap_or_default();
    if !opens_with_title {
        let _ = write!(
            out,
            "<header class=\"report-header\">\n<h1 class=\"report-title\">{}</h1>\n{subtitle}</header>\n",
            escape(&doc.title)
        );
    }
    for (i, block) in doc.blocks.iter().enumerate() {
        write_block(&mut out, block);
        if i == 0 && opens_with_title {
            out.push_str(&subtitle);
        }
    }
    if let Some(footer) = &doc.footer {
        let _ = writeln!(
            out,
            "<footer class=\"report-footer\">{}</footer>",
            escape(footer)
        );
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// Writes `doc` to `path` (default options) so that a reader never sees a
/// half-written file: a temporary file in the same folder, then a rename.
pub fn write_html_atomic(doc: &Document, path: &Path) -> io::Result<()> {
    write_atomic(path, render_html(doc, &HtmlOptions::default()).as_bytes())
}

pub use crate::atomic::write_atomic;

fn write_block(out: &mut String, block: &Block) {
    match block {
        Block::Heading {
            level,
            text,
            anchor,
        } => {
            let level = (*level).clamp(1, 6);
            let id = anchor
                .as_ref()
                .map(|a| format!(" id=\"{}\"", escape(a)))
                .unwrap_or_default();
            let _ = writeln!(out, "<h{level}{id}>{}</h{level}>", inlines(text));
        }
        Block::Paragraph(text) => {
            let _ = writeln!(out, "<p>{}</p>", inlines(text));
        }
        Block::List { ordered, items } => {
            let tag = if *ordered { "ol" } else { "ul" };
            let _ = writeln!(out, "<{tag}>");
            for item in items {
                let _ = writeln!(out, "<li>{}</li>", inlines(item));
            }
            let _ = writeln!(out, "</{tag}>");
        }
        Block::Table(table) => write_table(out, table),
        Block::Chart(chart) => write_chart(out, chart),
        Block::Kpis(kpis) => write_kpis(out, kpis),
        Block::DealCard(card) => write_deal_card(out, card),
        Block::Code { lang, text } => {
            let class = lang
                .as_ref()
                .map(|l| format!(" class=\"language-{}\"", escape(l)))
                .unwrap_or_default();
            let _ = writeln!(out, "<pre><code{class}>{}</code></pre>", escape(text));
        }
        Block::Rule => out.push_str("<hr>\n"),
        Block::PageBreak => out.push_str("<div class=\"page-break\" aria-hidden=\"true\"></div>\n"),
    }
}

fn inlines(items: &[Inline]) -> String {
    let mut out = String::new();
    for item in items {
        match item {
            Inline::Text(t) => out.push_str(&escape(t)),
            Inline::Strong(inner) => {
                let _ = write!(out, "<strong>{}</strong>", inlines(inner));
            }
            Inline::Emphasis(inner) => {
                let _ = write!(out, "<em>{}</em>", inlines(inner));
            }
            Inline::Code(code) => {
                let _ = write!(out, "<code>{}</code>", escape(code));
            }
            Inline::Link { text, href } => match safe_href(href) {
                Some(href) => {
                    let _ = write!(out, "<a href=\"{}\">{}</a>", escape(href), inlines(text));
                }
                None => out.push_str(&inlines(text)),
            },
            Inline::LineBreak => out.push_str("<br>"),
        }
    }
    out
}

fn linked(text: &str, href: Option<&str>) -> String {
    match href.and_then(safe_href) {
        Some(href) => format!("<a href=\"{}\">{}</a>", escape(href), escape(text)),
        None => escape(text),
    }
}

fn align_class(align: Option<&Align>) -> &'static str {
    match align {
        Some(Align::Right) => " class=\"num\"",
        Some(Align::Center) => " class=\"center\"",
        _ => "",
    }
}

fn write_table(out: &mut String, table: &Table) {
    out.push_str("<div class=\"table-wrap\">\n<table>\n");
    if let Some(caption) = &table.caption {
        let _ = writeln!(out, "<caption>{}</caption>", escape(caption));
    }
    out.push_str("<thead><tr>");
    for (i, h) in table.header.iter().enumerate() {
        let _ = write!(
            out,
            "<th scope=\"col\"{}>{}</th>",
            align_class(table.align.get(i)),
            escape(h)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
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
    out.push_str("</tbody>\n</table>\n</div>\n");
}

fn write_kpis(out: &mut String, kpis: &[Kpi]) {
    out.push_str("<div class=\"kpis\">\n");
    for kpi in kpis {
        let _ = write!(
            out,
            "<div class=\"kpi\"><div class=\"kpi-label\">{}</div><div class=\"kpi-value\">{}</div>",
            escape(&kpi.label),
            escape(&kpi.value)
        );
        if kpi.change.is_some() || kpi.trend.is_some() {
            let (arrow, direction) = match kpi.trend {
                Some(Trend::Up) => ("▲ ", "up"),
                Some(Trend::Down) => ("▼ ", "down"),
                Some(Trend::Flat) => ("▶ ", "flat"),
                None => ("", "flat"),
            };
            let tone = match (kpi.trend, kpi.up_is_good) {
                (Some(Trend::Up), true) | (Some(Trend::Down), false) => "good",
                (Some(Trend::Up), false) | (Some(Trend::Down), true) => "bad",
                _ => "neutral",
            };
            let _ = write!(
                out,
                "<div class=\"kpi-change {tone}\" data-trend=\"{direction}\">{arrow}{}</div>",
                escape(kpi.change.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n");
}

fn write_deal_card(out: &mut String, card: &DealCard) {
    let _ = writeln!(
        out,
        "<section class=\"deal-card\">\n<div class=\"deal-title\">{}</div>",
        linked(&card.title, card.href.as_deref())
    );
    if !card.facts.is_empty() {
        out.push_str("<dl class=\"facts\">");
        for (label, value) in &card.facts {
            let _ = write!(
                out,
                "<div><dt>{}</dt><dd>{}</dd></div>",
                escape(label),
                escape(value)
            );
        }
        out.push_str("</dl>\n");
    }
    let list = |out: &mut String, title: &str, class: &str, items: &[String]| {
        if items.is_empty() {
            return;
        }
        let _ = write!(
            out,
            "<div class=\"{class}\"><div class=\"deal-sub\">{title}</div><ul>"
        );
        for item in items {
            let _ = write!(out, "<li>{}</li>", escape(item));
        }
        out.push_str("</ul></div>\n");
    };
    out.push_str("<div class=\"deal-cols\">\n");
    list(out, "Risk drivers", "drivers", &card.drivers);
    list(out, "Suggested actions", "actions", &card.actions);
    out.push_str("</div>\n</section>\n");
}

/// Series colours, distinguishable with the common colour-vision deficiencies.
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];

/// Chart geometry in SVG user units; the SVG scales to the page width.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 340.0;

fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let head: String = label.chars().take(max.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

fn write_chart(out: &mut String, chart: &Chart) {
    let values = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite())
    };
    let title = escape(&chart.title);
    let _ = write!(
        out,
        "<figure class=\"chart\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" role=\"img\" aria-label=\"{title}\">\n<title>{title}</title>\n<text class=\"chart-title\" x=\"{}\" y=\"22\" text-anchor=\"middle\">{title}</text>\n",
        WIDTH / 2.0
    );
    let n = chart.labels.len();
    if n == 0 || values().next().is_none() {
        let _ = write!(
            out,
            "<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">No data</text>\n</svg>\n</figure>\n",
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return;
    }
    let (lo, hi) = values().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    // Bars grow from zero, so zero is always on a bar chart's axis.
    let (lo, hi) = match chart.kind {
        ChartKind::Bar => (lo.min(0.0), hi.max(0.0)),
        ChartKind::Line => (lo, hi),
    };
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
    let y_of = |v: f64| top + plot_h * (1.0 - (v - y_min) / (y_max - y_min));
    let band = plot_w / n as f64;
    let x_mid = |i: usize| left + band * (i as f64 + 0.5);

    // Grid and y axis.
    out.push_str("<g class=\"axis y-axis\">\n");
    for t in &ticks {
        let y = y_of(*t);
        let class = if *t == 0.0 { "grid zero" } else { "grid" };
        let _ = writeln!(
            out,
            "<line class=\"{class}\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left + plot_w,
            left - 6.0,
            y + 4.0,
            escape(&filters::compact(*t))
        );
    }
    if let Some(label) = &chart.y_label {
        let _ = writeln!(
            out,
            "<text class=\"axis-label\" transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            top + plot_h / 2.0,
            escape(label)
        );
    }
    out.push_str("</g>\n");

    // X labels: every one while they fit, else every k-th.
    let step = n.div_ceil(30).max(1);
    out.push_str("<g class=\"axis x-axis\">\n");
    let _ = writeln!(
        out,
        "<line class=\"axis-line\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
        left + plot_w,
        top + plot_h,
        top + plot_h
    );
    for (i, label) in chart.labels.iter().enumerate().step_by(step) {
        let (x, y) = (x_mid(i), top + plot_h + 16.0);
        let text = escape(&shorten(label, if rotate { 16 } else { 24 }));
        let full = escape(label);
        if rotate {
            let _ = writeln!(
                out,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"end\" transform=\"rotate(-40 {x:.1} {y:.1})\"><title>{full}</title>{text}</text>"
            );
        } else {
            let _ = writeln!(out, "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\"><title>{full}</title>{text}</text>");
        }
    }
    out.push_str("</g>\n");

    // The data.
    let count = chart.series.len().max(1) as f64;
    for (s, series) in chart.series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        let name = escape(&series.name);
        let _ = writeln!(
            out,
            "<g class=\"series\" fill=\"{color}\" stroke=\"{color}\">"
        );
        match chart.kind {
            ChartKind::Bar => {
                let group = band * 0.8;
                let width = group / count;
                for (i, v) in series.values.iter().enumerate().take(n) {
                    if !v.is_finite() {
                        continue;
                    }
                    let x = left + band * i as f64 + band * 0.1 + width * s as f64;
                    let (y0, y1) = (y_of(0.0_f64.clamp(y_min, y_max)), y_of(*v));
                    let _ = writeln!(
                        out,
                        "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" stroke=\"none\"><title>{}: {name} {}</title></rect>",
                        y0.min(y1),
                        (width - 1.0).max(1.0),
                        (y0 - y1).abs().max(0.5),
                        escape(&chart.labels[i]),
                        escape(&filters::number(*v, None))
                    );
                }
            }
            ChartKind::Line => {
                // A missing value breaks the line rather than bridging the gap.
                let mut path = String::new();
                let mut pen_down = false;
                for (i, v) in series.values.iter().enumerate().take(n) {
                    if !v.is_finite() {
                        pen_down = false;
                        continue;
                    }
                    let _ = write!(
                        path,
                        "{}{:.1} {:.1} ",
                        if pen_down { "L" } else { "M" },
                        x_mid(i),
                        y_of(*v)
                    );
                    pen_down = true;
                }
                let _ = writeln!(
                    out,
                    "<path d=\"{}\" fill=\"none\" stroke-width=\"2\"/>",
                    path.trim_end()
                );
                for (i, v) in series.values.iter().enumerate().take(n) {
                    if v.is_finite() {
                        let _ = writeln!(
                            out,
                            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" stroke=\"none\"><title>{}: {name} {}</title></circle>",
                            x_mid(i),
                            y_of(*v),
                            escape(&chart.labels[i]),
                            escape(&filters::number(*v, None))
                        );
                    }
                }
            }
        }
        out.push_str("</g>\n");
    }

    if legend {
        out.push_str("<g class=\"legend\">\n");
        let mut x = left;
        for (s, series) in chart.series.iter().enumerate() {
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
    out.push_str("</svg>\n</figure>\n");
}

/// The page's style: readable on screen, sensible on paper.
const CSS: &str = r#"
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --wash: #f5f7fa; --accent: #2f5d8a; --good: #1e7a46; --bad: #b42318; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: #fff; color: var(--ink); font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.report { max-width: 980px; margin: 0 auto; padding: 32px 24px 48px; }
h1, h2, h3, h4, h5, h6 { line-height: 1.25; margin: 1.6em 0 0.5em; }
h1 { font-size: 1.9rem; margin-top: 0; }
h2 { font-size: 1.4rem; padding-bottom: 0.2em; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.15rem; }
.report-header { margin-bottom: 1.5em; }
.report-title { margin-bottom: 0.2em; }
.subtitle { color: var(--muted); margin-top: -0.3em; }
a { color: var(--accent); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
code { background: var(--wash); padding: 0.1em 0.3em; border-radius: 3px; }
pre { background: var(--wash); padding: 12px 14px; border-radius: 6px; overflow-x: auto; }
pre code { background: none; padding: 0; }
hr { border: 0; border-top: 1px solid var(--line); margin: 2em 0; }
.table-wrap { overflow-x: auto; margin: 1em 0 1.5em; }
table { border-collapse: collapse; width: 100%; font-size: 0.93rem; }
caption { caption-side: bottom; text-align: left; color: var(--muted); font-size: 0.85rem; padding-top: 6px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--wash); font-weight: 600; border-bottom: 2px solid var(--line); }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.center { text-align: center; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
.chart { margin: 1.5em 0; }
.chart svg { display: block; max-width: 100%; height: auto; font-size: 12px; }
.chart text { fill: var(--ink); font-family: inherit; }
.chart .chart-title { font-size: 15px; font-weight: 600; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .grid.zero, .chart .axis-line { stroke: #9aa5b1; stroke-width: 1; }
.chart .y-axis text, .chart .x-axis text { fill: var(--muted); }
.chart .no-data { fill: var(--muted); }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 1em 0 1.5em; }
.kpi { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: #fff; }
.kpi-label { color: var(--muted); font-size: 0.85rem; }
.kpi-value { font-size: 1.6rem; font-weight: 650; font-variant-numeric: tabular-nums; margin: 2px 0; }
.kpi-change { font-size: 0.9rem; font-variant-numeric: tabular-nums; }
.kpi-change.good { color: var(--good); }
.kpi-change.bad { color: var(--bad); }
.kpi-change.neutral { color: var(--muted); }
.deal-card { border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 8px; padding: 14px 16px; margin: 1em 0; }
.deal-title { font-size: 1.1rem; font-weight: 650; margin-bottom: 8px; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 6px 16px; margin: 0 0 10px; }
.facts dt { color: var(--muted); font-size: 0.8rem; }
.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
.deal-cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 8px 24px; }
.deal-sub { font-weight: 600; font-size: 0.9rem; }
.deal-cols ul { margin: 4px 0 0; padding-left: 1.2em; }
.page-break { height: 0; }
.report-footer { margin-top: 3em; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted); font-size: 0.85rem; }
@media print {
  @page { margin: 16mm 14mm; }
  body { font-size: 10.5pt; }
  .report { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  .page-break { break-before: page; page-break-before: always; }
  h1, h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  .table-wrap { overflow: visible; }
  thead { display: table-header-group; }
  tr, .kpi, .deal-card, .chart, pre { break-inside: avoid; page-break-inside: avoid; }
  tbody tr:nth-child(even) td { background: none; }
  .kpi, .deal-card { border-color: #bbb; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Cell, Series};

    fn sample() -> Document {
        Document {
            title: "Weekly <briefing>".into(),
            subtitle: Some("As of 23 Nov 2026".into()),
            footer: Some("revintel".into()),
            blocks: vec![
                Block::Paragraph(vec![
                    Inline::Text("Tom & Jerry's \"deal\" ".into()),
                    Inline::Link {
                        text: vec![Inline::Text("bad".into())],
                        href: "javascript:alert(1)".into(),
                    },
                    Inline::Link {
                        text: vec![Inline::Text("ok".into())],
                        href: "deal/D1.html?x=1&y=2".into(),
                    },
                ]),
                Block::Table(Table {
                    header: vec!["Deal".into(), "Amount".into()],
                    align: vec![Align::Left, Align::Right],
                    rows: vec![vec![
                        Cell {
                            text: "<script>alert(1)</script>".into(),
                            href: Some("deal/1.html".into()),
                        },
                        Cell {
                            text: "$1.2M".into(),
                            href: None,
                        },
                    ]],
                    caption: None,
                }),
                Block::PageBreak,
                Block::Chart(Chart {
                    kind: ChartKind::Line,
                    title: "Trend".into(),
                    labels: vec!["Q1".into(), "Q2".into(), "Q3".into()],
                    series: vec![
                        Series {
                            name: "A".into(),
                            values: vec![1.0, f64::NAN, 3.0],
                        },
                        Series {
                            name: "B".into(),
                            values: vec![2.0, 2.5, -1.0],
                        },
                    ],
                    y_label: Some("USD".into()),
                }),
                Block::Kpis(vec![Kpi {
                    label: "Open pipeline".into(),
                    value: "$12.4M".into(),
                    change: Some("+8%".into()),
                    trend: Some(Trend::Up),
                    up_is_good: false,
                }]),
            ],
        }
    }

    #[test]
    fn escapes_and_filters_links() {
        let html = render_html(&sample(), &HtmlOptions::default());
        assert!(html.contains("<title>Weekly &lt;briefing&gt;</title>"));
        assert!(html.contains("Tom &amp; Jerry&#39;s &quot;deal&quot;"));
        assert!(!html.contains("javascript:"));
        assert!(html.contains("<a href=\"deal/D1.html?x=1&amp;y=2\">ok</a>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script"));
        assert!(html.contains("Content-Security-Policy"));
        assert!(html.contains("<td class=\"num\">$1.2M</td>"));
        assert!(html.contains("class=\"page-break\""));
        assert!(html.contains("class=\"kpi-change bad\""));
        // The line breaks at the missing value: two separate moves.
        assert!(html.matches("<path d=\"M").count() == 2);
        assert!(
            html.contains(" M"),
            "second series has one segment; first has two"
        );
    }

    #[test]
    fn safe_hrefs() {
        assert_eq!(safe_href("https://x.org/a"), Some("https://x.org/a"));
        assert_eq!(safe_href("mailto:a@b.c"), Some("mailto:a@b.c"));
        assert_eq!(safe_href("deal/D1.html"), Some("deal/D1.html"));
        assert_eq!(safe_href("#top"), Some("#top"));
        assert_eq!(safe_href("a/b:c"), Some("a/b:c"));
        assert_eq!(safe_href(" JavaScript:alert(1)"), None);
        assert_eq!(safe_href("data:text/html,x"), None);
    }

    #[test]
    fn options_and_atomic_write() {
        let options = HtmlOptions {
            extra_head: "<script>reload()</script>\n".into(),
            content_security_policy: None,
        };
        let html = render_html(&sample(), &options);
        assert!(html.contains("<script>reload()</script>\n</head>"));
        assert!(!html.contains("Content-Security-Policy"));

        let dir = std::env::temp_dir().join(format!("revintel-html-{}", std::process::id()));
        let path = dir.join("nested").join("report.html");
        write_html_atomic(&sample(), &path).expect("writes");
        let written = std::fs::read_to_string(&path).expect("reads");
        assert!(written.starts_with("<!DOCTYPE html>"));
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("lists")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).expect("cleans up");
    }

    #[test]
    fn empty_chart_says_so() {
        let mut out = String::new();
        write_chart(
            &mut out,
            &Chart {
                kind: ChartKind::Bar,
                title: "t".into(),
                labels: vec![],
                series: vec![],
                y_label: None,
            },
        );
        assert!(out.contains("No data"));
    }
}
