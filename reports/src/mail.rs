//! A report as an email body: an HTML part made for mail clients and a
//! plain-text part, from the same [`Document`] the HTML and PDF writers use.
//!
//! Mail clients are not browsers: they drop `<style>` blocks and scripts,
//! ignore inline SVG and show relative links as broken. So the mail HTML
//! carries every style inline, has no script and no image at all, and turns
//! each chart into a small table of its figures (or, when it has too many
//! points to read in a mail, a line saying it is in the attached PDF).
//! Relative links (a deal's page) become absolute under
//! [`MailOptions::link_base`] when one is set, and plain text otherwise. Text
//! is escaped as it is written, exactly as in the page writer.

mod html;
mod text;

pub use html::mail_html;
pub use text::mail_text;

/// How a report is turned into mail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MailOptions {
    /// Where the report's pages are served (`https://revintel.example/`),
    /// so that relative links can be made absolute; without it they are
    /// written as text.
    pub link_base: Option<String>,
    /// The attached PDF's file name, named where a chart is left to it.
    pub pdf_name: Option<String>,
}

/// Most chart points written out as a table in a mail; a longer chart is
/// left to the PDF.
pub const MAX_CHART_ROWS: usize = 16;

impl MailOptions {
    /// The absolute target of `href`, or None when it cannot be linked from
    /// a mail (relative with no base, or a scheme a report may not link to).
    pub(crate) fn target(&self, href: &str) -> Option<String> {
        let href = crate::html::safe_href(href)?;
        if href.contains("://") || href.starts_with("mailto:") {
            return Some(href.to_string());
        }
        let base = self.link_base.as_deref()?;
        Some(format!(
            "{}/{}",
            base.trim_end_matches('/'),
            href.trim_start_matches("./").trim_start_matches('/')
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Block, Chart, ChartKind, Document, Inline, Series};

    fn doc(blocks: Vec<Block>) -> Document {
        Document {
            title: "T <b>".into(),
            subtitle: None,
            footer: None,
            blocks,
        }
    }

    fn chart(points: usize) -> Block {
        Block::Chart(Chart {
            kind: ChartKind::Line,
            title: "Revenue".into(),
            labels: (0..points).map(|i| format!("w{i}")).collect(),
            series: vec![Series {
                name: "P50".into(),
                values: (0..points).map(|i| 1000.0 * i as f64).collect(),
            }],
            y_label: None,
        })
    }

    #[test]
    fn a_short_chart_becomes_its_figures_and_a_long_one_points_to_the_pdf() {
        let options = MailOptions {
            link_base: None,
            pdf_name: Some("b.pdf".into()),
        };
        let short = mail_html(&doc(vec![chart(3)]), &options);
        assert!(
            short.contains("<td style=\"") && short.contains(">2,000</td>"),
            "{short}"
        );
        assert!(!short.contains("<svg") && !short.contains("<img"));
        let long = mail_html(&doc(vec![chart(MAX_CHART_ROWS + 1)]), &options);
        assert!(long.contains("Chart: Revenue (17 points) — see the attached b.pdf."));
        assert!(!long.contains("<table"));
        let text = mail_text(&doc(vec![chart(3)]));
        assert!(text.contains("w2  2,000"), "{text}");
    }

    #[test]
    fn links_are_absolute_under_the_base_or_dropped() {
        let link = |href: &str| {
            Block::Paragraph(vec![Inline::Link {
                text: vec![Inline::Text("deal".into())],
                href: href.into(),
            }])
        };
        let blocks = vec![link("deal/D1.html"), link("javascript:alert(1)")];
        let none = mail_html(&doc(blocks.clone()), &MailOptions::default());
        assert!(!none.contains("<a "), "{none}");
        let based = mail_html(
            &doc(blocks),
            &MailOptions {
                link_base: Some("https://r.example/reports/".into()),
                pdf_name: None,
            },
        );
        assert!(based.contains("href=\"https://r.example/reports/deal/D1.html\""));
        assert!(!based.contains("javascript"));
        assert!(based.contains("<title>T &lt;b&gt;</title>"));
    }
}
