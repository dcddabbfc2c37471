//! Laying out a document block by block: the title, headings, paragraphs,
//! lists, code and rules here; tables, charts, KPI tiles and deal cards in
//! their own modules.
//!
//! Headings are kept with what follows: before placing one, the flow checks
//! that the heading *and the first piece of the next block* fit, so a heading
//! never ends a page. Paragraphs avoid orphans (a lone first line at the foot
//! of a page).

use crate::document::{Block, Document, Inline};

use super::canvas::{palette, TextStyle};
use super::chart;
use super::deal_card;
use super::flow::Flow;
use super::fonts::Face;
use super::kpis;
use super::table;
use super::text::{self, draw_line, wrap, Line, Run, RunStyle};

/// Body text size and line height, in points.
pub(crate) const BODY_SIZE: f32 = 10.0;
pub(crate) const BODY_LEADING: f32 = 14.5;
const PARAGRAPH_GAP: f32 = 8.0;
const CODE_SIZE: f32 = 8.5;
const CODE_LEADING: f32 = 11.5;
const CODE_PAD: f32 = 7.0;

/// Heading size, line height, gap before and gap after, by level.
fn heading_metrics(level: u8) -> (f32, f32, f32, f32) {
    match level {
        0 | 1 => (15.0, 19.0, 18.0, 9.0),
        2 => (12.5, 16.5, 15.0, 5.0),
        _ => (10.5, 14.0, 11.0, 3.0),
    }
}

/// Lay out the whole document onto `flow`.
pub(crate) fn lay_out_document(doc: &Document, flow: &mut Flow<'_>) {
    title_block(flow, doc);
    for (i, block) in doc.blocks.iter().enumerate() {
        let rest = &doc.blocks[i + 1..];
        match block {
            Block::Heading {
                level,
                text,
                anchor,
            } => heading(flow, *level, text, anchor.as_deref(), rest),
            Block::Paragraph(inlines) => paragraph(flow, inlines),
            Block::List { ordered, items } => list(flow, *ordered, items),
            Block::Table(t) => table::lay_out(flow, t),
            Block::Chart(c) => chart::lay_out(flow, c),
            Block::Kpis(k) => kpis::lay_out(flow, k),
            Block::DealCard(d) => deal_card::lay_out(flow, d),
            Block::Code { lang, text } => code(flow, lang.as_deref(), text),
            Block::Rule => rule(flow),
            Block::PageBreak => {
                if !flow.at_top() {
                    flow.new_page();
                }
            }
        }
    }
}

/// The large title and subtitle at the top of the first page.
fn title_block(flow: &mut Flow<'_>, doc: &Document) {
    if doc.title.trim().is_empty() {
        return;
    }
    let (x, w) = (flow.geo.left(), flow.geo.width());
    let base = RunStyle::plain(Face::Bold, palette::ACCENT);
    let lines = wrap(&[Run::Text(doc.title.clone(), base)], flow.fonts, 20.0, w);
    for line in &lines {
        let y = flow.y;
        draw_line(flow.page(), line, x, y, 20.0, 25.0);
        flow.y += 25.0;
    }
    if let Some(sub) = &doc.subtitle {
        let style = RunStyle::plain(Face::Regular, palette::MUTED);
        for line in &wrap(&[Run::Text(sub.clone(), style)], flow.fonts, 10.5, w) {
            let y = flow.y + 1.0;
            draw_line(flow.page(), line, x, y, 10.5, 15.0);
            flow.y += 15.0;
        }
    }
    flow.y += 6.0;
    let y = flow.y;
    flow.page().line(x, y, x + w, y, palette::ACCENT, 1.5);
    flow.y += 1.5;
    flow.set_next_gap(16.0);
}

fn heading_lines(flow: &Flow<'_>, level: u8, inlines: &[Inline]) -> Vec<Line> {
    let (size, ..) = heading_metrics(level);
    let color = if level <= 2 {
        palette::ACCENT
    } else {
        palette::TEXT
    };
    let runs = text::runs(inlines, &RunStyle::plain(Face::Bold, color));
    wrap(&runs, flow.fonts, size, flow.geo.width())
}

