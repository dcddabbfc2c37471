//! Turning an export's bytes into UTF-8 text, saying how it was done.
//!
//! CRM exports come as UTF-8 (with or without a byte-order mark), as Latin-1
//! / Windows-1252 from older Excel versions, and now and then as UTF-16.
//! A declared encoding is obeyed. Without one (`auto`), valid UTF-8 is taken
//! as it is; a file with invalid bytes is read as Windows-1252 only when it
//! holds *no* valid multi-byte UTF-8 sequence at all — a UTF-8 file with a
//! few damaged bytes stays UTF-8, so its good accents are not turned into
//! mojibake, and the damaged rows are rejected with their line and field.
//! Transcoding keeps every line break, so line numbers still point into the
//! original file.

use std::borrow::Cow;

/// The encoding an import declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    /// UTF-8 when it is, else Windows-1252 (see the module notes).
    #[default]
    Auto,
    /// UTF-8; invalid bytes reject their row.
    Utf8,
    /// Another encoding, by its WHATWG label (`latin1`, `windows-1252`,
    /// `iso-8859-15`, `utf-16le`, …).
    Other(&'static encoding_rs::Encoding),
}

impl TextEncoding {
    /// Reads a declared encoding name.
    pub fn from_label(label: &str) -> Result<TextEncoding, String> {
        match label.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(TextEncoding::Auto),
            "utf-8" | "utf8" => Ok(TextEncoding::Utf8),
            other => encoding_rs::Encoding::for_label(other.as_bytes())
                .map(TextEncoding::Other)
                .ok_or_else(|| {
                    format!(
                        "unknown encoding `{label}`; use auto, utf-8, latin1, windows-1252 or another WHATWG label"
                    )
                }),
        }
    }
}

/// Text ready for the CSV reader, and how it was obtained.
pub struct DecodedText<'a> {
    /// UTF-8, unless the file was taken as UTF-8 despite invalid bytes.
    pub bytes: Cow<'a, [u8]>,
    /// A note for the load report when anything other than plain UTF-8 was read.
    pub note: Option<String>,
    /// Whether `bytes` are known to be valid UTF-8 throughout.
    pub valid_utf8: bool,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decodes `raw` per `declared`.
pub fn decode(raw: &[u8], declared: TextEncoding) -> DecodedText<'_> {
    // A UTF-16 byte-order mark is unambiguous whatever was declared.
    if let Some((enc, _)) = encoding_rs::Encoding::for_bom(raw) {
        if enc != encoding_rs::UTF_8 {
            let (text, _, had_errors) = enc.decode(raw);
            return DecodedText {
                bytes: Cow::Owned(text.into_owned().into_bytes()),
                valid_utf8: true,
                note: Some(format!(
                    "decoded from {}{}",
                    enc.name(),
                    if had_errors {
                        " (some bytes were invalid and became U+FFFD)"
                    } else {
                        ""
                    }
                )),
            };
        }
    }
    let body = raw.strip_prefix(UTF8_BOM).unwrap_or(raw);
    match declared {
        TextEncoding::Utf8 => DecodedText {
            bytes: Cow::Borrowed(body),
            note: None,
            valid_utf8: std::str::from_utf8(body).is_ok(),
        },
        TextEncoding::Other(enc) if enc == encoding_rs::UTF_8 => DecodedText {
            bytes: Cow::Borrowed(body),
            note: None,
            valid_utf8: std::str::from_utf8(body).is_ok(),
        },
        TextEncoding::Other(enc) => transcode(body, enc, format!("decoded from {}", enc.name())),
        TextEncoding::Auto => match std::str::from_utf8(body) {
            Ok(_) => DecodedText {
                bytes: Cow::Borrowed(body),
                note: None,
                valid_utf8: true,
            },
            Err(e) if has_utf8_multibyte(body) => DecodedText {
                bytes: Cow::Borrowed(body),
                valid_utf8: false,
                note: Some(format!(
                    "read as UTF-8 although some bytes are not (first at byte {}); rows holding them are rejected",
                    e.valid_up_to() + 1
                )),
            },
            Err(_) => transcode(
                body,
                encoding_rs::WINDOWS_1252,
                "not UTF-8: decoded as Latin-1 (windows-1252)".into(),
            ),
        },
    }
}

fn transcode<'a>(
    body: &'a [u8],
    enc: &'static encoding_rs::Encoding,
    note: String,
) -> DecodedText<'a> {
    let (text, had_errors) = enc.decode_without_bom_handling(body);
    let note = if had_errors {
        format!("{note} (some bytes were invalid and became U+FFFD)")
    } else {
        note
    };
    DecodedText {
        bytes: match text {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        },
        note: Some(note),
        valid_utf8: true,
    }
}

/// Whether `bytes` hold at least one valid multi-byte UTF-8 sequence.
fn has_utf8_multibyte(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => return !s.is_ascii(),
            Err(e) => {
                let good = &rest[..e.valid_up_to()];
                if !good.is_ascii() {
                    return true;
                }
                let skip = e.valid_up_to() + e.error_len().unwrap_or(rest.len() - e.valid_up_to());
                rest = &rest[skip.min(rest.len())..];
                if rest.is_empty() {
                    return false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(d: &DecodedText<'_>) -> String {
        String::from_utf8(d.bytes.to_vec()).unwrap()
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let d = decode("\u{feff}name\nJosé\n".as_bytes(), TextEncoding::Auto);
        assert_eq!(text(&d), "name\nJosé\n");
        assert!(d.note.is_none());
    }

    #[test]
    fn latin1_is_detected_and_transcoded() {
        let d = decode(b"name\nJos\xe9 M\xfcller\n", TextEncoding::Auto);
        assert_eq!(text(&d), "name\nJosé Müller\n");
        assert!(d.note.unwrap().contains("Latin-1"));
        let d = decode(
            b"name\nJos\xe9\n",
            TextEncoding::from_label("latin1").unwrap(),
        );
        assert_eq!(text(&d), "name\nJosé\n");
    }

    #[test]
    fn damaged_utf8_stays_utf8() {
        let d = decode("name\nJosé\nbad \u{0}".as_bytes(), TextEncoding::Auto);
        assert!(d.note.is_none());
        let mut raw = "name\nJosé\n".as_bytes().to_vec();
        raw.extend_from_slice(b"bad \xff\n");
        let d = decode(&raw, TextEncoding::Auto);
        assert_eq!(&d.bytes[..], &raw[..]);
        assert!(d.note.unwrap().contains("rejected"));
    }

    #[test]
    fn utf16_by_bom() {
        let mut raw = vec![0xFF, 0xFE];
        for u in "a,b\n1,é\n".encode_utf16() {
            raw.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(text(&decode(&raw, TextEncoding::Auto)), "a,b\n1,é\n");
    }

    #[test]
    fn unknown_label_is_refused() {
        assert!(TextEncoding::from_label("klingon").is_err());
    }
}
