//! Turning minijinja's errors into located, plain-spoken [`TemplateError`]s.
//!
//! minijinja reports a byte range in the text it rendered; that text has
//! the same lines as the file (see `fences`), so the range maps straight
//! to a file line and column. On top of that this module names the unknown
//! filter or function (with a "did you mean"), says what an undefined name
//! could have been, and points an unclosed `{% for %}` at its opening tag
//! rather than at the end of the file where minijinja notices it.

use minijinja::{Error, ErrorKind};

use super::error::{line_column, TemplateError};
use super::front_matter::BUILTIN_NAMES;
use super::Template;

/// The filters a template can use (ours, then minijinja's), for suggestions.
const FILTERS: &[&str] = &[
    "money",
    "pct",
    "delta",
    "date",
    "round",
    "number",
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "count",
    "default",
    "d",
    "dictsort",
    "escape",
    "e",
    "first",
    "float",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
];

/// The functions a template can call, for suggestions.
const FUNCTIONS: &[&str] = &[
    "table",
    "bar_chart",
    "line_chart",
    "kpi",
    "deal_card",
    "page_break",
    "range",
    "dict",
    "namespace",
    "debug",
];

/// The located error for minijinja error `err` in `template`.
pub(crate) fn locate(template: &Template, err: &Error) -> TemplateError {
    let body = template.body();
    let range = err
        .range()
        .filter(|r| r.start <= r.end && r.end <= body.len());
    let span = range.clone().and_then(|r| body.get(r)).unwrap_or("");
    let (mut line, mut column) = match &range {
        Some(r) => line_column(body, r.start),
        None => (err.line().unwrap_or(0), 1),
    };
    let mut width = span.split('\n').next().map_or(1, |s| s.chars().count());
    let detail = err.detail().unwrap_or("");
    // Narrows the underline to `word` inside the span, when it is there.
    let mut narrow_to = |word: &str, column: &mut usize| {
        if let Some(pos) = find_word(span, word) {
            if !span[..pos].contains('\n') {
                *column += span[..pos].chars().count();
                width = word.chars().count();
            }
        }
    };
    let message = match err.kind() {
        ErrorKind::UnknownFilter => {
            let name = detail
                .strip_prefix("filter ")
                .and_then(|d| d.strip_suffix(" is unknown"))
                .unwrap_or(detail);
            narrow_to(name, &mut column);
            format!(
                "unknown filter \"{name}\"{}",
                suggestion(name, FILTERS.iter().copied())
            )
        }
        ErrorKind::UnknownFunction => {
            let name = detail.strip_suffix(" is unknown").unwrap_or(detail);
            narrow_to(name, &mut column);
            format!(
                "unknown function \"{name}\"{}",
                suggestion(name, FUNCTIONS.iter().copied())
            )
        }
        ErrorKind::UndefinedError => {
            let (expr, prefix) = match detail
                .strip_prefix('`')
                .and_then(|d| d.split_once("` is undefined"))
            {
                Some((expr, _)) => (expr.to_string(), String::new()),
                // A component given an undefined argument: name the argument.
                None => {
                    let arg = first_argument(span).unwrap_or_else(|| span.trim().to_string());
                    let function = detail.split(':').next().unwrap_or("").trim();
                    narrow_to(&arg, &mut column);
                    (arg, format!("{function}: "))
                }
            };
            format!("{prefix}{}", undefined_message(template, &expr))
        }
        ErrorKind::SyntaxError if detail.starts_with("unexpected end of input") => {
            match unclosed_block(body) {
                Some((offset, len, tag)) => {
                    (line, column) = line_column(body, offset);
                    width = len;
                    format!("`{{% {tag} %}}` is never closed: add a matching `{{% end{tag} %}}`")
                }
                None => format!("syntax error: {detail}"),
            }
        }
        ErrorKind::SyntaxError => format!("syntax error: {detail}"),
        ErrorKind::InvalidOperation if !detail.is_empty() => detail.to_string(),
        kind if detail.is_empty() => kind.to_string(),
        kind => format!("{kind}: {detail}"),
    };
    if line == 0 {
        return TemplateError::whole_file(template.path(), message);
    }
    TemplateError::at(
        template.path(),
        template.source(),
        line,
        column,
        width,
        message,
    )
}

