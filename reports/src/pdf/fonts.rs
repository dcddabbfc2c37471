//! The two font faces the PDF writer uses: their advance widths for layout,
//! and a subset of each for embedding.
//!
//! Layout measures text with the font's real advances (`hmtx`), so wrapped
//! lines, right-aligned numbers and centred labels land where the viewer will
//! draw them. No kerning or shaping is applied — printpdf emits one glyph per
//! character at its advance, and measuring the same way keeps the two in step.
//!
//! printpdf 0.12 only subsets fonts with its heavy `text_layout` feature, so
//! the writer subsets itself with `allsorts` (already printpdf's font parser):
//! once the whole document is laid out and every character is known, each
//! face is cut down to those glyphs and the subset, which keeps a Unicode
//! `cmap`, is what printpdf embeds. A DejaVu face is ~0.7 MB; a report's
//! subset is a few tens of kilobytes.

use std::collections::BTreeSet;

use printpdf::ParsedFont;

use super::PdfError;

/// Which of the two embedded faces a piece of text uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Face {
    Regular,
    Bold,
}

impl Face {
    fn name(self) -> &'static str {
        match self {
            Face::Regular => "regular",
            Face::Bold => "bold",
        }
    }
}

/// One parsed face: advance widths (in em) and the full font for subsetting.
pub(crate) struct FaceMetrics {
    parsed: ParsedFont,
    /// Advances of U+0000..U+007F in em, the hot path of every measurement.
    ascii: [f32; 128],
    /// What a character the face lacks is drawn as (U+FFFD, else '?').
    replacement: char,
    units_per_em: f32,
}

