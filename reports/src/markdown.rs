//! Rendered Markdown to document blocks.
//!
//! comrak parses the Markdown (CommonMark plus GitHub tables and
//! strikethrough) and this module walks its tree into the document model:
//! headings (with unique anchors), paragraphs, lists, tables, code and
//! rules. Fenced blocks with the `revintel-component` info string become
//! the component they describe, and consecutive KPI components share one
//! row of tiles.
//!
//! Raw HTML in a template is not passed through: it is shown as text (an
//! HTML comment is dropped), so a report's HTML only ever comes from the
//! HTML writer. Images become links, since a report fetches nothing.
//! The document model is flat, so block quotes contribute their content and
//! a nested list is folded into its parent item.
//!
//! The walks recurse, so nesting is bounded: below [`MAX_DEPTH`] levels of
//! block quotes, lists or emphasis a subtree is taken as its plain text
//! (gathered without recursion). A template with 100,000 nested `>` renders
//! that text instead of overflowing the stack — under `watch` and `serve`
//! that would have taken the server down.

use comrak::nodes::{AstNode, ListType, NodeValue, TableAlignment};
use std::collections::HashSet;

use comrak::{parse_document, Arena, Options};

use crate::components::{Component, FENCE_INFO};
use crate::document::{Align, Block, Cell, Inline, Table};

/// Deepest nesting walked structurally; deeper content becomes plain text.
pub const MAX_DEPTH: usize = 64;

/// The text of every descendant of `node`, in order, gathered with comrak's
/// own (iterative) traversal.
fn plain_text<'a>(node: &'a AstNode<'a>) -> String {
    let mut text = String::new();
    for n in node.descendants() {
        match &n.data.borrow().value {
            NodeValue::Text(t) => text.push_str(t),
            NodeValue::Code(code) => text.push_str(&code.literal),
            NodeValue::SoftBreak | NodeValue::LineBreak => text.push(' '),
            NodeValue::Paragraph if !text.is_empty() && !text.ends_with(' ') => text.push(' '),
            _ => {}
        }
    }
    text
}

/// The blocks of `markdown`.
pub fn to_blocks(markdown: &str) -> Vec<Block> {
    let arena = Arena::new();
    let mut options = Options::default();
    options.extension.table = true;
    options.extension.strikethrough = true;
    let root = parse_document(&arena, markdown, &options);
    let mut blocks = Vec::new();
    let mut anchors = Anchorizer::new();
    for node in root.children() {
        convert_block(node, &mut blocks, &mut anchors, 0);
    }
    blocks
}

/// Unique heading anchors in the GitHub style: "Risk × value" → "risk--value".
#[derive(Default)]
struct Anchorizer {
    used: HashSet<String>,
}

impl Anchorizer {
    fn new() -> Anchorizer {
        Anchorizer::default()
    }

    fn anchorize(&mut self, text: &str) -> String {
        let base: String = text
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let base = if base.is_empty() {
            "section".to_string()
        } else {
            base
        };
        let mut anchor = base.clone();
        let mut n = 0;
        while !self.used.insert(anchor.clone()) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        anchor
    }
}