/// What an undefined `expr` (`name` or `name.field…`) could have been.
fn undefined_message(template: &Template, expr: &str) -> String {
    let base = expr.split(['.', '[']).next().unwrap_or(expr).trim();
    let queries: Vec<&str> = template.queries().iter().map(|q| q.name.as_str()).collect();
    let params: Vec<&str> = template
        .front_matter()
        .params
        .keys()
        .map(|s| s.as_str())
        .collect();
    if base != expr {
        let field = expr[base.len()..].trim_start_matches(['.', '[']);
        if queries.contains(&base) {
            return format!(
                "\"{expr}\" is undefined: a query result has .rows, .columns and .row_count"
            );
        }
        if FUNCTIONS.contains(&base) {
            return format!(
                "\"{expr}\" is undefined: \"{base}\" is a function, not a query result{}",
                suggestion(base, queries.iter().copied())
            );
        }
        return format!("\"{expr}\" is undefined: \"{base}\" has no field \"{field}\"");
    }
    let list = |names: &[&str]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let candidates = queries
        .iter()
        .chain(&params)
        .chain(BUILTIN_NAMES.iter())
        .copied();
    format!(
        "\"{base}\" is undefined: no query, parameter or variable has that name{} (queries: {}; parameters: {})",
        suggestion(base, candidates),
        list(&queries),
        list(&params)
    )
}

/// `; did you mean "x"?` for the closest candidate within a small edit distance.
fn suggestion<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| format!("; did you mean \"{c}\"?"))
        .unwrap_or_default()
}

/// Edits (insert, delete, substitute, swap neighbours) between `a` and `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The byte position of `word` in `text` as a whole identifier.
fn find_word(text: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The first argument of a call such as `table(at_rsk, limit=3)`.
fn first_argument(call: &str) -> Option<String> {
    let inner = &call[call.find('(')? + 1..];
    let mut depth = 0i32;
    let end = inner
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth > 0 => depth -= 1,
                ',' | ')' if depth == 0 => return true,
                _ => {}
            }
            false
        })
        .map_or(inner.len(), |(i, _)| i);
    let arg = inner[..end].trim();
    (!arg.is_empty()).then(|| arg.to_string())
}

/// The innermost block tag left open at the end of `body`: its byte offset,
/// length in characters and tag name.
fn unclosed_block(body: &str) -> Option<(usize, usize, String)> {
    const OPENERS: [&str; 8] = [
        "for",
        "if",
        "macro",
        "call",
        "filter",
        "with",
        "block",
        "autoescape",
    ];
    let mut open: Vec<(usize, usize, String)> = Vec::new();
    let mut i = 0;
    while let Some(found) = body[i..].find('{') {
        let at = i + found;
        let rest = &body[at..];
        if rest.starts_with("{#") {
            i = rest.find("#}").map_or(body.len(), |e| at + e + 2);
            continue;
        }
        if !rest.starts_with("{%") {
            i = at + 1;
            continue;
        }
        // Searched after the opening `{%`, so `{%}` is not taken as a whole tag.
        let Some(end) = rest[2..].find("%}").map(|e| e + 2) else {
            break;
        };
        let inside = rest[2..end].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let name: String = inside
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        i = at + end + 2;
        let len = rest[..end + 2].chars().count();
        if name == "raw" {
            // Nothing inside raw is a tag.
            i = body[i..].find("endraw").map_or(body.len(), |e| i + e);
        } else if OPENERS.contains(&name.as_str()) || (name == "set" && !inside.contains('=')) {
            open.push((at, len, name));
        } else if let Some(opened) = name.strip_prefix("end") {
            if let Some(pos) = open.iter().rposition(|(_, _, n)| n == opened) {
                open.truncate(pos);
            }
        }
    }
    open.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            suggestion("monye", FILTERS.iter().copied()),
            "; did you mean \"money\"?"
        );
        assert_eq!(
            suggestion("tabel", FUNCTIONS.iter().copied()),
            "; did you mean \"table\"?"
        );
        assert_eq!(suggestion("zzzzzz", FILTERS.iter().copied()), "");
    }

    #[test]
    fn finds_the_unclosed_tag() {
        let body = "{% for a in b %}{% if x %}{% endif %}\n{# {% for %} #}\n  {%- for c in d %}\n";
        let (offset, len, tag) = unclosed_block(body).expect("unclosed");
        assert_eq!(tag, "for");
        assert_eq!(&body[offset..offset + len], "{%- for c in d %}");
        assert!(unclosed_block("{% for a in b %}{% endfor %}{% set x = 1 %}").is_none());
        assert!(unclosed_block("{% raw %}{% for %}{% endraw %}").is_none());
    }

    #[test]
    fn reads_first_arguments() {
        assert_eq!(
            first_argument("table(at_rsk, limit=3)").as_deref(),
            Some("at_rsk")
        );
        assert_eq!(
            first_argument("kpi(f(a, b), 'x')").as_deref(),
            Some("f(a, b)")
        );
        assert_eq!(first_argument("page_break()"), None);
    }
}
