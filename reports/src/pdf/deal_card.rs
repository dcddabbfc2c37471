//! Deal cards: one bordered box per deal with its title on a shaded band,
//! facts in two columns, then the risk drivers and suggested actions side by
//! side (or full width when only one of them is present).
//!
//! A card is measured once and then drawn; it is never split across pages.

use crate::document::DealCard;

use super::canvas::{palette, TextStyle};
use super::flow::Flow;
use super::fonts::Face;
use super::text::{self, draw_lines, wrap, HAlign, Line, LineMetrics, Run, RunStyle};

const GAP: f32 = 10.0;
const CARD_PAD: f32 = 9.0;
const CARD_TITLE_SIZE: f32 = 11.0;
const CARD_TITLE_LEADING: f32 = 14.0;
const FACT_SIZE: f32 = 8.5;
const FACT_LEADING: f32 = 12.0;
const LIST_SIZE: f32 = 8.5;
const LIST_LEADING: f32 = 11.5;
const COLUMN_GAP: f32 = 18.0;
const BULLET_INDENT: f32 = 10.0;

/// One fact of a deal card, wrapped: label lines and value lines.
type Fact = (Vec<Line>, Vec<Line>);

/// A deal card measured for the content width.
struct CardLayout {
    title: Vec<Line>,
    title_height: f32,
    /// Rows of up to two facts, and each row's height.
    facts: Vec<(Vec<Fact>, f32)>,
    label_width: f32,
    column_width: f32,
    /// "Drivers" / "Suggested actions": heading and the wrapped bullets.
    sections: Vec<(&'static str, Vec<Vec<Line>>)>,
    section_width: f32,
    height: f32,
}

fn measure_card(flow: &Flow<'_>, card: &DealCard) -> CardLayout {
    let fonts = flow.fonts;
    let w = flow.geo.width();
    let inner = w - 2.0 * CARD_PAD;

    let title_style = RunStyle {
        href: card.href.clone(),
        ..RunStyle::plain(Face::Bold, palette::ACCENT)
    };
    let title = wrap(
        &[Run::Text(card.title.clone(), title_style)],
        fonts,
        CARD_TITLE_SIZE,
        inner,
    );
    let title_height = title.len() as f32 * CARD_TITLE_LEADING + 2.0 * 6.0;

    let column_width = (inner - COLUMN_GAP) / 2.0;
    let label_width = card
        .facts
        .iter()
        .map(|(l, _)| fonts.width(Face::Regular, l, FACT_SIZE) + 8.0)
        .fold(0.0, f32::max)
        .min(column_width * 0.45);
    let label_style = RunStyle::plain(Face::Regular, palette::MUTED);
    let value_style = RunStyle::plain(Face::Bold, palette::TEXT);
    let facts = card
        .facts
        .chunks(2)
        .map(|pair| {
            let cells: Vec<Fact> = pair
                .iter()
                .map(|(l, v)| {
                    (
                        wrap(
                            &[Run::Text(l.clone(), label_style.clone())],
                            fonts,
                            FACT_SIZE,
                            label_width - 6.0,
                        ),
                        wrap(
                            &[Run::Text(v.clone(), value_style.clone())],
                            fonts,
                            FACT_SIZE,
                            column_width - label_width,
                        ),
                    )
                })
                .collect();
            let lines = cells
                .iter()
                .map(|(l, v)| l.len().max(v.len()))
                .max()
                .unwrap_or(1);
            (cells, lines as f32 * FACT_LEADING)
        })
        .collect::<Vec<_>>();

    let mut sections: Vec<(&'static str, &[String])> = Vec::new();
    if !card.drivers.is_empty() {
        sections.push(("Drivers", &card.drivers));
    }
    if !card.actions.is_empty() {
        sections.push(("Suggested actions", &card.actions));
    }
    let section_width = if sections.len() == 2 {
        column_width
    } else {
        inner
    };
    let item_style = RunStyle::plain(Face::Regular, palette::TEXT);
    let sections: Vec<(&'static str, Vec<Vec<Line>>)> = sections
        .into_iter()
        .map(|(name, items)| {
            let wrapped = items
                .iter()
                .map(|t| {
                    let runs = [Run::Text(t.clone(), item_style.clone())];
                    wrap(&runs, fonts, LIST_SIZE, section_width - BULLET_INDENT)
                })
                .collect();
            (name, wrapped)
        })
        .collect();
    let section_height = sections
        .iter()
        .map(|(_, items)| {
            14.0 + items
                .iter()
                .map(|l| l.len() as f32 * LIST_LEADING + 2.0)
                .sum::<f32>()
        })
        .fold(0.0, f32::max);

    let facts_height: f32 = facts.iter().map(|(_, h)| h + 2.0).sum();
    let mut height = title_height + CARD_PAD;
    if !facts.is_empty() {
        height += facts_height;
    }
    if !sections.is_empty() {
        height += if facts.is_empty() { 0.0 } else { 8.0 } + section_height;
    }
    height += CARD_PAD - 2.0;
    CardLayout {
        title,
        title_height,
        facts,
        label_width,
        column_width,
        sections,
        section_width,
        height,
    }
}

/// The height of a deal card, gap included.
pub(crate) fn height(flow: &Flow<'_>, card: &DealCard) -> f32 {
    GAP + measure_card(flow, card).height
}

/// Lay out a deal card as one box.
pub(crate) fn lay_out(flow: &mut Flow<'_>, card: &DealCard) {
    let m = measure_card(flow, card);
    flow.gap(GAP);
    flow.ensure(m.height);
    let (x, w, top) = (flow.geo.left(), flow.geo.width(), flow.y);
    let page = flow.page();
    let inner_x = x + CARD_PAD;

    page.fill(x, top, w, m.title_height, palette::HEADER_FILL);
    page.frame(x, top, w, m.height, palette::BORDER, 0.75);
    draw_lines(
        page,
        &m.title,
        inner_x,
        top + 6.0,
        w - 2.0 * CARD_PAD,
        LineMetrics::new(CARD_TITLE_SIZE, CARD_TITLE_LEADING),
        HAlign::Left,
    );

    let mut y = top + m.title_height + CARD_PAD;
    for (cells, h) in &m.facts {
        for (i, (label, value)) in cells.iter().enumerate() {
            let cx = inner_x + i as f32 * (m.column_width + COLUMN_GAP);
            draw_lines(
                page,
                label,
                cx,
                y,
                m.label_width,
                LineMetrics::new(FACT_SIZE, FACT_LEADING),
                HAlign::Left,
            );
            draw_lines(
                page,
                value,
                cx + m.label_width,
                y,
                m.column_width - m.label_width,
                LineMetrics::new(FACT_SIZE, FACT_LEADING),
                HAlign::Left,
            );
        }
        y += h + 2.0;
    }
    if !m.sections.is_empty() {
        if !m.facts.is_empty() {
            y += 3.0;
            page.line(inner_x, y, x + w - CARD_PAD, y, palette::GRID, 0.5);
            y += 5.0;
        }
        for (i, (name, items)) in m.sections.iter().enumerate() {
            let cx = inner_x + i as f32 * (m.section_width + COLUMN_GAP);
            let heading = TextStyle::new(Face::Bold, 8.5, palette::ACCENT);
            page.text(cx, y + 9.0, heading, *name);
            let mut iy = y + 14.0;
            for lines in items {
                let bullet = TextStyle::new(Face::Regular, LIST_SIZE, palette::MUTED);
                page.text(
                    cx + 1.0,
                    text::baseline(iy, LIST_LEADING, LIST_SIZE),
                    bullet,
                    "•",
                );
                draw_lines(
                    page,
                    lines,
                    cx + BULLET_INDENT,
                    iy,
                    m.section_width - BULLET_INDENT,
                    LineMetrics::new(LIST_SIZE, LIST_LEADING),
                    HAlign::Left,
                );
                iy += lines.len() as f32 * LIST_LEADING + 2.0;
            }
        }
    }
    flow.y = top + m.height;
}