fn convert_block<'a>(
    node: &'a AstNode<'a>,
    out: &mut Vec<Block>,
    anchors: &mut Anchorizer,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        let text = plain_text(node);
        if !text.trim().is_empty() {
            out.push(Block::Paragraph(vec![Inline::Text(text)]));
        }
        return;
    }
    let value = node.data.borrow().value.clone();
    match value {
        NodeValue::Paragraph => {
            let inlines = inlines_of(node);
            if !inlines.is_empty() {
                out.push(Block::Paragraph(inlines));
            }
        }
        NodeValue::Heading(heading) => {
            let text = inlines_of(node);
            let anchor = anchors.anchorize(&Inline::plain_text(&text));
            out.push(Block::Heading {
                level: heading.level,
                text,
                anchor: Some(anchor),
            });
        }
        NodeValue::List(list) => {
            let items = node.children().map(|i| list_item(i, depth + 1)).collect();
            out.push(Block::List {
                ordered: list.list_type == ListType::Ordered,
                items,
            });
        }
        NodeValue::CodeBlock(code) => {
            let lang = code.info.split_whitespace().next().map(str::to_string);
            if lang.as_deref() == Some(FENCE_INFO) {
                match Component::from_json(code.literal.trim()) {
                    Ok(component) => push_component(out, component.into_block()),
                    // Only a hand-written fence can be malformed: show it as written.
                    Err(_) => out.push(Block::Code {
                        lang,
                        text: code.literal,
                    }),
                }
            } else {
                let text = code
                    .literal
                    .strip_suffix('\n')
                    .unwrap_or(&code.literal)
                    .to_string();
                out.push(Block::Code {
                    lang: lang.filter(|l| !l.is_empty()),
                    text,
                });
            }
        }
        NodeValue::ThematicBreak => out.push(Block::Rule),
        NodeValue::HtmlBlock(html) => {
            let text = html.literal.trim();
            if !text.starts_with("<!--") && !text.is_empty() {
                out.push(Block::Paragraph(vec![Inline::Text(text.to_string())]));
            }
        }
        NodeValue::Table(table) => out.push(Block::Table(convert_table(node, &table.alignments))),
        _ => {
            for child in node.children() {
                convert_block(child, out, anchors, depth + 1);
            }
        }
    }
}

/// Adds a component block; a KPI joins the KPI row just before it.
fn push_component(out: &mut Vec<Block>, block: Block) {
    if let (Some(Block::Kpis(row)), Block::Kpis(new)) = (out.last_mut(), &block) {
        row.extend(new.iter().cloned());
        return;
    }
    out.push(block);
}

/// One list item as inline text: its paragraphs joined by line breaks,
/// nested list items folded in as "– item" lines.
fn list_item<'a>(item: &'a AstNode<'a>, depth: usize) -> Vec<Inline> {
    if depth > MAX_DEPTH {
        return vec![Inline::Text(plain_text(item))];
    }
    let mut inlines: Vec<Inline> = Vec::new();
    for child in item.children() {
        let value = child.data.borrow().value.clone();
        let part = match value {
            NodeValue::List(_) => {
                for nested in child.children() {
                    if !inlines.is_empty() {
                        inlines.push(Inline::LineBreak);
                    }
                    inlines.push(Inline::Text("– ".into()));
                    inlines.extend(list_item(nested, depth + 1));
                }
                continue;
            }
            NodeValue::CodeBlock(code) => vec![Inline::Code(code.literal.trim_end().to_string())],
            _ => inlines_of(child),
        };
        if part.is_empty() {
            continue;
        }
        if !inlines.is_empty() {
            inlines.push(Inline::LineBreak);
        }
        inlines.extend(part);
    }
    inlines
}

fn convert_table<'a>(node: &'a AstNode<'a>, alignments: &[TableAlignment]) -> Table {
    let mut header = Vec::new();
    let mut rows = Vec::new();
    for row in node.children() {
        let is_header = matches!(row.data.borrow().value, NodeValue::TableRow(true));
        let cells: Vec<Cell> = row
            .children()
            .map(|cell| {
                let inlines = inlines_of(cell);
                Cell {
                    text: Inline::plain_text(&inlines),
                    href: first_link(&inlines),
                }
            })
            .collect();
        if is_header {
            header = cells.into_iter().map(|c| c.text).collect();
        } else {
            rows.push(cells);
        }
    }
    let align = alignments
        .iter()
        .map(|a| match a {
            TableAlignment::Right => Align::Right,
            TableAlignment::Center => Align::Center,
            TableAlignment::Left | TableAlignment::None => Align::Left,
        })
        .collect();
    Table {
        header,
        align,
        rows,
        caption: None,
    }
}