impl FaceMetrics {
    fn parse(bytes: &[u8], face: Face) -> Result<Self, PdfError> {
        let mut warnings = Vec::new();
        let parsed =
            ParsedFont::from_bytes(bytes, 0, &mut warnings).ok_or_else(|| PdfError::Font {
                face: face.name(),
                reason: if warnings.is_empty() {
                    "not a TrueType/OpenType font".to_string()
                } else {
                    warnings
                        .iter()
                        .map(|w| w.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            })?;
        if parsed.codepoint_to_glyph.is_empty() || parsed.units_per_em == 0 {
            return Err(PdfError::Font {
                face: face.name(),
                reason: "the font has no Unicode character map".to_string(),
            });
        }
        let units_per_em = f32::from(parsed.units_per_em);
        let replacement = ['\u{FFFD}', '?']
            .into_iter()
            .find(|c| parsed.lookup_glyph_index(*c as u32).is_some())
            .unwrap_or(' ');
        let mut metrics = FaceMetrics {
            parsed,
            ascii: [0.0; 128],
            replacement,
            units_per_em,
        };
        for c in 0u8..128 {
            metrics.ascii[c as usize] = metrics.slow_advance(char::from(c));
        }
        Ok(metrics)
    }

    /// The character actually drawn for `c`: itself if the face has it.
    pub(crate) fn resolve(&self, c: char) -> char {
        if self.parsed.lookup_glyph_index(c as u32).is_some() {
            c
        } else {
            self.replacement
        }
    }

    fn slow_advance(&self, c: char) -> f32 {
        let c = self.resolve(c);
        let gid = self.parsed.lookup_glyph_index(c as u32).unwrap_or(0);
        f32::from(self.parsed.get_glyph_width(gid).unwrap_or(0)) / self.units_per_em
    }

    /// The advance of `c` in em.
    fn advance(&self, c: char) -> f32 {
        if c.is_ascii() {
            self.ascii[c as usize]
        } else {
            self.slow_advance(c)
        }
    }

    /// The width of `text` at `size` points.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }

    /// The face cut down to `used` characters, ready to embed; the full face
    /// if subsetting fails (a bigger file, never a broken one).
    fn embeddable(&self, used: &BTreeSet<char>) -> ParsedFont {
        subset(&self.parsed, used).unwrap_or_else(|| self.parsed.clone())
    }
}

/// Both faces of the document.
pub(crate) struct Fonts {
    regular: FaceMetrics,
    bold: FaceMetrics,
}

impl Fonts {
    /// Parse both faces; an unreadable font is an error naming the face.
    pub(crate) fn parse(regular: &[u8], bold: &[u8]) -> Result<Self, PdfError> {
        Ok(Fonts {
            regular: FaceMetrics::parse(regular, Face::Regular)?,
            bold: FaceMetrics::parse(bold, Face::Bold)?,
        })
    }

    /// The metrics of `face`.
    pub(crate) fn face(&self, face: Face) -> &FaceMetrics {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
        }
    }

    /// The width of `text` in `face` at `size` points.
    pub(crate) fn width(&self, face: Face, text: &str, size: f32) -> f32 {
        self.face(face).width(text, size)
    }

    /// `text` cut to fit `max_width`, ending in an ellipsis when shortened.
    pub(crate) fn truncate(&self, face: Face, text: &str, size: f32, max_width: f32) -> String {
        if self.width(face, text, size) <= max_width {
            return text.to_string();
        }
        let metrics = self.face(face);
        let budget = max_width - metrics.width("…", size);
        let mut used = 0.0;
        let mut out = String::new();
        for c in text.chars() {
            used += metrics.advance(c) * size;
            if used > budget {
                break;
            }
            out.push(c);
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('…');
        out
    }

    /// Both faces, subset to the characters each one draws.
    pub(crate) fn embeddable(
        &self,
        used_regular: &BTreeSet<char>,
        used_bold: &BTreeSet<char>,
    ) -> (ParsedFont, ParsedFont) {
        (
            self.regular.embeddable(used_regular),
            self.bold.embeddable(used_bold),
        )
    }
}

/// Subset `font` to the glyphs of `used`; `None` if allsorts cannot, or if the
/// subset would not map every used character (then the caller embeds it whole).
fn subset(font: &ParsedFont, used: &BTreeSet<char>) -> Option<ParsedFont> {
    use allsorts::binary::read::ReadScope;
    use allsorts::font_data::FontData;
    use allsorts::subset::{subset as cut, CmapTarget, SubsetProfile};
    use allsorts::tag;

    // Glyph 0 (.notdef) must come first; allsorts renumbers in this order.
    let mut glyph_ids: Vec<u16> = used
        .iter()
        .filter_map(|c| font.lookup_glyph_index(*c as u32))
        .filter(|gid| *gid != 0)
        .collect::<BTreeSet<u16>>()
        .into_iter()
        .collect();
    glyph_ids.insert(0, 0);

    let scope = ReadScope::new(&font.original_bytes);
    let data = scope.read::<FontData<'_>>().ok()?;
    let provider = data.table_provider(font.font_index as usize).ok()?;
    // The PDF profile plus OS/2 (printpdf derives /StemV from its weight class).
    let tables = vec![
        tag::CMAP,
        tag::HEAD,
        tag::CVT,
        tag::FPGM,
        tag::HHEA,
        tag::HMTX,
        tag::MAXP,
        tag::NAME,
        tag::OS_2,
        tag::POST,
        tag::PREP,
    ];
    let bytes = cut(
        &provider,
        &glyph_ids,
        &SubsetProfile::Custom(tables),
        CmapTarget::Unicode,
    )
    .ok()?;
    let mut warnings = Vec::new();
    let mut subset = ParsedFont::from_bytes(&bytes, 0, &mut warnings)?;
    subset.font_name = Some(subset_name(&provider, &glyph_ids));
    let complete = used.iter().all(|c| {
        font.lookup_glyph_index(*c as u32).is_none()
            || subset.lookup_glyph_index(*c as u32).is_some()
    });
    complete.then_some(subset)
}

/// The PDF name of a subset face: a six-letter tag derived from the glyphs it
/// holds, '+', and the PostScript name (ISO 32000-1, 9.6.4), so viewers know
/// the embedded program is partial.
fn subset_name(provider: &impl allsorts::tables::FontTableProvider, glyph_ids: &[u16]) -> String {
    use std::hash::{Hash, Hasher};
    let postscript = provider
        .read_table_data(allsorts::tag::NAME)
        .ok()
        .and_then(|data| {
            allsorts::get_name::fontcode_get_name(
                &data,
                allsorts::tables::NameTable::POSTSCRIPT_NAME,
            )
            .ok()
            .flatten()
        })
        .map(|name| {
            name.to_string_lossy()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "Font".to_string());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    glyph_ids.hash(&mut h);
    let mut bits = h.finish();
    let tag: String = (0..6)
        .map(|_| {
            let c = char::from(b'A' + (bits % 26) as u8);
            bits /= 26;
            c
        })
        .collect();
    format!("{tag}+{postscript}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fonts() -> Fonts {
        let options = crate::pdf::PdfOptions::default();
        Fonts::parse(options.font_regular, options.font_bold).expect("bundled fonts parse")
    }

    #[test]
    fn widths_are_real_advances() {
        let f = fonts();
        // DejaVu Sans: 'i' is much narrower than 'W'; bold is wider than regular.
        assert!(f.width(Face::Regular, "i", 10.0) < f.width(Face::Regular, "W", 10.0) / 2.0);
        assert!(f.width(Face::Bold, "revenue", 10.0) > f.width(Face::Regular, "revenue", 10.0));
        let w = f.width(Face::Regular, "0123456789", 10.0);
        assert!(
            (w - 63.6).abs() < 0.5,
            "digits are 0.636 em in DejaVu Sans, got {w}"
        );
        assert_eq!(f.face(Face::Regular).resolve('€'), '€');
        assert_eq!(f.face(Face::Regular).resolve('\u{10FFFD}'), '\u{FFFD}');
    }

    #[test]
    fn truncate_adds_ellipsis_only_when_needed() {
        let f = fonts();
        assert_eq!(f.truncate(Face::Regular, "short", 10.0, 100.0), "short");
        let t = f.truncate(
            Face::Regular,
            "a rather long title for a small box",
            10.0,
            60.0,
        );
        assert!(t.ends_with('…') && f.width(Face::Regular, &t, 10.0) <= 60.0);
    }

    #[test]
    fn subset_keeps_every_used_character() {
        let f = fonts();
        let used: BTreeSet<char> = "Pipeline € é <script> | & 123".chars().collect();
        let sub = subset(&f.regular.parsed, &used).expect("DejaVu subsets");
        assert!(
            sub.original_bytes.len() < 60_000,
            "{} bytes",
            sub.original_bytes.len()
        );
        let name = sub.font_name.clone().expect("subset is named");
        assert!(name.len() == 17 && name.ends_with("+DejaVuSans"), "{name}");
        for c in used {
            assert!(sub.lookup_glyph_index(c as u32).is_some(), "{c:?} missing");
        }
    }
}
