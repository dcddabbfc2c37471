//! The YAML front matter between `---` lines at the top of a template.
//!
//! YAML is read with `serde-saphyr`: a maintained, pure-Rust and panic-free
//! YAML reader that reports the line and column of every error (the
//! `serde_yaml` fork family still wraps the unmaintained, C-translated
//! libyaml). Unknown keys are refused, so a typo like `titel:` is an error
//! rather than a silently ignored line.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::error::TemplateError;

/// Variables every template has besides its results and parameters.
pub(crate) const BUILTIN_NAMES: [&str; 5] = ["title", "as_of", "audience", "params", "row"];

/// What the front matter says about a report.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontMatter {
    /// The report title (default: the file name).
    pub title: String,
    /// An optional second line under the title.
    pub subtitle: Option<String>,
    /// Who the report is for, e.g. "leadership".
    pub audience: Option<String>,
    /// The outputs to write (default: both).
    pub formats: Vec<OutputFormat>,
    /// Parameters and their defaults.
    pub params: BTreeMap<String, ParamValue>,
    /// Templated pages: one page per row of a query.
    pub pages: Option<PagesSpec>,
}

/// An output a report can be written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Html,
    Pdf,
}

/// `pages:` — render one page per row of `query`.
///
/// Each page is rendered from `template` (a path relative to this template's
/// folder) or, without it, from this template itself, with the row exposed
/// as `row`; `key` names the column whose value names the page's file
/// (`<key value>.html`, see [`PagesSpec::page_keys`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagesSpec {
    pub query: String,
    #[serde(default)]
    pub template: Option<String>,
    pub key: String,
}

