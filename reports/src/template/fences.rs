//! Named SQL fences: finding them, taking them out of the text to render,
//! and the `$name` parameters they use.
//!
//! A fence whose info string is `sql NAME` (optionally followed by `show`)
//! is a query. Its lines are blanked in the text handed to minijinja, so
//! every line of that text is the same line of the file and template errors
//! need no line map; a `show` fence is kept as a plain `sql` code block,
//! wrapped in `{% raw %}` so its text is never templated. Other fences
//! (including a bare ```` ```sql ````) are ordinary Markdown, templated like
//! the rest of the text.

use std::collections::BTreeMap;

use super::error::TemplateError;
use super::front_matter::{is_identifier, ParamValue};

/// One query of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedQuery {
    /// The name the template uses for its result.
    pub name: String,
    /// The SQL, without the fence (and without the fence's indentation).
    pub sql: String,
    /// The 1-based file line of the SQL's first line.
    pub line: usize,
    /// How many columns the fence was indented: SQL column c is file column c + indent.
    pub indent: usize,
    /// The parameters the SQL uses (`$name`), in order of first use.
    pub params_used: Vec<String>,
    /// Whether the fence said `show` (the SQL appears in the report).
    pub shown: bool,
}

/// A fence opening: its indentation, character, length and info string.
struct Fence<'a> {
    indent: usize,
    ch: char,
    len: usize,
    info: &'a str,
}

fn opening(line: &str) -> Option<Fence<'_>> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let ch = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = rest.len() - rest.trim_start_matches(ch).len();
    let info = rest[len..].trim();
    (len >= 3 && !(ch == '`' && info.contains('`'))).then_some(Fence {
        indent,
        ch,
        len,
        info,
    })
}

fn closes(line: &str, fence: &Fence) -> bool {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return false;
    }
    let run = trimmed.len() - trimmed.trim_start_matches(fence.ch).len();
    run >= fence.len && trimmed[run..].trim().is_empty()
}

