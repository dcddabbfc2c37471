//! The page around the blocks: the `<head>` with its security policy and
//! stylesheet, the `<main>` that holds the report, and the closing footer.
//!
//! The stylesheet is inline because the file must stand alone (the default
//! policy loads nothing). It styles every class the block writers emit and
//! has a print section: page breaks where the document asks for them,
//! headings kept with what follows, table headers repeated on each sheet,
//! and rows, tiles, cards, charts and code never split across sheets.

use std::fmt::Write as _;

use super::{escape, HtmlOptions};

/// Writes everything before the first block: the doctype, the `<head>` and
/// the opening of `<body>` and `<main>`.
pub(crate) fn open(out: &mut String, title: &str, options: &HtmlOptions) {
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
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(out, "<style>{CSS}</style>");
    out.push_str(&options.extra_head);
    out.push_str("</head>\n<body>\n<main class=\"report\">\n");
}

/// Writes everything after the last block: the footer line, if any, and the
/// closing tags.
pub(crate) fn close(out: &mut String, footer: Option<&str>) {
    if let Some(footer) = footer {
        let _ = writeln!(
            out,
            "<footer class=\"report-footer\">{}</footer>",
            escape(footer)
        );
    }
    out.push_str("</main>\n</body>\n</html>\n");
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