fn first_link(inlines: &[Inline]) -> Option<String> {
    inlines.iter().find_map(|i| match i {
        Inline::Link { href, .. } => Some(href.clone()),
        Inline::Strong(inner) | Inline::Emphasis(inner) => first_link(inner),
        _ => None,
    })
}

/// The inline content of a block node.
fn inlines_of<'a>(node: &'a AstNode<'a>) -> Vec<Inline> {
    inlines_at(node, 0)
}

fn inlines_at<'a>(node: &'a AstNode<'a>, depth: usize) -> Vec<Inline> {
    let mut out = Vec::new();
    if depth > MAX_DEPTH {
        push_text(&mut out, &plain_text(node));
        return out;
    }
    for child in node.children() {
        convert_inline(child, &mut out, depth);
    }
    out
}

/// Appends text, joining it to a text just before it.
fn push_text(out: &mut Vec<Inline>, text: &str) {
    if let Some(Inline::Text(last)) = out.last_mut() {
        last.push_str(text);
    } else {
        out.push(Inline::Text(text.to_string()));
    }
}

fn convert_inline<'a>(node: &'a AstNode<'a>, out: &mut Vec<Inline>, depth: usize) {
    let inlines_of = |n| inlines_at(n, depth + 1);
    let value = node.data.borrow().value.clone();
    match value {
        NodeValue::Text(text) => push_text(out, &text),
        NodeValue::SoftBreak => push_text(out, " "),
        NodeValue::LineBreak => out.push(Inline::LineBreak),
        NodeValue::Code(code) => out.push(Inline::Code(code.literal)),
        NodeValue::Emph => out.push(Inline::Emphasis(inlines_of(node))),
        NodeValue::Strong => out.push(Inline::Strong(inlines_of(node))),
        NodeValue::Link(link) => out.push(Inline::Link {
            text: inlines_of(node),
            href: link.url.clone(),
        }),
        NodeValue::Image(link) => {
            let mut text = inlines_of(node);
            if text.is_empty() {
                text.push(Inline::Text(link.url.clone()));
            }
            out.push(Inline::Link {
                text,
                href: link.url.clone(),
            });
        }
        NodeValue::HtmlInline(html) => {
            let tag = html.trim().to_ascii_lowercase();
            if matches!(tag.as_str(), "<br>" | "<br/>" | "<br />") {
                out.push(Inline::LineBreak);
            } else if !tag.starts_with("<!--") {
                push_text(out, &html);
            }
        }
        NodeValue::Raw(text) => push_text(out, &text),
        _ => {
            for child in node.children() {
                convert_inline(child, out, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Nesting far past what the walks descend renders as text.
    #[test]
    fn deep_nesting_becomes_text_not_a_stack_overflow() {
        for source in [
            format!("{} deep quote", ">".repeat(100_000)),
            format!("{}deep{}", "*_".repeat(20_000), "_*".repeat(20_000)),
            (0..2_000)
                .map(|i| format!("{}- item {i}\n", "  ".repeat(i)))
                .collect(),
        ] {
            let blocks = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || format!("{:?}", to_blocks(&source)))
                .unwrap()
                .join()
                .expect("no stack overflow");
            assert!(
                blocks.contains("deep") || blocks.contains("item"),
                "{}",
                &blocks[..200.min(blocks.len())]
            );
        }
    }

    use super::*;
    use crate::components::{ChartSeries, ChartType};
    use crate::document::{ChartKind, Kpi};

    #[test]
    fn converts_prose() {
        let md = "# Pipeline *now*\n\nSome **bold** and `code`, a [link](deal/D1.html).\nNext line  \nbroken.\n\n## Pipeline now\n\n- one\n- two\n  - nested\n\n1. first\n\n---\n\n```sql\nSELECT 1\n```\n\n> quoted\n\n<div>raw</div>\n\n<!-- a note -->\n";
        let blocks = to_blocks(md);
        assert_eq!(
            blocks[0],
            Block::Heading {
                level: 1,
                text: vec![
                    Inline::Text("Pipeline ".into()),
                    Inline::Emphasis(vec![Inline::Text("now".into())])
                ],
                anchor: Some("pipeline-now".into()),
            }
        );
        let Block::Paragraph(p) = &blocks[1] else {
            panic!("paragraph")
        };
        assert!(p.contains(&Inline::Strong(vec![Inline::Text("bold".into())])));
        assert!(p.contains(&Inline::Code("code".into())));
        assert!(p.contains(&Inline::Link {
            text: vec![Inline::Text("link".into())],
            href: "deal/D1.html".into()
        }));
        assert!(p.contains(&Inline::LineBreak));
        // Repeated headings get distinct anchors.
        assert!(
            matches!(&blocks[2], Block::Heading { anchor: Some(a), .. } if a == "pipeline-now-1")
        );
        let Block::List {
            ordered: false,
            items,
        } = &blocks[3]
        else {
            panic!("list")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(Inline::plain_text(&items[1]), "two – nested");
        assert!(matches!(&blocks[4], Block::List { ordered: true, .. }));
        assert_eq!(blocks[5], Block::Rule);
        assert_eq!(
            blocks[6],
            Block::Code {
                lang: Some("sql".into()),
                text: "SELECT 1".into()
            }
        );
        assert_eq!(
            blocks[7],
            Block::Paragraph(vec![Inline::Text("quoted".into())])
        );
        assert_eq!(
            blocks[8],
            Block::Paragraph(vec![Inline::Text("<div>raw</div>".into())])
        );
        assert_eq!(blocks.len(), 9);
    }

    #[test]
    fn converts_pipe_tables() {
        let blocks = to_blocks("| a | b |\n|---|--:|\n| [x](u) | 2 |\n");
        let Block::Table(t) = &blocks[0] else {
            panic!("table")
        };
        assert_eq!(t.header, vec!["a", "b"]);
        assert_eq!(t.align, vec![Align::Left, Align::Right]);
        assert_eq!(
            t.rows[0][0],
            Cell {
                text: "x".into(),
                href: Some("u".into())
            }
        );
    }

    #[test]
    fn components_and_kpi_rows() {
        let kpi = |label: &str| Component::Kpi {
            label: label.into(),
            value: "1".into(),
            change: None,
            trend: None,
            up_is_good: true,
        };
        let chart = Component::Chart {
            kind: ChartType::Line,
            title: "t".into(),
            labels: vec!["a".into()],
            series: vec![ChartSeries {
                name: "s".into(),
                values: vec![Some(1.0)],
            }],
            y_label: None,
        };
        let md = format!(
            "Intro {}{}\n{}{}",
            kpi("A").to_fence(),
            kpi("B").to_fence(),
            chart.to_fence(),
            kpi("C").to_fence()
        );
        let blocks = to_blocks(&md);
        assert_eq!(blocks.len(), 4, "{blocks:?}");
        assert_eq!(
            blocks[0],
            Block::Paragraph(vec![Inline::Text("Intro".into())])
        );
        let Block::Kpis(row) = &blocks[1] else {
            panic!("kpis")
        };
        assert_eq!(
            row.iter()
                .map(|k: &Kpi| k.label.as_str())
                .collect::<Vec<_>>(),
            vec!["A", "B"]
        );
        assert!(matches!(&blocks[2], Block::Chart(c) if c.kind == ChartKind::Line));
        assert!(matches!(&blocks[3], Block::Kpis(r) if r.len() == 1));
        // A malformed hand-written fence is shown, not dropped.
        let blocks = to_blocks("```revintel-component\n{oops\n```\n");
        assert!(matches!(&blocks[0], Block::Code { .. }));
    }
}
