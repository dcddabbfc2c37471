//! Inline text: turning `Inline` runs into styled, word-wrapped lines.
//!
//! Wrapping is greedy (fill each line, then break at the last space), which
//! is what readers expect of a report and keeps layout linear. Words are
//! measured with the real advances of the face they are drawn in, so a bold
//! word inside a sentence takes its true width. A word too long for the line
//! on its own (a URL, an id) is broken between characters rather than allowed
//! to run into the margin.

use crate::document::Inline;

use super::canvas::{palette, Color, Page, TextStyle};
use super::fonts::{Face, Fonts};

/// The look of a run of inline text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunStyle {
    pub face: Face,
    pub oblique: bool,
    pub color: Color,
    /// Inline code: drawn on a light grey background.
    pub code: bool,
    /// A link target; the run is clickable.
    pub href: Option<String>,
    /// Underlined, as links in running text are (not in tables, where the
    /// colour is enough and underlines would clutter).
    pub underline: bool,
}

impl RunStyle {
    /// Plain text in `face` and `color`.
    pub(crate) fn plain(face: Face, color: Color) -> Self {
        RunStyle {
            face,
            oblique: false,
            color,
            code: false,
            href: None,
            underline: false,
        }
    }
}

/// A piece of inline content before wrapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Run {
    Text(String, RunStyle),
    Break,
}

/// Flatten `inlines` into runs, starting from `base`.
pub(crate) fn runs(inlines: &[Inline], base: &RunStyle) -> Vec<Run> {
    let mut out = Vec::new();
    collect(inlines, base, &mut out);
    out
}

fn collect(inlines: &[Inline], style: &RunStyle, out: &mut Vec<Run>) {
    for inline in inlines {
        match inline {
            Inline::Text(t) => out.push(Run::Text(t.clone(), style.clone())),
            Inline::Strong(inner) => {
                let s = RunStyle {
                    face: Face::Bold,
                    ..style.clone()
                };
                collect(inner, &s, out);
            }
            Inline::Emphasis(inner) => {
                let s = RunStyle {
                    oblique: true,
                    ..style.clone()
                };
                collect(inner, &s, out);
            }
            Inline::Code(t) => {
                let s = RunStyle {
                    code: true,
                    color: palette::CODE_TEXT,
                    ..style.clone()
                };
                out.push(Run::Text(t.clone(), s));
            }
            Inline::Link { text, href } => {
                let s = RunStyle {
                    color: palette::LINK,
                    href: Some(href.clone()),
                    underline: true,
                    ..style.clone()
                };
                collect(text, &s, out);
            }
            Inline::LineBreak => out.push(Run::Break),
        }
    }
}

/// A stretch of one style within a line; `x` is relative to the line start.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fragment {
    pub x: f32,
    pub width: f32,
    pub text: String,
    pub style: RunStyle,
}

/// One wrapped line.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Line {
    pub fragments: Vec<Fragment>,
    pub width: f32,
}

impl Line {
    fn push(&mut self, text: &str, style: &RunStyle, width: f32) {
        match self.fragments.last_mut() {
            Some(last) if last.style == *style => {
                last.text.push_str(text);
                last.width += width;
            }
            _ => self.fragments.push(Fragment {
                x: self.width,
                width,
                text: text.to_string(),
                style: style.clone(),
            }),
        }
        self.width += width;
    }

    /// The line's text without styling.
    #[cfg(test)]
    pub(crate) fn plain(&self) -> String {
        self.fragments.iter().map(|f| f.text.as_str()).collect()
    }
}

/// Words glued together without a space between them, each part in its own style.
type Word = Vec<(String, RunStyle)>;

enum Token {
    Word(Word),
    Space,
    Break,
}

