//! The PDF writer: lays a [`Document`] out on A4 (or Letter) pages and
//! writes it with printpdf.
//!
//! Layout is our own, not a browser's: the writer walks the blocks top to
//! bottom, measuring text with the embedded font's real advance widths,
//! wrapping paragraphs and table cells, and starting a new page when the next
//! unbreakable piece does not fit. Every page gets a running header (title,
//! subtitle) and footer (footer text, "Page N of M"). Tables repeat their
//! header row on each page they span; headings are never the last thing on a
//! page; charts, KPI tiles and deal cards are drawn as vector graphics and
//! never split. All text is real text in an embedded, subset DejaVu Sans, so
//! it can be searched, copied and extracted (`pdftotext`).
//!
//! What it deliberately does not do: hyphenation, justification, kerning,
//! right-to-left or complex-script shaping, images, or a table of contents.
//! Output is deterministic: the same document gives the same bytes.

mod blocks;
mod canvas;
mod chart;
mod deal_card;
mod flow;
mod fonts;
mod kpis;
mod ops;
#[cfg(test)]
mod sample;
mod table;
#[cfg(test)]
mod tests;
mod text;

use std::path::{Path, PathBuf};

use printpdf::{FontId, Mm, PdfDocument, PdfFont, PdfPage, PdfSaveOptions};

use crate::document::Document;

use self::flow::{Flow, Geometry, MM};
use self::fonts::Fonts;
use self::ops::OpsContext;

/// DejaVu Sans, shipped in `reports/fonts/` (licence: `fonts/LICENSE-DejaVu.txt`).
const DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
/// DejaVu Sans Bold.
const DEJAVU_SANS_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Why a PDF could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// A font given in [`PdfOptions`] could not be used.
    #[error("cannot use the {face} font: {reason}")]
    Font {
        /// "regular" or "bold".
        face: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// Writing the output file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file being written (the temporary file while writing, else the target).
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The paper size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageSize {
    /// 210 × 297 mm.
    #[default]
    A4,
    /// US Letter, 8.5 × 11 in.
    Letter,
}

impl PageSize {
    /// Width and height in millimetres, portrait.
    pub fn size_mm(self) -> (f32, f32) {
        match self {
            PageSize::A4 => (210.0, 297.0),
            PageSize::Letter => (215.9, 279.4),
        }
    }
}

/// How to render: paper size and the two font faces (TrueType/OpenType bytes).
#[derive(Clone, Copy)]
pub struct PdfOptions {
    /// The paper size; A4 by default.
    pub page: PageSize,
    /// The regular face; DejaVu Sans by default.
    pub font_regular: &'static [u8],
    /// The bold face; DejaVu Sans Bold by default.
    pub font_bold: &'static [u8],
    /// When the document was made, in seconds since 1970-01-01 UTC: its
    /// creation and modification dates. Now, by default.
    pub created: i64,
}

impl Default for PdfOptions {
    fn default() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        PdfOptions {
            page: PageSize::A4,
            font_regular: DEJAVU_SANS,
            font_bold: DEJAVU_SANS_BOLD,
            created: now,
        }
    }
}

impl std::fmt::Debug for PdfOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The font bytes are hundreds of kilobytes: show their size, not their content.
        f.debug_struct("PdfOptions")
            .field("page", &self.page)
            .field(
                "font_regular",
                &format_args!("{} bytes", self.font_regular.len()),
            )
            .field("font_bold", &format_args!("{} bytes", self.font_bold.len()))
            .finish()
    }
}

/// What [`write_pdf_atomic`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfSummary {
    /// Number of pages.
    pub pages: usize,
    /// File size in bytes.
    pub bytes: u64,
}

/// Render `doc` to PDF bytes.
pub fn render_pdf(doc: &Document, options: &PdfOptions) -> Result<Vec<u8>, PdfError> {
    render(doc, options).map(|(bytes, _)| bytes)
}

/// Render `doc` with the default options and write it to `path` atomically:
/// into a temporary file in the same folder, then renamed over `path`, so a
/// reader never sees a half-written PDF and a failure leaves no debris.
pub fn write_pdf_atomic(doc: &Document, path: &Path) -> Result<PdfSummary, PdfError> {
    write_pdf_atomic_with(doc, path, &PdfOptions::default())
}