fn heading(
    flow: &mut Flow<'_>,
    level: u8,
    inlines: &[Inline],
    anchor: Option<&str>,
    rest: &[Block],
) {
    let (size, leading, before, after) = heading_metrics(level);
    let lines = heading_lines(flow, level, inlines);
    let own = lines.len() as f32 * leading + if level <= 1 { 4.0 } else { 0.0 };
    // Keep with next: the heading plus the first piece of what follows.
    let needed = flow.gap_for(before) + own + lead_height(flow, rest, 0);
    if needed > flow.remaining() && !flow.at_top() {
        flow.new_page();
    }
    flow.gap(before);
    if let Some(anchor) = anchor {
        let at = (flow.page_index(), flow.y);
        flow.anchors.insert(anchor.to_string(), at);
    }
    let x = flow.geo.left();
    for line in &lines {
        let y = flow.y;
        draw_line(flow.page(), line, x, y, size, leading);
        flow.y += leading;
    }
    if level <= 1 {
        flow.y += 3.0;
        let (y, w) = (flow.y, flow.geo.width());
        flow.page().line(x, y, x + w, y, palette::RULE, 0.75);
        flow.y += 1.0;
    }
    flow.set_next_gap(after);
}

/// The height the start of `rest[0]` needs on the page, for keep-with-next.
fn lead_height(flow: &Flow<'_>, rest: &[Block], depth: usize) -> f32 {
    let Some(next) = rest.first() else {
        return 0.0;
    };
    let w = flow.geo.width();
    match next {
        Block::Heading { level, text, .. } if depth < 3 => {
            let (_, leading, before, _) = heading_metrics(*level);
            before
                + heading_lines(flow, *level, text).len() as f32 * leading
                + lead_height(flow, &rest[1..], depth + 1)
        }
        Block::Heading { .. } => 0.0,
        Block::Paragraph(inl) => {
            let lines = wrap(&body_runs(inl), flow.fonts, BODY_SIZE, w).len().min(2);
            PARAGRAPH_GAP + lines as f32 * BODY_LEADING
        }
        Block::List { items, .. } if !items.is_empty() => PARAGRAPH_GAP + BODY_LEADING,
        Block::Table(t) => table::lead_height(flow, t),
        Block::Chart(_) => chart::height(),
        Block::Kpis(k) => kpis::height(flow, k),
        Block::DealCard(d) => deal_card::height(flow, d),
        Block::Code { .. } => PARAGRAPH_GAP + 2.0 * CODE_PAD + 2.0 * CODE_LEADING,
        Block::List { .. } | Block::Rule | Block::PageBreak => 0.0,
    }
}

fn body_runs(inlines: &[Inline]) -> Vec<Run> {
    text::runs(inlines, &RunStyle::plain(Face::Regular, palette::TEXT))
}

/// Place wrapped body lines at `x`, breaking pages between lines; no orphan.
fn place_lines(flow: &mut Flow<'_>, lines: &[Line], x: f32, first_prefix: Option<(f32, &str)>) {
    if lines.len() >= 2 && flow.remaining() < 2.0 * BODY_LEADING {
        flow.ensure(2.0 * BODY_LEADING);
    }
    for (i, line) in lines.iter().enumerate() {
        flow.ensure(BODY_LEADING);
        let y = flow.y;
        if let (0, Some((px, prefix))) = (i, first_prefix) {
            let style = TextStyle::new(Face::Regular, BODY_SIZE, palette::MUTED);
            let base = text::baseline(y, BODY_LEADING, BODY_SIZE);
            flow.page().text(px, base, style, prefix);
        }
        draw_line(flow.page(), line, x, y, BODY_SIZE, BODY_LEADING);
        flow.y += BODY_LEADING;
    }
}