/// Split runs into words, spaces and forced breaks. Any whitespace is a word
/// separator; control characters are dropped.
fn tokens(runs: &[Run]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word: Word = Vec::new();
    let flush = |word: &mut Word, out: &mut Vec<Token>| {
        if !word.is_empty() {
            out.push(Token::Word(std::mem::take(word)));
        }
    };
    for run in runs {
        match run {
            Run::Break => {
                flush(&mut word, &mut out);
                out.push(Token::Break);
            }
            Run::Text(text, style) => {
                let mut part = String::new();
                for c in text.chars() {
                    if c.is_whitespace() {
                        if !part.is_empty() {
                            word.push((std::mem::take(&mut part), style.clone()));
                        }
                        flush(&mut word, &mut out);
                        if !matches!(out.last(), Some(Token::Space) | None) {
                            out.push(Token::Space);
                        }
                    } else if !c.is_control() {
                        part.push(c);
                    }
                }
                if !part.is_empty() {
                    word.push((part, style.clone()));
                }
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Wrap `runs` at `size` points into lines no wider than `max_width`.
/// Always returns at least one line (possibly empty).
pub(crate) fn wrap(runs: &[Run], fonts: &Fonts, size: f32, max_width: f32) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut line = Line::default();
    let mut pending_space = false;
    for token in tokens(runs) {
        match token {
            Token::Space => pending_space = !line.fragments.is_empty(),
            Token::Break => {
                lines.push(std::mem::take(&mut line));
                pending_space = false;
            }
            Token::Word(word) => {
                let width: f32 = word.iter().map(|(t, s)| fonts.width(s.face, t, size)).sum();
                // A space between two differently styled words is plain, so a
                // code background or link underline never extends over it.
                let space = match (pending_space, line.fragments.last()) {
                    (true, Some(last)) if Some(&last.style) == word.first().map(|w| &w.1) => {
                        Some(last.style.clone())
                    }
                    (true, Some(last)) => Some(RunStyle {
                        code: false,
                        href: None,
                        underline: false,
                        ..last.style.clone()
                    }),
                    _ => None,
                };
                let space_w = space
                    .as_ref()
                    .map_or(0.0, |s| fonts.width(s.face, " ", size));
                if line.width + space_w + width <= max_width {
                    if let Some(s) = &space {
                        line.push(" ", s, space_w);
                    }
                } else if !line.fragments.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                if width <= max_width {
                    for (t, s) in &word {
                        line.push(t, s, fonts.width(s.face, t, size));
                    }
                } else {
                    // Too long for any line: break between characters.
                    for (t, s) in &word {
                        for c in t.chars() {
                            let mut buf = [0u8; 4];
                            let ch = c.encode_utf8(&mut buf);
                            let w = fonts.width(s.face, ch, size);
                            if line.width + w > max_width && !line.fragments.is_empty() {
                                lines.push(std::mem::take(&mut line));
                            }
                            line.push(ch, s, w);
                        }
                    }
                }
                pending_space = false;
            }
        }
    }
    if !line.fragments.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Horizontal placement of a line within its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HAlign {
    Left,
    Right,
    Center,
}

/// The baseline that visually centres a line of `size`-point text in a line
/// box of `line_height` starting at `top`: DejaVu's cap height is 0.73 em.
pub(crate) fn baseline(top: f32, line_height: f32, size: f32) -> f32 {
    top + line_height / 2.0 + 0.365 * size
}

/// A font size and the line height it is set on, in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LineMetrics {
    pub size: f32,
    pub line_height: f32,
}

impl LineMetrics {
    /// `size`-point text on `line_height`-point lines.
    pub(crate) const fn new(size: f32, line_height: f32) -> Self {
        LineMetrics { size, line_height }
    }
}

/// Draw `lines` in a box `width` wide whose first line box starts at `top`.
pub(crate) fn draw_lines(
    page: &mut Page,
    lines: &[Line],
    x: f32,
    top: f32,
    width: f32,
    metrics: LineMetrics,
    align: HAlign,
) {
    let LineMetrics { size, line_height } = metrics;
    for (i, line) in lines.iter().enumerate() {
        let offset = match align {
            HAlign::Left => 0.0,
            HAlign::Right => (width - line.width).max(0.0),
            HAlign::Center => ((width - line.width) / 2.0).max(0.0),
        };
        let line_top = top + i as f32 * line_height;
        draw_line(page, line, x + offset, line_top, size, line_height);
    }
}

/// Draw one line whose box starts at (x, top).
pub(crate) fn draw_line(
    page: &mut Page,
    line: &Line,
    x: f32,
    top: f32,
    size: f32,
    line_height: f32,
) {
    let base = baseline(top, line_height, size);
    for frag in &line.fragments {
        let fx = x + frag.x;
        if frag.text.trim().is_empty() {
            continue;
        }
        if frag.style.code {
            let pad = 1.5;
            page.fill(
                fx - pad,
                base - size * 0.9,
                frag.width + 2.0 * pad,
                size * 1.18,
                palette::CODE_FILL,
            );
        }
        let style = TextStyle {
            face: frag.style.face,
            size,
            color: frag.style.color,
            oblique: frag.style.oblique,
        };
        page.text(fx, base, style, frag.text.clone());
        if let Some(href) = &frag.style.href {
            page.link(fx, top, frag.width, line_height, href);
        }
        if frag.style.underline {
            let uy = base + size * 0.12;
            page.line(fx, uy, fx + frag.width, uy, frag.style.color, 0.4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fonts() -> Fonts {
        let o = crate::pdf::PdfOptions::default();
        Fonts::parse(o.font_regular, o.font_bold).expect("bundled fonts parse")
    }

    fn plain(t: &str) -> Vec<Run> {
        vec![Run::Text(
            t.to_string(),
            RunStyle::plain(Face::Regular, palette::TEXT),
        )]
    }

    #[test]
    fn wraps_at_spaces_within_width() {
        let f = fonts();
        let text = "The quick brown fox jumps over the lazy dog and keeps running far away";
        let lines = wrap(&plain(text), &f, 10.0, 120.0);
        assert!(lines.len() > 2);
        for l in &lines {
            assert!(l.width <= 120.0 + 1e-3, "{} is {}", l.plain(), l.width);
        }
        let joined: Vec<String> = lines.iter().map(|l| l.plain()).collect();
        assert_eq!(joined.join(" "), text);
    }

    #[test]
    fn glued_styles_do_not_split_and_breaks_are_kept() {
        let f = fonts();
        let inl = vec![
            Inline::Text("win".into()),
            Inline::Strong(vec![Inline::Text("rate".into())]),
            Inline::LineBreak,
            Inline::Text("next".into()),
        ];
        let lines = wrap(
            &runs(&inl, &RunStyle::plain(Face::Regular, palette::TEXT)),
            &f,
            10.0,
            500.0,
        );
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].plain(), "winrate");
        assert_eq!(lines[0].fragments.len(), 2);
        assert_eq!(lines[0].fragments[1].style.face, Face::Bold);
    }

    #[test]
    fn overlong_words_break_between_characters() {
        let f = fonts();
        let lines = wrap(&plain(&"x".repeat(200)), &f, 10.0, 100.0);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|l| l.width <= 100.0 + 1e-3));
    }
}
