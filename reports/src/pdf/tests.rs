//! End-to-end tests of the PDF writer: render a document that uses every
//! block type, then read it back with poppler's `pdftotext` and check what a
//! reader would see. Skipped (with a message) where poppler is not installed.

#![allow(clippy::print_stderr)] // a skipped check says so

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use super::sample::{cell, deal_rows, sample_document, text};
use super::*;
use crate::document::*;

fn poppler(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("-v")
        .output()
        .map(|o| o.status.success() || !o.stderr.is_empty())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipping: `{tool}` (poppler-utils) is not installed");
    }
    ok
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("revintel-pdf-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

/// The text of each page, as `pdftotext -layout` extracts it.
fn pages_text(pdf: &std::path::Path) -> Vec<String> {
    let out = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("pdftotext writes UTF-8");
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_string).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

#[test]
fn every_block_renders_to_extractable_text() {
    if !poppler("pdftotext") {
        return;
    }
    let doc = sample_document(120);
    let dir = scratch("blocks");
    let path = dir.join("briefing.pdf");
    let summary = write_pdf_atomic(&doc, &path).expect("renders");
    let pages = pages_text(&path);
    assert_eq!(pages.len(), summary.pages);
    assert!(
        summary.pages >= 4,
        "the 120-row table must span pages, got {}",
        summary.pages
    );

    // Running header and footer on every page.
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains("Pipeline briefing — Q4 FY26"),
            "title missing on page {}",
            i + 1
        );
        assert!(
            page.contains("As of 2026-11-23"),
            "subtitle missing on page {}",
            i + 1
        );
        let number = format!("Page {} of {}", i + 1, summary.pages);
        assert!(page.contains(&number), "{number:?} missing");
        assert!(
            page.contains("Confidential"),
            "footer missing on page {}",
            i + 1
        );
    }
    let all = pages.concat();

    // Every table cell, and the header on each page the table spans.
    for row in deal_rows(120) {
        for c in row {
            assert!(all.contains(&c.text), "cell {:?} missing", c.text);
        }
    }
    let table_pages: Vec<&String> = pages.iter().filter(|p| p.contains("D000")).collect();
    assert!(table_pages.len() >= 2);
    for page in &table_pages {
        for h in ["Deal", "Account", "Stage", "Amount", "Win prob."] {
            assert!(
                page.contains(h),
                "table header {h:?} missing on a table page"
            );
        }
    }

    // KPIs, deal card, chart text, code, lists.
    for needle in [
        "$12.4M",
        "$3.91M",
        "37",
        "28.4%",
        "+8.2% vs last quarter",
        "Open pipeline",
        "D0004222 — Acme Corp renewal",
        "Dana Whitfield",
        "78 / 100",
        "Drivers",
        "Suggested actions",
        "41 days in Negotiation, 3.0× the usual",
        "Re-qualify the timeline with the buyer",
        "Open pipeline by stage",
        "Mid-Market",
        "Weekly win rate",
        "Amount (USD)",
        "FROM scored_deals",
        "big & risky",
        "Renewals are on track.",
        "Re-engage the stalled",
        "Appendix",
    ] {
        assert!(all.contains(needle), "{needle:?} missing from the PDF text");
    }
    // Special characters survive as themselves.
    for needle in [
        "<script>alert('x')</script>",
        "| pipes |",
        "A&B",
        "café",
        "naïve",
        "1 200 €",
        "ünïcödé",
    ] {
        assert!(all.contains(needle), "{needle:?} did not survive");
    }

    // Atomic write: nothing but the PDF is left in the folder.
    let names: Vec<String> = fs::read_dir(&dir)
        .expect("dir lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["briefing.pdf".to_string()]);
    assert_eq!(fs::metadata(&path).expect("written").len(), summary.bytes);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn headings_are_never_last_on_a_page() {
    if !poppler("pdftotext") {
        return;
    }
    // Paragraphs that push a heading towards the foot of the page at many offsets.
    for filler in 38..46 {
        let mut blocks: Vec<Block> = (0..filler)
            .map(|i| Block::Paragraph(vec![text(&format!("Filler line {i}."))]))
            .collect();
        blocks.push(Block::Heading {
            level: 2,
            text: vec![text("Kept heading")],
            anchor: None,
        });
        blocks.push(Block::Paragraph(vec![text(
            "First paragraph after the heading.",
        )]));
        let doc = Document {
            title: "T".into(),
            subtitle: None,
            footer: None,
            blocks,
        };
        let bytes = render_pdf(&doc, &PdfOptions::default()).expect("renders");
        let dir = scratch(&format!("keep-{filler}"));
        let path = dir.join("k.pdf");
        fs::write(&path, bytes).expect("writes");
        let pages = pages_text(&path);
        let heading_page = pages
            .iter()
            .position(|p| p.contains("Kept heading"))
            .expect("heading");
        assert!(
            pages[heading_page].contains("First paragraph after the heading."),
            "filler {filler}: heading separated from its paragraph"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}

#[test]
fn empty_and_degenerate_blocks_do_not_panic() {
    let doc = Document {
        title: String::new(),
        subtitle: None,
        footer: None,
        blocks: vec![
            Block::Heading {
                level: 9,
                text: vec![],
                anchor: Some("x".into()),
            },
            Block::Paragraph(vec![]),
            Block::List {
                ordered: true,
                items: vec![],
            },
            Block::Table(Table {
                header: vec![],
                align: vec![],
                rows: vec![],
                caption: None,
            }),
            Block::Table(Table {
                header: vec!["only header".into()],
                align: vec![],
                rows: vec![
                    vec![cell("a"), cell("extra cell beyond the header")],
                    vec![],
                ],
                caption: None,
            }),
            Block::Chart(Chart {
                kind: ChartKind::Line,
                title: "Empty".into(),
                labels: vec![],
                series: vec![],
                y_label: None,
            }),
            Block::Chart(Chart {
                kind: ChartKind::Bar,
                title: "Flat".into(),
                labels: vec!["a".into()],
                series: vec![Series {
                    name: "s".into(),
                    values: vec![0.0],
                }],
                y_label: None,
            }),
            Block::Kpis(vec![]),
            Block::DealCard(DealCard {
                title: String::new(),
                href: None,
                facts: vec![],
                drivers: vec![],
                actions: vec![],
            }),
            Block::Code {
                lang: None,
                text: String::new(),
            },
            Block::Rule,
            Block::PageBreak,
            Block::PageBreak,
            Block::Paragraph(vec![text(&"x".repeat(5000))]),
        ],
    };
    let bytes = render_pdf(&doc, &PdfOptions::default()).expect("renders");
    assert!(bytes.starts_with(b"%PDF-"));
}

#[test]
fn output_is_deterministic() {
    // One options value for both renders: the default is dated now, and two
    // renders on either side of a second's turn rightly differ in their dates.
    let doc = sample_document(10);
    let options = PdfOptions {
        created: 1_751_241_600,
        ..PdfOptions::default()
    };
    let a = render_pdf(&doc, &options).expect("renders");
    let b = render_pdf(&doc, &options).expect("renders");
    assert!(a == b, "two renders of one document differ");
    let later = PdfOptions {
        created: options.created + 1,
        ..PdfOptions::default()
    };
    let c = render_pdf(&doc, &later).expect("renders");
    assert!(a != c, "the creation date is written into the file");
    let trailer = String::from_utf8_lossy(&a[a.len() - 300..]).into_owned();
    assert!(
        trailer.contains("/ID[("),
        "trailer has no file id: {trailer}"
    );
}

#[test]
fn a_bad_font_is_a_typed_error() {
    static NOT_A_FONT: &[u8] = b"definitely not a font";
    let options = PdfOptions {
        font_bold: NOT_A_FONT,
        ..PdfOptions::default()
    };
    let err = render_pdf(&sample_document(3), &options).expect_err("must fail");
    assert!(matches!(err, PdfError::Font { face: "bold", .. }), "{err}");
    assert!(err.to_string().contains("bold font"));
}

#[test]
fn write_errors_name_the_path() {
    // Missing folders are created, so make one impossible: a file in the way.
    let dir = scratch("write-error");
    let blocker = dir.join("revintel-not-a-dir");
    fs::write(&blocker, b"a file").expect("temp dir is writable");
    let path = blocker.join("x/briefing.pdf");
    let err = write_pdf_atomic(&sample_document(3), &path).expect_err("must fail");
    assert!(err.to_string().contains("revintel-not-a-dir"), "{err}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_write_leaves_no_temp_file() {
    let dir = scratch("failed-write");
    // Renaming a file over a non-empty directory fails after the temp file is written.
    let target = dir.join("occupied.pdf");
    fs::create_dir_all(target.join("inside")).expect("dir");
    let err = write_pdf_atomic(&sample_document(3), &target).expect_err("must fail");
    assert!(matches!(err, PdfError::Io { .. }), "{err}");
    let names: Vec<String> = fs::read_dir(&dir)
        .expect("dir lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["occupied.pdf".to_string()]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn fonts_are_subset() {
    let bytes = render_pdf(&sample_document(120), &PdfOptions::default()).expect("renders");
    // Both DejaVu faces whole are ~1.4 MB (~0.7 MB compressed); the subsets are small.
    assert!(bytes.len() < 200_000, "PDF is {} bytes", bytes.len());
}

/// Writes the sample and its pages as PNGs for a visual check:
/// `cargo test -- --ignored --nocapture preview`.
#[test]
#[ignore]
fn preview() {
    let dir = std::env::var_os("PDF_PREVIEW_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("revintel-pdf-preview"));
    fs::create_dir_all(&dir).expect("preview dir");
    let path = dir.join("sample.pdf");
    let summary = write_pdf_atomic(&sample_document(120), &path).expect("renders");
    eprintln!("{}: {summary:?}", path.display());
    if poppler("pdftoppm") {
        let status = Command::new("pdftoppm")
            .args(["-r", "60", "-png"])
            .arg(&path)
            .arg(dir.join("page"))
            .status()
            .expect("pdftoppm runs");
        assert!(status.success());
    }
}
