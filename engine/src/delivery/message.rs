//! One delivery message: a plain-text part, an HTML part made for mail
//! clients, and the PDF attached under its file name (lettre builds the
//! MIME; headers are encoded by it, and the subject has already lost any
//! line break, see `reports::template::render_line`).

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;

/// What goes into one message.
#[derive(Debug, Clone)]
pub struct Parts {
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    /// The HTML body, when the delivery sends one.
    pub html: Option<String>,
    /// The attached PDF: file name and bytes.
    pub pdf: Option<(String, Vec<u8>)>,
}

pub fn compose(parts: Parts) -> Result<Message, String> {
    let mailbox = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| format!("{a:?} is not an email address ({e})"))
    };
    let mut builder = Message::builder()
        .from(mailbox(&parts.from)?)
        .subject(parts.subject)
        .message_id(Some(parts.message_id))
        .date_now();
    for a in &parts.to {
        builder = builder.to(mailbox(a)?);
    }
    for a in &parts.cc {
        builder = builder.cc(mailbox(a)?);
    }
    for a in &parts.bcc {
        builder = builder.bcc(mailbox(a)?);
    }
    let body = match parts.html {
        Some(html) => MultiPart::alternative_plain_html(parts.text, html),
        None => MultiPart::alternative().singlepart(SinglePart::plain(parts.text)),
    };
    let message = match parts.pdf {
        Some((name, bytes)) => builder.multipart(MultiPart::mixed().multipart(body).singlepart(
            Attachment::new(name).body(
                bytes,
                ContentType::parse("application/pdf").expect("a valid content type"),
            ),
        )),
        None => builder.multipart(body),
    };
    message.map_err(|e| e.to_string())
}
