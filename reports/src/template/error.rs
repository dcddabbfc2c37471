//! Located template errors, shown like a compiler diagnostic.

use std::fmt;

/// A problem in a template file, with where it is.
///
/// `line` and `column` are 1-based (the column counts characters); `line`
/// is 0 when the problem concerns the whole file (e.g. it cannot be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// The template's path as given to [`Template::parse`](super::Template::parse).
    pub path: String,
    pub line: usize,
    pub column: usize,
    /// How many characters to underline, at least 1.
    pub width: usize,
    /// What is wrong, for the person at the terminal.
    pub message: String,
    /// The offending line of the file, when there is one.
    pub source_line: Option<String>,
}

impl TemplateError {
    /// An error at `line`:`column` of `source` (the file's text).
    pub fn at(
        path: &str,
        source: &str,
        line: usize,
        column: usize,
        width: usize,
        message: impl Into<String>,
    ) -> TemplateError {
        let source_line = line
            .checked_sub(1)
            .and_then(|i| source.lines().nth(i))
            .map(|l| l.trim_end_matches('\r').to_string());
        TemplateError {
            path: path.to_string(),
            line,
            column: column.max(1),
            width: width.max(1),
            message: message.into(),
            source_line,
        }
    }

    /// An error about the file as a whole.
    pub fn whole_file(path: &str, message: impl Into<String>) -> TemplateError {
        TemplateError {
            path: path.to_string(),
            line: 0,
            column: 0,
            width: 1,
            message: message.into(),
            source_line: None,
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: error: {}", self.path, self.message);
        }
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.path, self.line, self.column, self.message
        )?;
        if let Some(text) = &self.source_line {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            // Keep tabs under tabs so the caret lines up in a terminal.
            let lead: String = text
                .chars()
                .take(self.column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let available = text.chars().count().saturating_sub(self.column - 1);
            let carets = "^".repeat(self.width.min(available.max(1)));
            write!(f, "\n{pad} |\n{gutter} | {text}\n{pad} | {lead}{carets}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TemplateError {}

/// The 1-based line and character column of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_compiler() {
        let src = "a\n\n{{ x | monye }}\n";
        let e = TemplateError::at("templates/x.md", src, 3, 8, 5, "unknown filter \"monye\"");
        assert_eq!(
            e.to_string(),
            "templates/x.md:3:8: error: unknown filter \"monye\"\n  |\n3 | {{ x | monye }}\n  |        ^^^^^"
        );
        let e = TemplateError::whole_file("t.md", "cannot read");
        assert_eq!(e.to_string(), "t.md: error: cannot read");
    }

    #[test]
    fn finds_line_and_column() {
        assert_eq!(line_column("ab\ncdé f", 7), (2, 4));
        assert_eq!(line_column("x", 0), (1, 1));
    }
}
