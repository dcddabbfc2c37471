//! End-to-end tests of templates: parse, render with fake results, write
//! HTML and read it back with a real HTML parser.

use std::sync::Arc;

use chrono::NaiveDate;
use scraper::{Html, Selector};

use super::*;
use crate::document::Block;
use crate::html::{render_html, HtmlOptions};
use crate::results::{CellValue, ColumnKind};

const PATH: &str = "templates/weekly.md";

const WEEKLY: &str = r#"---
title: Weekly briefing
audience: leadership
formats: [html, pdf]
params:
  top_n: 10
  owner: null
---
# {{ title }} — {{ as_of | date }}

```sql kpis
SELECT count(*) AS open_deals, sum(amount) AS pipeline FROM scored_deals
```

```sql at_risk show
SELECT deal_id, deal_name, risk_score, risk_x_value
FROM scored_deals ORDER BY risk_x_value DESC LIMIT $top_n
```

{{ kpi(kpis.rows[0].pipeline | money, "Open pipeline") }}
{{ kpi(kpis.rows[0].open_deals, "Open deals", change=0.12) }}

## Deals at risk (top {{ top_n }} for {{ audience }})

{{ table(at_risk, columns=["deal_name", "risk_score"], limit=10, link="deal/{deal_id}.html") }}
{{ bar_chart(at_risk, x="deal_name", y="risk_x_value", title="Risk × value") }}

{% for d in at_risk.rows %}
- {{ d.deal_name }} scores {{ d.risk_score | round }}
{% endfor %}

First: {{ at_risk.rows[0].deal_name }}. Owner filter: {{ owner }}.
"#;

fn as_of() -> RenderContext {
    RenderContext {
        as_of: NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid date"),
        page_row: None,
    }
}

const NAMES: [&str; 3] = [
    "<script>alert(1)</script>",
    "a|b*c*",
    "Acme _renewal_ [2027](x)",
];

fn results() -> Results {
    use CellValue::*;
    let kpis = QueryResult {
        columns: vec!["open_deals".into(), "pipeline".into()],
        kinds: vec![ColumnKind::Number, ColumnKind::Number],
        rows: vec![vec![Int(759), Float(48_250_000.0)]],
    };
    let at_risk = QueryResult {
        columns: vec![
            "deal_id".into(),
            "deal_name".into(),
            "risk_score".into(),
            "risk_x_value".into(),
        ],
        kinds: vec![
            ColumnKind::Text,
            ColumnKind::Text,
            ColumnKind::Number,
            ColumnKind::Number,
        ],
        rows: NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                vec![
                    Text(format!("D000{i}")),
                    Text(name.to_string()),
                    Float(90.0 - i as f64 * 10.4),
                    Float(300_000.0 - i as f64 * 50_000.0),
                ]
            })
            .collect(),
    };
    Results::from([
        ("kpis".into(), Arc::new(kpis)),
        ("at_risk".into(), Arc::new(at_risk)),
    ])
}

fn texts(doc: &Html, selector: &str) -> Vec<String> {
    let selector = Selector::parse(selector).expect("valid selector");
    doc.select(&selector)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

#[test]
fn parses_front_matter_and_fences_with_file_lines() {
    let t = Template::parse(PATH, WEEKLY).expect("parses");
    let front = t.front_matter();
    assert_eq!(front.title, "Weekly briefing");
    assert_eq!(front.formats, vec![OutputFormat::Html, OutputFormat::Pdf]);
    assert_eq!(front.params["top_n"], ParamValue::Int(10));
    let names: Vec<&str> = t.queries().iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, vec!["kpis", "at_risk"]);
    assert_eq!(t.queries()[0].line, 12);
    assert_eq!(t.queries()[1].line, 16);
    assert!(t.queries()[1].shown);
    assert_eq!(t.queries()[1].params_used, vec!["top_n"]);
    assert_eq!(
        WEEKLY.lines().nth(16),
        Some("FROM scored_deals ORDER BY risk_x_value DESC LIMIT $top_n")
    );
    // A SQL error at line 2, column 50 of at_risk is in the file at 17:50.
    let e = t.sql_error(&t.queries()[1], 2, 50, 6, "no such column");
    assert_eq!((e.line, e.column), (17, 50));
    assert_eq!(e.source_line.as_deref(), WEEKLY.lines().nth(16));
}