/// The queries of `lines` (the file's lines; the first `skip` are front
/// matter) and the text to render: the file with front matter and query
/// fences blanked, line for line.
pub(crate) fn extract(
    path: &str,
    source: &str,
    lines: &[&str],
    skip: usize,
    params: &BTreeMap<String, ParamValue>,
) -> Result<(Vec<NamedQuery>, String), TemplateError> {
    let mut out: Vec<String> = vec![String::new(); skip.min(lines.len())];
    let mut queries: Vec<NamedQuery> = Vec::new();
    let mut i = skip;
    while i < lines.len() {
        let Some(fence) = opening(lines[i]) else {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        };
        let close = (i + 1..lines.len()).find(|&j| closes(lines[j], &fence));
        let words: Vec<&str> = fence.info.split_whitespace().collect();
        let is_query = words.len() >= 2 && words[0].eq_ignore_ascii_case("sql");
        if !is_query {
            let end = close.unwrap_or(lines.len() - 1);
            out.extend(lines[i..=end].iter().map(|l| l.to_string()));
            i = end + 1;
            continue;
        }
        let line_no = i + 1;
        let word_at = |w: &str| {
            // The column of an info-string word, for pointing at it.
            let offset = lines[i].find(w).unwrap_or(0);
            lines[i][..offset].chars().count() + 1
        };
        let name = words[1];
        let fail = |column: usize, width: usize, message: String| {
            TemplateError::at(path, source, line_no, column, width, message)
        };
        if !is_identifier(name) {
            return Err(fail(
                word_at(name),
                name.chars().count(),
                format!(
                    "query name {name:?} must be a letter or _ followed by letters, digits or _"
                ),
            ));
        }
        let mut shown = false;
        for extra in &words[2..] {
            if *extra == "show" && !shown {
                shown = true;
            } else {
                return Err(fail(
                    word_at(extra),
                    extra.chars().count(),
                    format!("unexpected {extra:?} after the query name: a SQL fence is `sql NAME` or `sql NAME show`"),
                ));
            }
        }
        if queries.iter().any(|q| q.name == name) {
            return Err(fail(
                word_at(name),
                name.len(),
                format!("a query named {name:?} is already defined above"),
            ));
        }
        let Some(close) = close else {
            return Err(fail(
                1,
                lines[i].chars().count(),
                format!("the SQL fence of query {name:?} is never closed"),
            ));
        };
        let body: Vec<&str> = lines[i + 1..close]
            .iter()
            .map(|l| {
                let strip = (l.len() - l.trim_start_matches(' ').len()).min(fence.indent);
                &l[strip..]
            })
            .collect();
        let sql = body.join("\n");
        if sql.trim().is_empty() {
            return Err(fail(
                1,
                lines[i].chars().count(),
                format!("query {name:?} has no SQL"),
            ));
        }
        let mut params_used: Vec<String> = Vec::new();
        for usage in scan_params(&sql) {
            let (line, column) = (line_no + 1 + usage.line, fence.indent + usage.column);
            let width = usage.name.chars().count() + 1;
            if usage.name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(TemplateError::at(
                    path,
                    source,
                    line,
                    column,
                    width,
                    format!(
                        "positional parameter ${}: name a parameter declared under `params:` instead",
                        usage.name
                    ),
                ));
            }
            if !params.contains_key(&usage.name) {
                let declared: Vec<&str> = params.keys().map(|s| s.as_str()).collect();
                let known = if declared.is_empty() {
                    "none are declared".to_string()
                } else {
                    format!("declared: {}", declared.join(", "))
                };
                return Err(TemplateError::at(
                    path,
                    source,
                    line,
                    column,
                    width,
                    format!(
                        "unknown parameter ${} ({known} under `params:`)",
                        usage.name
                    ),
                ));
            }
            if !params_used.contains(&usage.name) {
                params_used.push(usage.name);
            }
        }
        queries.push(NamedQuery {
            name: name.to_string(),
            sql,
            line: line_no + 1,
            indent: fence.indent,
            params_used,
            shown,
        });
        if shown {
            let ticks: String = std::iter::repeat_n(fence.ch, fence.len).collect();
            out.push(format!("{{% raw %}}{}{ticks}sql", " ".repeat(fence.indent)));
            out.extend(lines[i + 1..close].iter().map(|l| l.to_string()));
            // `{% endraw %}` goes first: after it, trim_blocks would eat the line break.
            out.push(format!("{{% endraw %}}{}", lines[close]));
        } else {
            out.extend((i..=close).map(|_| String::new()));
        }
        i = close + 1;
    }
    Ok((queries, out.join("\n")))
}

/// A `$name` in SQL: the name (without `$`) and where the `$` is,
/// as a 0-based line and 1-based column within the SQL.
#[derive(Debug, PartialEq, Eq)]
struct ParamUse {
    name: String,
    line: usize,
    column: usize,
}

