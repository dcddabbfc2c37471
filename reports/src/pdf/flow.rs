//! Page geometry and the flow: a cursor moving down pages, starting a new
//! page when content does not fit, and the running header and footer.
//!
//! Blocks ask the flow for room (`ensure`) before drawing an unbreakable
//! piece — a line, a table row, a whole chart — so nothing is ever split
//! across a page edge. Vertical space before a block collapses at the top of
//! a page, so a page never starts with a gap. Headers and footers are drawn
//! after layout, once "Page N of M" can be known.

use super::canvas::{palette, Page, TextStyle};
use super::fonts::{Face, Fonts};
use super::ops::Anchors;

/// Points per millimetre.
pub(crate) const MM: f32 = 72.0 / 25.4;

/// Where things go on every page, in points from the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Geometry {
    pub page_width: f32,
    pub page_height: f32,
    /// Left and right margin.
    pub margin: f32,
    pub header_baseline: f32,
    pub header_rule: f32,
    pub content_top: f32,
    pub content_bottom: f32,
    pub footer_rule: f32,
    pub footer_baseline: f32,
}

impl Geometry {
    /// The standard geometry for a page `width` × `height` points: 18 mm side
    /// margins, header and footer in the top and bottom margins.
    pub(crate) fn for_page(width: f32, height: f32) -> Self {
        Geometry {
            page_width: width,
            page_height: height,
            margin: 18.0 * MM,
            header_baseline: 12.5 * MM,
            header_rule: 14.5 * MM,
            content_top: 21.0 * MM,
            content_bottom: height - 19.0 * MM,
            footer_rule: height - 14.5 * MM,
            footer_baseline: height - 10.5 * MM,
        }
    }

    /// The left edge of the content area.
    pub(crate) fn left(&self) -> f32 {
        self.margin
    }

    /// The width of the content area.
    pub(crate) fn width(&self) -> f32 {
        self.page_width - 2.0 * self.margin
    }

    /// The height of the content area of one page.
    pub(crate) fn content_height(&self) -> f32 {
        self.content_bottom - self.content_top
    }
}

/// The layout cursor and the pages laid out so far.
pub(crate) struct Flow<'f> {
    pub fonts: &'f Fonts,
    pub geo: Geometry,
    pub pages: Vec<Page>,
    /// The top of the next thing to draw on the last page.
    pub y: f32,
    /// Where each heading anchor landed.
    pub anchors: Anchors,
    /// A gap requested by the previous block that replaces the next block's own.
    next_gap: Option<f32>,
}

impl<'f> Flow<'f> {
    /// A flow with one empty page.
    pub(crate) fn new(fonts: &'f Fonts, geo: Geometry) -> Self {
        Flow {
            fonts,
            geo,
            pages: vec![Page::default()],
            y: geo.content_top,
            anchors: Anchors::new(),
            next_gap: None,
        }
    }

    /// The page being filled.
    pub(crate) fn page(&mut self) -> &mut Page {
        self.pages
            .last_mut()
            .expect("a flow always has at least one page")
    }

    /// The index of the page being filled.
    pub(crate) fn page_index(&self) -> usize {
        self.pages.len() - 1
    }

    /// Start a new page.
    pub(crate) fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.y = self.geo.content_top;
        self.next_gap = None;
    }

    /// Whether nothing has been drawn on the current page yet.
    pub(crate) fn at_top(&self) -> bool {
        self.y <= self.geo.content_top + 0.01
    }

    /// Space left on the current page.
    pub(crate) fn remaining(&self) -> f32 {
        self.geo.content_bottom - self.y
    }

    /// Start a new page unless `height` fits here (or the page is still empty).
    pub(crate) fn ensure(&mut self, height: f32) {
        if height > self.remaining() + 0.01 && !self.at_top() {
            self.new_page();
        }
    }

    /// The gap to leave before a block whose own gap is `before`: a heading's
    /// smaller gap wins, and no gap at the top of a page.
    pub(crate) fn gap_for(&self, before: f32) -> f32 {
        if self.at_top() {
            0.0
        } else {
            self.next_gap.unwrap_or(before)
        }
    }

    /// Leave the gap before a block (see [`Flow::gap_for`]).
    pub(crate) fn gap(&mut self, before: f32) {
        self.y += self.gap_for(before);
        self.next_gap = None;
    }

    /// Make the next block's gap `gap`, whatever its own would be.
    pub(crate) fn set_next_gap(&mut self, gap: f32) {
        self.next_gap = Some(gap);
    }
}

/// The running header and footer of every page.
pub(crate) fn draw_furniture(
    pages: &mut [Page],
    fonts: &Fonts,
    geo: &Geometry,
    title: &str,
    subtitle: Option<&str>,
    footer: Option<&str>,
) {
    let size = 8.0;
    let left = geo.left();
    let right = geo.left() + geo.width();
    let bold = TextStyle::new(Face::Bold, size, palette::ACCENT);
    let muted = TextStyle::new(Face::Regular, size, palette::MUTED);
    let total = pages.len();

    let subtitle_w = subtitle.map_or(0.0, |s| fonts.width(Face::Regular, s, size));
    let title = fonts.truncate(
        Face::Bold,
        title,
        size,
        (geo.width() - subtitle_w - 12.0).max(40.0),
    );
    for (i, page) in pages.iter_mut().enumerate() {
        page.text(left, geo.header_baseline, bold, title.clone());
        if let Some(sub) = subtitle {
            page.text(right - subtitle_w, geo.header_baseline, muted, sub);
        }
        page.line(
            left,
            geo.header_rule,
            right,
            geo.header_rule,
            palette::RULE,
            0.5,
        );

        page.line(
            left,
            geo.footer_rule,
            right,
            geo.footer_rule,
            palette::RULE,
            0.5,
        );
        let number = format!("Page {} of {}", i + 1, total);
        let number_w = fonts.width(Face::Regular, &number, size);
        page.text(right - number_w, geo.footer_baseline, muted, number);
        if let Some(text) = footer {
            let text = fonts.truncate(
                Face::Regular,
                text,
                size,
                (geo.width() - number_w - 12.0).max(40.0),
            );
            page.text(left, geo.footer_baseline, muted, text);
        }
    }
}