#[test]
fn renders_data_literally_in_html() {
    let t = Template::parse(PATH, WEEKLY).expect("parses");
    let params = t.resolve_params(&Params::new()).expect("defaults");
    let doc = render(&t, &results(), &params, &as_of()).expect("renders");
    assert_eq!(doc.title, "Weekly briefing");
    // Two KPIs in a row, then the heading, the table, the chart and the list.
    let kinds: Vec<&str> = doc
        .blocks
        .iter()
        .map(|b| match b {
            Block::Heading { .. } => "heading",
            Block::Code { .. } => "code",
            Block::Kpis(k) if k.len() == 2 => "kpis2",
            Block::Table(_) => "table",
            Block::Chart(_) => "chart",
            Block::List { .. } => "list",
            Block::Paragraph(_) => "paragraph",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "heading",
            "code",
            "kpis2",
            "heading",
            "table",
            "chart",
            "list",
            "paragraph"
        ]
    );

    let html = render_html(&doc, &HtmlOptions::default());
    let page = Html::parse_document(&html);
    assert_eq!(texts(&page, "h1"), vec!["Weekly briefing — 23 Nov 2026"]);
    assert_eq!(
        texts(&page, "h2"),
        vec!["Deals at risk (top 10 for leadership)"]
    );
    // The table has exactly the rows given, each name literally.
    assert_eq!(
        texts(&page, "table thead th"),
        vec!["Deal name", "Risk score"]
    );
    assert_eq!(
        texts(&page, "table tbody tr td:first-child"),
        NAMES.to_vec()
    );
    assert_eq!(
        texts(&page, "table tbody tr td:nth-child(2)"),
        vec!["90", "79.6", "69.2"]
    );
    let link = Selector::parse("table tbody tr td a").expect("selector");
    let hrefs: Vec<&str> = page
        .select(&link)
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert_eq!(
        hrefs,
        vec!["deal/D0000.html", "deal/D0001.html", "deal/D0002.html"]
    );
    // Interpolated prose is literal too.
    let items = texts(&page, "ul li");
    let expected: Vec<String> = NAMES
        .iter()
        .zip(["90", "80", "69"])
        .map(|(n, s)| format!("{n} scores {s}"))
        .collect();
    assert_eq!(items, expected);
    let last = texts(&page, "p").pop().expect("a paragraph");
    assert_eq!(last, format!("First: {}. Owner filter: —.", NAMES[0]));
    // No markup came from the data.
    assert_eq!(
        page.select(&Selector::parse("script").expect("selector"))
            .count(),
        0
    );
    assert_eq!(
        page.select(&Selector::parse("em").expect("selector"))
            .count(),
        0
    );
    // The chart, the KPI tiles and the shown SQL are there.
    assert_eq!(
        page.select(&Selector::parse("figure.chart svg rect title").expect("s"))
            .count(),
        3
    );
    assert_eq!(texts(&page, ".kpi-value"), vec!["$48.3M", "759"]);
    assert_eq!(texts(&page, ".kpi-change"), vec!["▲ +12%"]);
    let code = texts(&page, "pre code.language-sql");
    assert!(code[0].starts_with("SELECT deal_id") && code[0].ends_with("LIMIT $top_n"));
}

#[test]
fn params_are_exposed_by_name_and_under_params() {
    let src = "---\nparams:\n  top_n: 10\n  region: EMEA\n---\n{{ top_n }} {{ params.region }} {{ params | length }}\n";
    let t = Template::parse("t.md", src).expect("parses");
    let params = t
        .params_from_overrides(&[("top_n".into(), "5".into())])
        .expect("valid override");
    let md = render_markdown(&t, &Results::new(), &params, &as_of()).expect("renders");
    assert_eq!(md.trim(), "5 EMEA 2");
    assert!(t
        .params_from_overrides(&[("top".into(), "5".into())])
        .is_err());
    let e = t
        .resolve_params(&Params::from([("nope".to_string(), ParamValue::Null)]))
        .expect_err("unknown param");
    assert!(
        e.message.contains("unknown parameter \"nope\""),
        "{}",
        e.message
    );
}

fn parse_error(src: &str) -> TemplateError {
    Template::parse(PATH, src).expect_err("should not parse")
}

fn render_error(src: &str) -> TemplateError {
    let t = Template::parse(PATH, src).expect("parses");
    render(&t, &results(), &Params::new(), &as_of()).expect_err("should not render")
}

const HEAD: &str =
    "---\ntitle: T\n---\n```sql at_risk\nSELECT 1\n```\n```sql kpis\nSELECT 1\n```\n";