/// The `$name` (and `$1`) placeholders of `sql`, skipping string literals,
/// quoted identifiers and comments.
fn scan_params(sql: &str) -> Vec<ParamUse> {
    let chars: Vec<char> = sql.chars().collect();
    let mut found = Vec::new();
    let (mut line, mut line_start) = (0usize, 0usize);
    let mut i = 0;
    // Advances past a region ending in `end`, keeping line numbers right.
    let skip_until = |i: &mut usize, end: &str, line: &mut usize, line_start: &mut usize| {
        let end: Vec<char> = end.chars().collect();
        while *i < chars.len() {
            if chars[*i..].starts_with(&end) {
                *i += end.len();
                return;
            }
            if chars[*i] == '\n' {
                *line += 1;
                *line_start = *i + 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                line_start = i + 1;
                i += 1;
            }
            '\'' => {
                i += 1;
                skip_until(&mut i, "'", &mut line, &mut line_start);
            }
            '"' => {
                i += 1;
                skip_until(&mut i, "\"", &mut line, &mut line_start);
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                skip_until(&mut i, "*/", &mut line, &mut line_start);
            }
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                if i > start + 1 {
                    found.push(ParamUse {
                        name: chars[start + 1..i].iter().collect(),
                        line,
                        column: start - line_start + 1,
                    });
                }
            }
            _ => i += 1,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BTreeMap<String, ParamValue> {
        BTreeMap::from([
            ("top_n".to_string(), ParamValue::Int(10)),
            ("owner".to_string(), ParamValue::Null),
        ])
    }

    fn run(src: &str) -> Result<(Vec<NamedQuery>, String), TemplateError> {
        let lines: Vec<&str> = src.split('\n').collect();
        extract("t.md", src, &lines, 0, &params())
    }

    #[test]
    fn finds_queries_with_lines_and_params() {
        let src = "# T\n\n```sql kpis\nSELECT count(*) AS n\nFROM scored_deals\n```\n\ntext\n```sql at_risk show\nSELECT * FROM scored_deals WHERE owner_name = $owner OR $owner IS NULL LIMIT $top_n\n```\n```sql\nSELECT 'not a query'\n```\n";
        let (queries, body) = run(src).expect("parses");
        assert_eq!(queries.len(), 2);
        assert_eq!(queries[0].name, "kpis");
        assert_eq!(queries[0].line, 4);
        assert_eq!(queries[0].sql, "SELECT count(*) AS n\nFROM scored_deals");
        assert!(!queries[0].shown && queries[0].params_used.is_empty());
        assert_eq!(queries[1].line, 10);
        assert!(queries[1].shown);
        assert_eq!(queries[1].params_used, vec!["owner", "top_n"]);
        // Same number of lines; hidden fences blanked, shown fence kept raw.
        assert_eq!(body.split('\n').count(), src.split('\n').count());
        let lines: Vec<&str> = body.split('\n').collect();
        assert_eq!(&lines[2..6], &["", "", "", ""]);
        assert_eq!(lines[8], "{% raw %}```sql");
        assert_eq!(lines[10], "{% endraw %}```");
        assert_eq!(lines[11], "```sql");
    }

    #[test]
    fn params_in_strings_and_comments_are_not_params() {
        let uses = scan_params(
            "SELECT '$nope', \"$col\" -- $x\n/* $y\n */ FROM t WHERE a = $top_n AND b = $1",
        );
        let names: Vec<(&str, usize, usize)> = uses
            .iter()
            .map(|u| (u.name.as_str(), u.line, u.column))
            .collect();
        assert_eq!(names, vec![("top_n", 2, 22), ("1", 2, 37)]);
    }

    #[test]
    fn bad_fences_are_located() {
        let e = run("x\n```sql 1st\nSELECT 1\n```\n").expect_err("bad name");
        assert_eq!((e.line, e.column), (2, 8));
        let e = run("```sql a hide\nSELECT 1\n```\n").expect_err("bad flag");
        assert_eq!((e.line, e.column), (1, 10));
        let e = run("```sql a\nSELECT 1\n```\n```sql a\nSELECT 2\n```\n").expect_err("dup");
        assert_eq!(e.line, 4);
        let e = run("\n```sql a\nSELECT 1\n").expect_err("unclosed");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("never closed"));
        let e = run("```sql a\n   \n```\n").expect_err("empty");
        assert!(e.message.contains("no SQL"));
        let e = run("```sql a\nSELECT 1\nLIMIT $top_m\n```\n").expect_err("unknown param");
        assert_eq!((e.line, e.column, e.width), (3, 7, 6));
        assert!(
            e.message.contains("$top_m") && e.message.contains("owner, top_n"),
            "{}",
            e.message
        );
        let e = run("```sql a\nSELECT $1\n```\n").expect_err("positional");
        assert!(e.message.contains("positional"));
    }

    #[test]
    fn fences_inside_other_fences_are_text() {
        let src = "````markdown\n```sql inner\nSELECT 1\n```\n````\n";
        let (queries, body) = run(src).expect("parses");
        assert!(queries.is_empty());
        assert_eq!(body, src);
    }

    #[test]
    fn indented_fences_strip_their_indent() {
        let (q, _) = run("  ```sql a\n  SELECT\n    $top_n\n  ```\n").expect("parses");
        assert_eq!(q[0].sql, "SELECT\n  $top_n");
        assert_eq!(q[0].indent, 2);
    }
}
