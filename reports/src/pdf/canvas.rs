//! A page as a list of positioned drawing items (translated to printpdf
//! operations by `ops`), and the palette they are drawn in.
//!
//! Layout works top-down in points with the origin at the page's top-left
//! corner, as one reads; PDF's origin is bottom-left. Keeping our own small
//! display list (text, rectangles, paths, circles, links) lets the layout code
//! ignore that flip, lets headers be added once the page count is known, and
//! gives one place that knows which characters each face draws (for
//! subsetting). Text is always emitted as real text (`Tj` on an embedded
//! font), never as outlines, so it stays selectable and extractable.

use std::collections::BTreeSet;

use super::fonts::{Face, Fonts};

/// An RGB colour with components in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Color(pub f32, pub f32, pub f32);

impl Color {
    /// The printpdf colour.
    pub(crate) fn to_pdf(self) -> printpdf::Color {
        printpdf::Color::Rgb(printpdf::Rgb::new(self.0, self.1, self.2, None))
    }
}

/// The palette: a restrained navy-and-grey scheme with green/red for change.
pub(crate) mod palette {
    use super::Color;
    pub(crate) const TEXT: Color = Color(0.13, 0.15, 0.19);
    pub(crate) const MUTED: Color = Color(0.42, 0.45, 0.50);
    pub(crate) const ACCENT: Color = Color(0.10, 0.23, 0.42);
    pub(crate) const LINK: Color = Color(0.08, 0.36, 0.72);
    pub(crate) const RULE: Color = Color(0.78, 0.80, 0.84);
    pub(crate) const BORDER: Color = Color(0.82, 0.84, 0.87);
    pub(crate) const HEADER_FILL: Color = Color(0.89, 0.92, 0.96);
    pub(crate) const ZEBRA: Color = Color(0.965, 0.972, 0.982);
    pub(crate) const CODE_FILL: Color = Color(0.95, 0.955, 0.96);
    pub(crate) const CODE_TEXT: Color = Color(0.20, 0.22, 0.26);
    pub(crate) const GRID: Color = Color(0.88, 0.89, 0.91);
    pub(crate) const AXIS: Color = Color(0.55, 0.58, 0.62);
    pub(crate) const GOOD: Color = Color(0.09, 0.52, 0.29);
    pub(crate) const BAD: Color = Color(0.77, 0.19, 0.16);
    pub(crate) const WHITE: Color = Color(1.0, 1.0, 1.0);
    /// Series colours, distinguishable in print and for common colour blindness.
    pub(crate) const SERIES: [Color; 6] = [
        Color(0.16, 0.36, 0.62),
        Color(0.93, 0.55, 0.17),
        Color(0.22, 0.60, 0.55),
        Color(0.60, 0.38, 0.65),
        Color(0.80, 0.30, 0.30),
        Color(0.50, 0.52, 0.55),
    ];
}

/// How a run of text looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TextStyle {
    pub face: Face,
    pub size: f32,
    pub color: Color,
    /// Slanted by a text-matrix shear: DejaVu Sans Oblique is not embedded.
    pub oblique: bool,
}

impl TextStyle {
    /// A style in `face` at `size` points and `color`, upright.
    pub(crate) fn new(face: Face, size: f32, color: Color) -> Self {
        TextStyle {
            face,
            size,
            color,
            oblique: false,
        }
    }
}

/// One thing drawn on a page; coordinates in points from the top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// Text with its baseline starting at (x, y); `vertical` reads bottom to top.
    Text {
        x: f32,
        y: f32,
        style: TextStyle,
        text: String,
        vertical: bool,
    },
    /// A rectangle with top-left corner (x, y).
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Color>,
        stroke: Option<(Color, f32)>,
    },
    /// An open polyline.
    Path {
        points: Vec<(f32, f32)>,
        color: Color,
        width: f32,
        dashed: bool,
    },
    /// A filled circle, optionally outlined.
    Circle {
        cx: f32,
        cy: f32,
        r: f32,
        fill: Color,
        stroke: Option<(Color, f32)>,
    },
    /// A clickable area: `#anchor` jumps within the document, anything else is a URI.
    Link {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        href: String,
    },
}

/// One laid-out page.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Page {
    pub items: Vec<Item>,
}

impl Page {
    /// Draw `text` with its baseline starting at (x, y).
    pub(crate) fn text(&mut self, x: f32, y: f32, style: TextStyle, text: impl Into<String>) {
        let text = text.into();
        if !text.is_empty() {
            self.items.push(Item::Text {
                x,
                y,
                style,
                text,
                vertical: false,
            });
        }
    }

    /// Draw `text` rotated to read upwards, its baseline starting at (x, y).
    pub(crate) fn text_up(&mut self, x: f32, y: f32, style: TextStyle, text: impl Into<String>) {
        self.items.push(Item::Text {
            x,
            y,
            style,
            text: text.into(),
            vertical: true,
        });
    }

    /// Fill a rectangle.
    pub(crate) fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, color: Color) {
        self.items.push(Item::Rect {
            x,
            y,
            w,
            h,
            fill: Some(color),
            stroke: None,
        });
    }

    /// Outline a rectangle.
    pub(crate) fn frame(&mut self, x: f32, y: f32, w: f32, h: f32, color: Color, width: f32) {
        self.items.push(Item::Rect {
            x,
            y,
            w,
            h,
            fill: None,
            stroke: Some((color, width)),
        });
    }

    /// A straight line.
    pub(crate) fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, color: Color, width: f32) {
        self.items.push(Item::Path {
            points: vec![(x1, y1), (x2, y2)],
            color,
            width,
            dashed: false,
        });
    }

    /// A clickable area.
    pub(crate) fn link(&mut self, x: f32, y: f32, w: f32, h: f32, href: &str) {
        self.items.push(Item::Link {
            x,
            y,
            w,
            h,
            href: href.to_string(),
        });
    }
}

/// The characters each face draws across `pages`, after glyph fallback.
pub(crate) fn used_chars(pages: &[Page], fonts: &Fonts) -> (BTreeSet<char>, BTreeSet<char>) {
    let mut regular = BTreeSet::new();
    let mut bold = BTreeSet::new();
    for item in pages.iter().flat_map(|p| &p.items) {
        if let Item::Text { style, text, .. } = item {
            let set = match style.face {
                Face::Regular => &mut regular,
                Face::Bold => &mut bold,
            };
            let metrics = fonts.face(style.face);
            set.extend(text.chars().map(|c| metrics.resolve(c)));
        }
    }
    (regular, bold)
}