#[test]
fn unknown_filter_is_located() {
    let e = render_error(&format!(
        "{HEAD}\nText\n{{{{ kpis.rows[0].pipeline | monye }}}}\n"
    ));
    assert_eq!((e.line, e.column, e.width), (12, 28, 5));
    assert_eq!(
        e.message,
        "unknown filter \"monye\"; did you mean \"money\"?"
    );
    let shown = e.to_string();
    assert!(
        shown.starts_with("templates/weekly.md:12:28: error: unknown filter \"monye\""),
        "{shown}"
    );
    assert!(
        shown.ends_with(
            "12 | {{ kpis.rows[0].pipeline | monye }}\n   |                            ^^^^^"
        ),
        "{shown}"
    );
}

#[test]
fn unclosed_for_points_at_the_for() {
    let e = parse_error(&format!(
        "{HEAD}\n  {{% for d in at_risk.rows %}}\n- {{{{ d.deal_name }}}}\n\nEnd.\n"
    ));
    assert_eq!((e.line, e.column), (11, 3));
    assert!(
        e.message.contains("`{% for %}` is never closed"),
        "{}",
        e.message
    );
    assert_eq!(
        e.source_line.as_deref(),
        Some("  {% for d in at_risk.rows %}")
    );
}

#[test]
fn syntax_and_front_matter_errors_are_located() {
    let e = parse_error(&format!("{HEAD}\n{{{{ 1 + }}}}\n"));
    assert_eq!(e.line, 11);
    assert!(e.message.starts_with("syntax error"), "{}", e.message);
    let e = parse_error("---\ntitle: T\nformats: [html, word]\n---\n# x\n");
    assert_eq!(e.line, 3);
    let e = parse_error("---\ntitle: T\n---\n```sql title\nSELECT 1\n```\n");
    assert_eq!(e.line, 4);
    assert!(e.message.contains("built-in"), "{}", e.message);
    let e = parse_error("---\npages:\n  query: nope\n  key: deal_id\n---\n");
    assert_eq!((e.line, e.column), (3, 3));
}