/// A parameter value: a front-matter default or an override.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl ParamValue {
    /// Reads an override given as text (e.g. `--param top_n=5`) in the type
    /// of this default: numbers for a number, `true`/`false` for a boolean,
    /// text otherwise. The word `null` gives NULL whatever the type.
    pub fn parse_like(&self, text: &str) -> Result<ParamValue, String> {
        let t = text.trim();
        if t == "null" {
            return Ok(ParamValue::Null);
        }
        match self {
            ParamValue::Bool(_) => match t {
                "true" => Ok(ParamValue::Bool(true)),
                "false" => Ok(ParamValue::Bool(false)),
                _ => Err(format!("expected true or false, got {text:?}")),
            },
            ParamValue::Int(_) | ParamValue::Float(_) => t
                .parse::<i64>()
                .map(ParamValue::Int)
                .or_else(|_| t.parse::<f64>().map(ParamValue::Float))
                .map_err(|_| format!("expected a number, got {text:?}")),
            ParamValue::Null | ParamValue::Text(_) => Ok(ParamValue::Text(text.to_string())),
        }
    }

    /// The value as a template sees it.
    pub fn to_template_value(&self) -> minijinja::Value {
        use minijinja::Value;
        match self {
            ParamValue::Null => Value::from(()),
            ParamValue::Bool(b) => Value::from(*b),
            ParamValue::Int(i) => Value::from(*i),
            ParamValue::Float(f) => Value::from(*f),
            ParamValue::Text(s) => Value::from(s.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ParamVisitor;
        impl<'de> Visitor<'de> for ParamVisitor {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ParamValue, E> {
                Ok(ParamValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ParamValue, E> {
                Ok(ParamValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ParamValue, E> {
                i64::try_from(v)
                    .map(ParamValue::Int)
                    .or(Ok(ParamValue::Float(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ParamValue, E> {
                Ok(ParamValue::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ParamValue, E> {
                Ok(ParamValue::Text(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ParamValue, E> {
                Ok(ParamValue::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<ParamValue, E> {
                Ok(ParamValue::Null)
            }
        }
        deserializer.deserialize_any(ParamVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrontMatter {
    title: Option<String>,
    subtitle: Option<String>,
    audience: Option<String>,
    formats: Option<Vec<OutputFormat>>,
    #[serde(default)]
    params: BTreeMap<String, ParamValue>,
    pages: Option<PagesSpec>,
}

/// The front matter of `source` and the number of lines it takes (0 when
/// the file has none: then the title is `default_title` and the rest default).
pub(crate) fn parse(
    path: &str,
    source: &str,
    default_title: &str,
) -> Result<(FrontMatter, usize), TemplateError> {
    let lines: Vec<&str> = source
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .collect();
    let opens = lines
        .first()
        .is_some_and(|l| l.trim_start_matches('\u{feff}').trim_end() == "---");
    if !opens {
        let front = FrontMatter {
            title: default_title.to_string(),
            subtitle: None,
            audience: None,
            formats: vec![OutputFormat::Html, OutputFormat::Pdf],
            params: BTreeMap::new(),
            pages: None,
        };
        return Ok((front, 0));
    }
    let Some(close) = lines
        .iter()
        .skip(1)
        .position(|l| matches!(l.trim_end(), "---" | "..."))
        .map(|i| i + 1)
    else {
        return Err(TemplateError::at(
            path,
            source,
            1,
            1,
            3,
            "the front matter is never closed: end it with a line `---`",
        ));
    };
    let yaml = lines[1..close].join("\n");
    let raw: RawFrontMatter = if yaml.trim().is_empty() {
        serde_saphyr::from_str("{}")
    } else {
        serde_saphyr::from_str(&yaml)
    }
    .map_err(|e| yaml_error(path, source, &e))?;
    // Located checks on the values: the key's line is the best place to point at.
    let key_error = |key: &str, message: String| {
        let (line, column) = locate_key(&lines[1..close], key).map_or((1, 1), |(l, c)| (l + 1, c));
        TemplateError::at(path, source, line, column, key.chars().count(), message)
    };
    let formats = raw
        .formats
        .unwrap_or_else(|| vec![OutputFormat::Html, OutputFormat::Pdf]);
    if formats.is_empty() {
        return Err(key_error(
            "formats",
            "formats: list at least one of html, pdf".into(),
        ));
    }
    for name in raw.params.keys() {
        if !is_identifier(name) {
            return Err(key_error(
                name,
                format!("parameter name {name:?} must be a letter or _ followed by letters, digits or _"),
            ));
        }
    }
    let front = FrontMatter {
        title: raw.title.unwrap_or_else(|| default_title.to_string()),
        subtitle: raw.subtitle,
        audience: raw.audience,
        formats,
        params: raw.params,
        pages: raw.pages,
    };
    Ok((front, close + 1))
}

fn yaml_error(path: &str, source: &str, e: &serde_saphyr::Error) -> TemplateError {
    let plain = e.without_snippet().render_with_options(
        serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off },
    );
    // The location is reported separately; drop the reader's own suffix.
    let message = match plain.rfind(" at line ") {
        Some(i) => plain[..i].to_string(),
        None => plain,
    };
    let (line, column) = e
        .location()
        .map_or((1, 1), |l| (l.line() as usize + 1, l.column() as usize));
    TemplateError::at(
        path,
        source,
        line,
        column,
        1,
        format!("front matter: {message}"),
    )
}

/// The 0-based line and 1-based column of `key:` in the YAML lines, if found.
pub(crate) fn locate_key(lines: &[&str], key: &str) -> Option<(usize, usize)> {
    lines.iter().enumerate().find_map(|(i, line)| {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let rest = trimmed.strip_prefix(key)?;
        rest.trim_start()
            .starts_with(':')
            .then(|| (i + 1, line[..indent].chars().count() + 1))
    })
}

/// A SQL-style identifier: a letter or `_`, then letters, digits or `_`.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "---\ntitle: Weekly briefing\naudience: leadership\nformats: [html]\nparams:\n  top_n: 10\n  owner: null\n  ratio: 0.5\n  region: EMEA\n  strict: true\npages:\n  query: at_risk\n  key: deal_id\n---\n# Body\n";

    #[test]
    fn reads_every_field() {
        let (fm, lines) = parse("t.md", FULL, "t").expect("parses");
        assert_eq!(lines, 14);
        assert_eq!(fm.title, "Weekly briefing");
        assert_eq!(fm.audience.as_deref(), Some("leadership"));
        assert_eq!(fm.formats, vec![OutputFormat::Html]);
        assert_eq!(fm.params["top_n"], ParamValue::Int(10));
        assert_eq!(fm.params["owner"], ParamValue::Null);
        assert_eq!(fm.params["ratio"], ParamValue::Float(0.5));
        assert_eq!(fm.params["region"], ParamValue::Text("EMEA".into()));
        assert_eq!(fm.params["strict"], ParamValue::Bool(true));
        let pages = fm.pages.expect("pages");
        assert_eq!(
            (pages.query.as_str(), pages.key.as_str()),
            ("at_risk", "deal_id")
        );
        assert_eq!(pages.template, None);
    }

    #[test]
    fn defaults_without_front_matter() {
        let (fm, lines) = parse("t.md", "# Hi\n", "Pipeline").expect("parses");
        assert_eq!(lines, 0);
        assert_eq!(fm.title, "Pipeline");
        assert_eq!(fm.formats, vec![OutputFormat::Html, OutputFormat::Pdf]);
    }

    #[test]
    fn errors_are_located_in_the_file() {
        let e = parse("t.md", "---\ntitle: x\ntitel: y\n---\n", "t").expect_err("unknown key");
        assert_eq!((e.line, e.column), (3, 1));
        assert!(e.message.contains("unknown field `titel`"), "{}", e.message);
        let e =
            parse("t.md", "---\ntitle: x\nformats: [html, docx]\n---\n", "t").expect_err("format");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("docx"), "{}", e.message);
        let e = parse("t.md", "---\nparams:\n  top_n: [1, 2]\n---\n", "t").expect_err("list param");
        assert_eq!(e.line, 3);
        assert!(
            e.message.contains("string, number, boolean or null"),
            "{}",
            e.message
        );
        let e = parse("t.md", "---\ntitle: x\n", "t").expect_err("unclosed");
        assert_eq!(e.line, 1);
        let e = parse("t.md", "---\nparams:\n  top-n: 1\n---\n", "t").expect_err("bad name");
        assert_eq!((e.line, e.column), (3, 3));
        let e = parse("t.md", "---\nformats: []\n---\n", "t").expect_err("no formats");
        assert_eq!(e.line, 2);
    }

    #[test]
    fn overrides_follow_the_default_type() {
        assert_eq!(ParamValue::Int(10).parse_like("5"), Ok(ParamValue::Int(5)));
        assert_eq!(
            ParamValue::Int(10).parse_like("2.5"),
            Ok(ParamValue::Float(2.5))
        );
        assert!(ParamValue::Int(10).parse_like("ten").is_err());
        assert_eq!(
            ParamValue::Bool(true).parse_like("false"),
            Ok(ParamValue::Bool(false))
        );
        assert_eq!(
            ParamValue::Null.parse_like("Ana"),
            Ok(ParamValue::Text("Ana".into()))
        );
        assert_eq!(
            ParamValue::Text("x".into()).parse_like("null"),
            Ok(ParamValue::Null)
        );
    }
}