/// [`write_pdf_atomic`] with `options`.
pub fn write_pdf_atomic_with(
    doc: &Document,
    path: &Path,
    options: &PdfOptions,
) -> Result<PdfSummary, PdfError> {
    let (bytes, pages) = render(doc, options)?;
    utils::fs::write_atomic(path, &bytes).map_err(|source| PdfError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(PdfSummary {
        pages,
        bytes: bytes.len() as u64,
    })
}

/// Lay out, paginate and serialise; returns the bytes and the page count.
fn render(doc: &Document, options: &PdfOptions) -> Result<(Vec<u8>, usize), PdfError> {
    let fonts = Fonts::parse(options.font_regular, options.font_bold)?;
    let (w_mm, h_mm) = options.page.size_mm();
    let geo = Geometry::for_page(w_mm * MM, h_mm * MM);

    let mut flow = Flow::new(&fonts, geo);
    blocks::lay_out_document(doc, &mut flow);
    let Flow {
        mut pages, anchors, ..
    } = flow;
    flow::draw_furniture(
        &mut pages,
        &fonts,
        &geo,
        &doc.title,
        doc.subtitle.as_deref(),
        doc.footer.as_deref(),
    );

    let (used_regular, used_bold) = canvas::used_chars(&pages, &fonts);
    let (regular, bold) = fonts.embeddable(&used_regular, &used_bold);
    let mut pdf = PdfDocument::new(&doc.title);
    pdf.metadata.info.creator = "revintel".to_string();
    pdf.metadata.info.producer = "revintel reports (printpdf 0.12)".to_string();
    // printpdf's default is the epoch: a PDF "made" on 1 January 1970.
    if let Ok(created) = printpdf::OffsetDateTime::from_unix_timestamp(options.created) {
        pdf.metadata.info.creation_date = created;
        pdf.metadata.info.modification_date = created;
        pdf.metadata.info.metadata_date = created;
    }
    if let Some(sub) = &doc.subtitle {
        pdf.metadata.info.subject = sub.clone();
    }
    // Fixed resource names (not printpdf's random ids) keep the output stable.
    let regular_id = FontId("DejaVuSans".to_string());
    let bold_id = FontId("DejaVuSansBold".to_string());
    pdf.resources
        .fonts
        .map
        .insert(regular_id.clone(), PdfFont::new(regular));
    pdf.resources
        .fonts
        .map
        .insert(bold_id.clone(), PdfFont::new(bold));

    let ctx = OpsContext {
        fonts: &fonts,
        regular: &regular_id,
        bold: &bold_id,
        page_height: geo.page_height,
        anchors: &anchors,
    };
    let page_count = pages.len();
    let pdf_pages = pages
        .iter()
        .map(|page| PdfPage::new(Mm(w_mm), Mm(h_mm), ops::to_ops(page, &ctx)))
        .collect();
    let save = PdfSaveOptions {
        optimize: true,
        // Already subset above; printpdf's own subsetting needs its `text_layout` feature.
        subset_fonts: false,
        secure: true,
        image_optimization: None,
    };
    let mut warnings = Vec::new();
    let mut bytes = pdf.with_pages(pdf_pages).save(&save, &mut warnings);
    stable_file_id(&mut bytes);
    Ok((bytes, page_count))
}

/// Replace printpdf's file identifier (drawn from a process-wide counter, so
/// it differs between renders) with one derived from the content: the same
/// document then always gives the same bytes. Both ids are 32 characters and
/// are overwritten in place, so no offset in the cross-reference table moves.
/// Leaves the file alone if the trailer is not in the expected shape.
fn stable_file_id(bytes: &mut [u8]) {
    use std::hash::{Hash, Hasher};
    const ID_LEN: usize = 32;
    let marker = b"/ID[(";
    let Some(start) = bytes
        .windows(marker.len())
        .rposition(|w| w == marker)
        .map(|i| i + marker.len())
    else {
        return;
    };
    let second = start + ID_LEN + 2;
    if bytes.len() < second + ID_LEN + 1
        || &bytes[start + ID_LEN..second] != b")("
        || bytes[second + ID_LEN] != b')'
    {
        return;
    }
    let mut id = String::with_capacity(ID_LEN);
    for salt in 0u8..2 {
        // SipHash with fixed keys: stable for a given build, which is what matters.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        bytes[..start].hash(&mut h);
        id.push_str(&format!("{:016x}", h.finish()));
    }
    bytes[start..start + ID_LEN].copy_from_slice(id.as_bytes());
    bytes[second..second + ID_LEN].copy_from_slice(id.as_bytes());
}