fn paragraph(flow: &mut Flow<'_>, inlines: &[Inline]) {
    let lines = wrap(&body_runs(inlines), flow.fonts, BODY_SIZE, flow.geo.width());
    flow.gap(PARAGRAPH_GAP);
    let x = flow.geo.left();
    place_lines(flow, &lines, x, None);
}

fn list(flow: &mut Flow<'_>, ordered: bool, items: &[Vec<Inline>]) {
    if items.is_empty() {
        return;
    }
    flow.gap(PARAGRAPH_GAP);
    let indent = if ordered && items.len() >= 10 {
        22.0
    } else {
        16.0
    };
    let x = flow.geo.left() + indent;
    let w = flow.geo.width() - indent;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            flow.y += 3.0;
        }
        let lines = wrap(&body_runs(item), flow.fonts, BODY_SIZE, w);
        let marker = if ordered {
            format!("{}.", i + 1)
        } else {
            "•".to_string()
        };
        let marker_x = if ordered {
            x - 5.0 - flow.fonts.width(Face::Regular, &marker, BODY_SIZE)
        } else {
            flow.geo.left() + 4.0
        };
        place_lines(flow, &lines, x, Some((marker_x, &marker)));
    }
}

/// Code lines: tabs expanded, leading spaces kept, long lines broken by character.
fn code_lines(flow: &Flow<'_>, text: &str, width: f32) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.trim_end_matches('\n').split('\n') {
        let raw = raw.trim_end_matches('\r').replace('\t', "    ");
        let mut line = String::new();
        let mut w = 0.0;
        for c in raw.chars().filter(|c| !c.is_control()) {
            let mut buf = [0u8; 4];
            let cw = flow
                .fonts
                .width(Face::Regular, c.encode_utf8(&mut buf), CODE_SIZE);
            if w + cw > width && !line.is_empty() {
                out.push(std::mem::take(&mut line));
                w = 0.0;
            }
            line.push(c);
            w += cw;
        }
        out.push(line);
    }
    out
}

fn code(flow: &mut Flow<'_>, lang: Option<&str>, text: &str) {
    let (x, w) = (flow.geo.left(), flow.geo.width());
    let lines = code_lines(flow, text, w - 2.0 * CODE_PAD);
    flow.gap(PARAGRAPH_GAP);
    let style = TextStyle::new(Face::Regular, CODE_SIZE, palette::CODE_TEXT);
    let mut rest: &[String] = &lines;
    let mut first = true;
    while !rest.is_empty() {
        let fit = ((flow.remaining() - 2.0 * CODE_PAD) / CODE_LEADING)
            .floor()
            .max(0.0) as usize;
        if fit < rest.len().min(2) && !flow.at_top() {
            flow.new_page();
            continue;
        }
        let n = fit.max(1).min(rest.len());
        let h = n as f32 * CODE_LEADING + 2.0 * CODE_PAD;
        let top = flow.y;
        let page = flow.page();
        page.fill(x, top, w, h, palette::CODE_FILL);
        page.line(x, top, x, top + h, palette::BORDER, 2.0);
        if let (true, Some(lang)) = (first, lang) {
            let label = TextStyle::new(Face::Regular, 7.0, palette::MUTED);
            let lw = flow.fonts.width(Face::Regular, lang, 7.0);
            flow.page().text(x + w - lw - 5.0, top + 9.0, label, lang);
        }
        for (i, line) in rest[..n].iter().enumerate() {
            let line_top = top + CODE_PAD + i as f32 * CODE_LEADING;
            let base = text::baseline(line_top, CODE_LEADING, CODE_SIZE);
            flow.page().text(x + CODE_PAD, base, style, line.clone());
        }
        flow.y += h;
        rest = &rest[n..];
        first = false;
    }
}

fn rule(flow: &mut Flow<'_>) {
    flow.gap(12.0);
    if flow.at_top() {
        return; // a rule at the top of a page separates nothing
    }
    let (x, w, y) = (flow.geo.left(), flow.geo.width(), flow.y);
    flow.page().line(x, y, x + w, y, palette::RULE, 0.75);
    flow.y += 0.75;
    flow.set_next_gap(12.0);
}
