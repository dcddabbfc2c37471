//! Translating a laid-out page into printpdf operations.
//!
//! This is the one place that knows PDF's bottom-left origin (layout works
//! top-down) and printpdf's operation set. It tracks the graphics state so
//! unchanged fonts, colours and line widths are not re-sent, and so path
//! operators never land inside a text object (`BT`…`ET`). Text is emitted as
//! real text (`Tj` on an embedded Identity-H font with a ToUnicode map),
//! never as outlines, so it stays selectable and extractable.

use std::collections::HashMap;

use printpdf::{
    Actions, BorderArray, ColorArray, Destination, FontId, HighlightingMode, LineDashPattern,
    LineJoinStyle, LinePoint, LinkAnnotation, Op, PaintMode, PdfFontHandle, Point, Polygon,
    PolygonRing, Pt, Rect, TextItem, TextMatrix, WindingOrder,
};

use super::canvas::{Color, Item, Page};
use super::fonts::{Face, Fonts};

/// Where `#anchor` links land: page index (0-based) and y from the top.
pub(crate) type Anchors = HashMap<String, (usize, f32)>;

/// Everything `to_ops` needs besides the page itself.
pub(crate) struct OpsContext<'a> {
    pub fonts: &'a Fonts,
    pub regular: &'a FontId,
    pub bold: &'a FontId,
    pub page_height: f32,
    pub anchors: &'a Anchors,
}

/// Translate a page into printpdf operations.
pub(crate) fn to_ops(page: &Page, ctx: &OpsContext<'_>) -> Vec<Op> {
    let mut ops = Vec::with_capacity(page.items.len() * 4);
    // Round joins so polylines (chart lines) have no spiky corners.
    ops.push(Op::SetLineJoinStyle {
        join: LineJoinStyle::Round,
    });
    let mut w = OpWriter {
        ops,
        h: ctx.page_height,
        in_text: false,
        font: None,
        fill: None,
        stroke: None,
        line_width: None,
        dashed: false,
    };
    for item in &page.items {
        match item {
            Item::Text {
                x,
                y,
                style,
                text,
                vertical,
            } => {
                let metrics = ctx.fonts.face(style.face);
                let drawn: String = text.chars().map(|c| metrics.resolve(c)).collect();
                let id = match style.face {
                    Face::Regular => ctx.regular,
                    Face::Bold => ctx.bold,
                };
                w.begin_text();
                if w.font != Some((style.face, style.size)) {
                    w.ops.push(Op::SetFont {
                        font: PdfFontHandle::External(id.clone()),
                        size: Pt(style.size),
                    });
                    w.font = Some((style.face, style.size));
                }
                w.set_fill(style.color);
                let (px, py) = (*x, w.h - *y);
                let shear = if style.oblique { 0.2 } else { 0.0 };
                let matrix = if *vertical {
                    [0.0, 1.0, -1.0, 0.0, px, py]
                } else {
                    [1.0, 0.0, shear, 1.0, px, py]
                };
                w.ops.push(Op::SetTextMatrix {
                    matrix: TextMatrix::Raw(matrix),
                });
                w.ops.push(Op::ShowText {
                    items: vec![TextItem::Text(drawn)],
                });
            }
            Item::Rect {
                x,
                y,
                w: width,
                h: height,
                fill,
                stroke,
            } => {
                w.end_text();
                let mode = match (fill, stroke) {
                    (Some(_), Some(_)) => PaintMode::FillStroke,
                    (Some(_), None) => PaintMode::Fill,
                    (None, Some(_)) => PaintMode::Stroke,
                    (None, None) => continue,
                };
                if let Some(c) = fill {
                    w.set_fill(*c);
                }
                if let Some((c, lw)) = stroke {
                    w.set_stroke(*c, *lw, false);
                }
                w.ops.push(Op::DrawRectangle {
                    rectangle: Rect {
                        x: Pt(*x),
                        y: Pt(w.h - *y - *height),
                        width: Pt(*width),
                        height: Pt(*height),
                        mode: Some(mode),
                        winding_order: Some(WindingOrder::NonZero),
                    },
                });
            }
            Item::Path {
                points,
                color,
                width,
                dashed,
            } => {
                if points.len() < 2 {
                    continue;
                }
                w.end_text();
                w.set_stroke(*color, *width, *dashed);
                let points = points.iter().map(|(x, y)| w.point(*x, *y, false)).collect();
                w.ops.push(Op::DrawLine {
                    line: printpdf::Line {
                        points,
                        is_closed: false,
                    },
                });
            }
            Item::Circle {
                cx,
                cy,
                r,
                fill,
                stroke,
            } => {
                w.end_text();
                w.set_fill(*fill);
                let mode = match stroke {
                    Some((c, lw)) => {
                        w.set_stroke(*c, *lw, false);
                        PaintMode::FillStroke
                    }
                    None => PaintMode::Fill,
                };
                let ring = circle_points(*cx, *cy, *r)
                    .into_iter()
                    .map(|(x, y, bezier)| w.point(x, y, bezier))
                    .collect();
                w.ops.push(Op::DrawPolygon {
                    polygon: Polygon {
                        rings: vec![PolygonRing { points: ring }],
                        mode,
                        winding_order: WindingOrder::NonZero,
                    },
                });
            }
            Item::Link {
                x,
                y,
                w: width,
                h: height,
                href,
            } => {
                let actions = match href.strip_prefix('#') {
                    Some(anchor) => match ctx.anchors.get(anchor) {
                        Some((page, top)) => Actions::Goto(Destination::Xyz {
                            page: page + 1,
                            left: None,
                            top: Some(w.h - top),
                            zoom: None,
                        }),
                        None => continue, // a dangling anchor is not worth a dead link
                    },
                    None => Actions::Uri(href.clone()),
                };
                let rect = Rect::from_xywh(Pt(*x), Pt(w.h - *y - *height), Pt(*width), Pt(*height));
                w.ops.push(Op::LinkAnnotation {
                    link: LinkAnnotation::new(
                        rect,
                        actions,
                        Some(BorderArray::Solid([0.0, 0.0, 0.0])),
                        Some(ColorArray::Transparent),
                        Some(HighlightingMode::Invert),
                    ),
                });
            }
        }
    }
    w.end_text();
    w.ops
}

