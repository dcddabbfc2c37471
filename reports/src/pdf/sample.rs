//! The sample briefing the tests render: every block type, special
//! characters, links, and a table long enough to span pages.

use crate::document::*;

pub(super) fn text(s: &str) -> Inline {
    Inline::Text(s.to_string())
}

pub(super) fn cell(s: impl Into<String>) -> Cell {
    Cell {
        text: s.into(),
        href: None,
    }
}

/// Stage names cycled through the big table.
const STAGES: [&str; 4] = ["Prospecting", "Qualification", "Proposal", "Negotiation"];

/// The 120-row table: every cell value is unique so each can be checked.
pub(super) fn deal_rows(n: usize) -> Vec<Vec<Cell>> {
    (0..n)
        .map(|i| {
            vec![
                Cell {
                    text: format!("D{:07}", 4000 + i),
                    href: Some(format!("#deal-{i}")),
                },
                cell(format!("Account {i} & Sons")),
                cell(STAGES[i % 4]),
                cell(format!("${},{:03}", 10 + i, (i * 37) % 1000)),
                cell(format!("{}.{}%", 10 + (i * 7) % 80, i % 10)),
            ]
        })
        .collect()
}

/// A briefing that exercises every block type.
pub(super) fn sample_document(table_rows: usize) -> Document {
    Document {
        title: "Pipeline briefing — Q4 FY26".to_string(),
        subtitle: Some("As of 2026-11-23".to_string()),
        footer: Some("revintel · decision support, not automation · Confidential".to_string()),
        blocks: vec![
            Block::Kpis(vec![
                Kpi {
                    label: "Open pipeline".into(),
                    value: "$12.4M".into(),
                    change: Some("+8.2% vs last quarter".into()),
                    trend: Some(Trend::Up),
                    up_is_good: true,
                },
                Kpi {
                    label: "Forecast P50 (this quarter)".into(),
                    value: "$3.91M".into(),
                    change: Some("−2.1% vs plan".into()),
                    trend: Some(Trend::Down),
                    up_is_good: true,
                },
                Kpi {
                    label: "Deals at risk".into(),
                    value: "37".into(),
                    change: Some("+5 this week".into()),
                    trend: Some(Trend::Up),
                    up_is_good: false,
                },
                Kpi {
                    label: "Win rate (trailing 90 days)".into(),
                    value: "28.4%".into(),
                    change: Some("flat".into()),
                    trend: Some(Trend::Flat),
                    up_is_good: true,
                },
            ]),
            Block::Heading {
                level: 1,
                text: vec![text("Summary")],
                anchor: Some("summary".into()),
            },
            Block::Paragraph(vec![
                text("The open pipeline stands at "),
                Inline::Strong(vec![text("$12.4M")]),
                text(" across 759 deals. Forecast revenue for the quarter is "),
                Inline::Emphasis(vec![text("likely")]),
                text(" between $3.2M and $4.6M (P10–P90). Escaping check: <script>alert('x')</script> | pipes | A&B — café, naïve, 1 200 € and ünïcödé. See "),
                Inline::Link {
                    text: vec![text("the deal table")],
                    href: "#deals".into(),
                },
                text(" or the "),
                Inline::Link {
                    text: vec![text("documentation")],
                    href: "https://example.com/revintel/docs".into(),
                },
                text(". Scores come from "),
                Inline::Code("win_prob(…)".into()),
                text(" and the risk score."),
                Inline::LineBreak,
                text("A second line after a forced break."),
            ]),
            Block::List {
                ordered: false,
                items: vec![
                    vec![text("Enterprise deals slipped most: 14 pushed their close date at least twice.")],
                    vec![
                        Inline::Strong(vec![text("Stalled:")]),
                        text(" 22 deals have had no activity for 30 days or more; together they are worth $2.1M, which is a long sentence so that this bullet wraps onto a second line."),
                    ],
                    vec![text("Renewals are on track.")],
                ],
            },
            Block::List {
                ordered: true,
                items: vec![
                    vec![text("Re-engage the stalled Enterprise deals this week.")],
                    vec![text("Re-qualify timelines on deals pushed twice or more.")],
                ],
            },
            Block::Chart(Chart {
                kind: ChartKind::Bar,
                title: "Open pipeline by stage".into(),
                labels: STAGES.iter().map(|s| s.to_string()).collect(),
                series: vec![
                    Series {
                        name: "SMB".into(),
                        values: vec![1.2e6, 0.9e6, 0.7e6, 0.4e6],
                    },
                    Series {
                        name: "Mid-Market".into(),
                        values: vec![2.1e6, 1.8e6, 1.1e6, 0.8e6],
                    },
                    Series {
                        name: "Enterprise".into(),
                        values: vec![1.4e6, 0.6e6, 0.9e6, 0.5e6],
                    },
                ],
                y_label: Some("Amount (USD)".into()),
            }),
            Block::Chart(Chart {
                kind: ChartKind::Line,
                title: "Weekly win rate".into(),
                labels: (1..=12).map(|w| format!("W{w}")).collect(),
                series: vec![
                    Series {
                        name: "Win rate".into(),
                        values: vec![0.26, 0.27, 0.25, 0.29, f64::NAN, 0.31, 0.28, 0.3, 0.29, 0.27, 0.28, 0.284],
                    },
                    Series {
                        name: "Stage baseline".into(),
                        values: vec![0.24; 12],
                    },
                ],
                y_label: None,
            }),
            Block::Heading {
                level: 2,
                text: vec![text("Deals needing attention")],
                anchor: None,
            },
            Block::DealCard(DealCard {
                title: "D0004222 — Acme Corp renewal".into(),
                href: Some("https://crm.example.com/deals/D0004222".into()),
                facts: vec![
                    ("Amount".into(), "$240,000".into()),
                    ("Stage".into(), "Negotiation".into()),
                    ("Owner".into(), "Dana Whitfield".into()),
                    ("Win probability".into(), "31%".into()),
                    ("Expected close".into(), "2026-12-15".into()),
                    ("Risk score".into(), "78 / 100".into()),
                ],
                drivers: vec![
                    "41 days in Negotiation, 3.0× the usual".into(),
                    "close date pushed 2 times".into(),
                    "no activity for 19 days".into(),
                ],
                actions: vec![
                    "Agree a dated next step with the buyer to move the deal out of its stage".into(),
                    "Re-qualify the timeline with the buyer".into(),
                ],
            }),
            Block::Heading {
                level: 3,
                text: vec![text("How the scores are computed")],
                anchor: None,
            },
            Block::Code {
                lang: Some("sql".into()),
                text: "SELECT deal_id, win_prob, risk_score\nFROM scored_deals\nWHERE risk_score > 70 AND amount > 100000 -- big & risky\n\tORDER BY risk_x_value DESC LIMIT 10;".into(),
            },
            Block::Rule,
            Block::Heading {
                level: 1,
                text: vec![text("All open deals")],
                anchor: Some("deals".into()),
            },
            Block::Table(Table {
                header: vec![
                    "Deal".into(),
                    "Account".into(),
                    "Stage".into(),
                    "Amount".into(),
                    "Win prob.".into(),
                ],
                align: vec![Align::Left, Align::Left, Align::Center, Align::Right, Align::Right],
                rows: deal_rows(table_rows),
                caption: Some("Open deals ranked by risk × value".into()),
            }),
            Block::PageBreak,
            Block::Heading {
                level: 2,
                text: vec![text("Appendix")],
                anchor: None,
            },
            Block::Paragraph(vec![text("Generated by revintel. Figures are estimates.")]),
        ],
    }
}
