//! Unit tests of the HTML writer: escaping, link filtering, the options
//! and the atomic write, checked on a small document that holds every
//! hazard (markup in text, a `javascript:` link, a gap in a line chart).

use super::chart;
use super::text::safe_href;
use super::*;
use crate::document::{
    Align, Block, Cell, Chart, ChartKind, Document, Inline, Kpi, Series, Table, Trend,
};

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
    chart::write(
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