/// Emits operations while tracking graphics state, so unchanged fonts and
/// colours are not repeated and path operators never land inside `BT`…`ET`.
struct OpWriter {
    ops: Vec<Op>,
    h: f32,
    in_text: bool,
    font: Option<(Face, f32)>,
    fill: Option<Color>,
    stroke: Option<Color>,
    line_width: Option<f32>,
    dashed: bool,
}

impl OpWriter {
    fn begin_text(&mut self) {
        if !self.in_text {
            self.ops.push(Op::StartTextSection);
            self.in_text = true;
            // Tf is part of the text state but reset per BT by some readers; re-send it.
            self.font = None;
        }
    }

    fn end_text(&mut self) {
        if self.in_text {
            self.ops.push(Op::EndTextSection);
            self.in_text = false;
        }
    }

    fn set_fill(&mut self, c: Color) {
        if self.fill != Some(c) {
            self.ops.push(Op::SetFillColor { col: c.to_pdf() });
            self.fill = Some(c);
        }
    }

    fn set_stroke(&mut self, c: Color, width: f32, dashed: bool) {
        if self.stroke != Some(c) {
            self.ops.push(Op::SetOutlineColor { col: c.to_pdf() });
            self.stroke = Some(c);
        }
        if self.line_width != Some(width) {
            self.ops.push(Op::SetOutlineThickness { pt: Pt(width) });
            self.line_width = Some(width);
        }
        if self.dashed != dashed {
            let dash = if dashed {
                LineDashPattern::new(0.0, &[3.0, 2.0])
            } else {
                LineDashPattern::solid()
            };
            self.ops.push(Op::SetLineDashPattern { dash });
            self.dashed = dashed;
        }
    }

    fn point(&self, x: f32, y: f32, bezier: bool) -> LinePoint {
        LinePoint {
            p: Point {
                x: Pt(x),
                y: Pt(self.h - y),
            },
            bezier,
        }
    }
}

/// A circle as four cubic Béziers: (x, y, is_control_point), starting and
/// ending at the rightmost point.
fn circle_points(cx: f32, cy: f32, r: f32) -> Vec<(f32, f32, bool)> {
    const K: f32 = 0.552_284_8; // control distance for a quarter circle
    let k = K * r;
    vec![
        (cx + r, cy, false),
        (cx + r, cy + k, true),
        (cx + k, cy + r, true),
        (cx, cy + r, false),
        (cx - k, cy + r, true),
        (cx - r, cy + k, true),
        (cx - r, cy, false),
        (cx - r, cy - k, true),
        (cx - k, cy - r, true),
        (cx, cy - r, false),
        (cx + k, cy - r, true),
        (cx + r, cy - k, true),
        (cx + r, cy, false),
    ]
}