#[test]
fn undefined_result_names_are_explained() {
    let e = render_error(&format!("{HEAD}\n\n{{{{ table(at_rsk, limit=3) }}}}\n"));
    assert_eq!((e.line, e.column, e.width), (12, 10, 6));
    assert!(
        e.message.starts_with("table: \"at_rsk\" is undefined: no query, parameter or variable has that name; did you mean \"at_risk\"?"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("queries: at_risk, kpis"),
        "{}",
        e.message
    );
    let e = render_error(&format!(
        "{HEAD}\n{{% for d in kpi.rows %}}{{{{ d }}}}{{% endfor %}}\n"
    ));
    assert_eq!(e.line, 11);
    assert_eq!(
        e.message,
        "\"kpi.rows\" is undefined: \"kpi\" is a function, not a query result; did you mean \"kpis\"?"
    );
    let e = render_error(&format!(
        "{HEAD}\n{{% for d in kpz.rows %}}{{{{ d }}}}{{% endfor %}}\n"
    ));
    assert!(
        e.message.starts_with("\"kpz\" is undefined: no query"),
        "{}",
        e.message
    );
    let e = render_error(&format!("{HEAD}\n{{{{ at_risk.rowz }}}}\n"));
    assert!(
        e.message
            .contains("a query result has .rows, .columns and .row_count"),
        "{}",
        e.message
    );
    let e = render_error(&format!(
        "{HEAD}\n{{% for d in at_risk.rows %}}{{{{ d.deal_nme }}}}{{% endfor %}}\n"
    ));
    assert!(
        e.message.contains("\"d\" has no field \"deal_nme\""),
        "{}",
        e.message
    );
}

#[test]
fn runtime_errors_are_located() {
    let e = render_error(&format!(
        "{HEAD}\n\n\n{{{{ table(at_risk, columns=['deal_nme']) }}}}\n"
    ));
    assert_eq!(e.line, 13);
    assert!(
        e.message.starts_with("table: no column \"deal_nme\""),
        "{}",
        e.message
    );
    let e = render_error(&format!("{HEAD}\n{{{{ 'soon' | date }}}}\n"));
    assert_eq!(e.line, 11);
    assert!(
        e.message.contains("date: \"soon\" is not a date"),
        "{}",
        e.message
    );
    // The engine forgot a result.
    let t = Template::parse(PATH, HEAD).expect("parses");
    let e = render(&t, &Results::new(), &Params::new(), &as_of()).expect_err("missing result");
    assert_eq!(e.line, 4);
    assert!(e
        .message
        .contains("no result was given for query \"at_risk\""));
}

#[test]
fn templated_pages_get_their_row() {
    let src = "---\ntitle: Deal\npages:\n  query: at_risk\n  key: deal_id\n---\n```sql at_risk\nSELECT 1\n```\n# {{ row.deal_id }}: {{ row.deal_name }}\n{{ deal_card(row) }}\n";
    let t = Template::parse("templates/deal.md", src).expect("parses");
    let pages = t.front_matter().pages.clone().expect("pages");
    let results = results();
    assert_eq!(
        pages.page_keys(&results["at_risk"]).expect("keys"),
        vec!["D0000", "D0001", "D0002"]
    );
    let context = RenderContext {
        page_row: Some(PageRow {
            query: "at_risk".into(),
            index: 1,
        }),
        ..as_of()
    };
    let doc = render(&t, &results, &Params::new(), &context).expect("renders");
    assert!(matches!(&doc.blocks[0], Block::Heading { text, .. }
        if crate::document::Inline::plain_text(text) == "D0001: a|b*c*"));
    assert!(matches!(&doc.blocks[1], Block::DealCard(c) if c.title == "D0001 — a|b*c*"));
    let bad = PagesSpec {
        query: "at_risk".into(),
        template: None,
        key: "nope".into(),
    };
    assert!(bad.page_keys(&results["at_risk"]).is_err());
}

#[test]
fn macros_and_set_blocks_are_not_escaped_twice() {
    let src = "{% macro bold(x) %}**{{ x }}**{% endmacro %}{{ bold('a*b') }}\n{% set note %}_{{ 'c_d' }}_{% endset %}{{ note }}\n{{ '*raw*' | safe }}\n";
    let t = Template::parse("t.md", src).expect("parses");
    let md = render_markdown(&t, &Results::new(), &Params::new(), &as_of()).expect("renders");
    assert_eq!(md, "**a\\*b**\n_c\\_d_\n*raw*\n");
}

#[test]
fn text_right_after_a_shown_fence_stays_outside_it() {
    let src = "```sql q show\nSELECT 1\n```\nAfter.\n";
    let t = Template::parse("t.md", src).expect("parses");
    let results = Results::from([("q".to_string(), Arc::new(QueryResult::default()))]);
    let doc = render(&t, &results, &Params::new(), &as_of()).expect("renders");
    assert_eq!(
        doc.blocks,
        vec![
            Block::Code {
                lang: Some("sql".into()),
                text: "SELECT 1".into()
            },
            Block::Paragraph(vec![crate::document::Inline::Text("After.".into())]),
        ]
    );
}

/// A `{%}` inside a string and a block left open: a located error, no panic.
#[test]
fn an_open_block_after_a_stray_tag_opener_is_an_error() {
    let source = "---\ntitle: T\n---\n{{ \"{%}\" }}\n{% if true %}\nx\n";
    let err = Template::parse("t.md", source).expect_err("the block is never closed");
    assert!(err.line >= 4, "{err}");
}

mod properties {
    //! Whatever a template holds, parsing it (and rendering what parses)
    //! gives a document or a located error — never a panic.

    use super::*;
    use proptest::prelude::*;

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("---\n".to_string()),
            Just("title: T\n".to_string()),
            Just("params:\n  n: 3\n".to_string()),
            Just("pages:\n  query: q\n  key: k\n".to_string()),
            Just("formats: [html, pdf]\n".to_string()),
            Just("```sql q\nSELECT 1 AS k\n```\n".to_string()),
            Just("```sql\n".to_string()),
            Just("```\n".to_string()),
            Just("{{ ".to_string()),
            Just(" }}".to_string()),
            Just("{%".to_string()),
            Just("%}".to_string()),
            Just("{%}".to_string()),
            Just("{#".to_string()),
            Just("{% if true %}".to_string()),
            Just("{% endif %}".to_string()),
            Just("{% for r in q.rows %}".to_string()),
            Just("{% endfor %}".to_string()),
            Just("{{ table(q) }}".to_string()),
            Just("{{ q.rows[0].k | money(70000) }}".to_string()),
            Just("{{ kpi(q, \"k\") }}".to_string()),
            Just("# Heading\n".to_string()),
            Just("| a | b |\n|---|---|\n| 1 | 2 |\n".to_string()),
            Just("\n".to_string()),
            "[ -~]{0,20}",
            any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_templates_never_panic(
            front in any::<bool>(),
            pieces in proptest::collection::vec(piece(), 0..24)
        ) {
            // Half of them with valid front matter, to reach the body's parser.
            let head = if front { "---\ntitle: T\n---\n" } else { "" };
            let source = format!("{head}{}", pieces.concat());
            if let Ok(t) = Template::parse("t.md", &source) {
                let _ = render(&t, &results(), &Params::new(), &as_of());
            }
        }
    }
}
