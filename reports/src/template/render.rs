//! Rendering a parsed template: the minijinja environment, the variables a
//! template sees, and the Markdown escaping of interpolated values.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use minijinja::{
    escape_formatter, AutoEscape, Environment, Error, Output, State, UndefinedBehavior, Value,
};

use super::diagnostics;
use super::error::TemplateError;
use super::front_matter::ParamValue;
use super::Template;
use crate::document::Document;
use crate::results::{QueryResult, ResultObject};

/// Query results by query name.
pub type Results = BTreeMap<String, Arc<QueryResult>>;

/// Parameter values by name.
pub type Params = BTreeMap<String, ParamValue>;

/// What a render needs besides the template, its results and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderContext {
    /// The as-of date of the data, exposed as `as_of` ("2026-11-23").
    pub as_of: NaiveDate,
    /// For a templated page: the row it is for, exposed as `row`.
    pub page_row: Option<PageRow>,
}

/// One row of a result, by query name and 0-based row index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRow {
    pub query: String,
    pub index: usize,
}

/// The auto-escape mode of every report template.
const MARKDOWN: &str = "markdown";

/// The environment templates render in: strict about undefined names,
/// escaping interpolated values for Markdown, with the report filters and
/// components.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Custom(MARKDOWN.into()));
    env.set_formatter(markdown_formatter);
    // Block tags on their own line leave no blank line behind, so
    // `{% for %}` … `{% endfor %}` around list items still makes one list.
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    crate::filters::register(&mut env);
    crate::components::register(&mut env);
    env
}

/// Writes a value into the Markdown being generated. Safe strings (what
/// components return, or `| safe`) go in as they are; NULL reads "—";
/// everything else is escaped so that it reads as literal text.
fn markdown_formatter(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    match state.auto_escape() {
        AutoEscape::Custom(name) if name == MARKDOWN => {
            let text = if value.is_safe() {
                value
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| value.to_string())
            } else if value.is_none() {
                crate::filters::MISSING.to_string()
            } else {
                escape_markdown(&value.to_string())
            };
            out.write_str(&text).map_err(Error::from)
        }
        _ => escape_formatter(out, state, value),
    }
}

/// Makes `text` read literally in Markdown: every ASCII punctuation
/// character is backslash-escaped (CommonMark lets any of them be), and line
/// breaks and tabs become spaces so a value can never start a new block.
/// Inside code spans and fences backslashes show, so interpolate there
/// only trusted text.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Renders the template to Markdown (components as fenced JSON blocks).
pub fn render_markdown(
    template: &Template,
    results: &Results,
    params: &Params,
    context: &RenderContext,
) -> Result<String, TemplateError> {
    let env = environment();
    let vars = variables(template, results, params, context)?;
    let compiled = env
        .template_from_named_str(template.path(), template.body())
        .map_err(|e| diagnostics::locate(template, &e))?;
    compiled
        .render(Value::from(vars))
        .map_err(|e| diagnostics::locate(template, &e))
}

/// Renders the template to a [`Document`]: title and subtitle from the
/// front matter (the subtitle defaults to "As of 23 Nov 2026"), the blocks
/// from the rendered Markdown.
pub fn render(
    template: &Template,
    results: &Results,
    params: &Params,
    context: &RenderContext,
) -> Result<Document, TemplateError> {
    let markdown = render_markdown(template, results, params, context)?;
    let front = template.front_matter();
    let as_of =
        crate::filters::date(context.as_of, None).unwrap_or_else(|_| context.as_of.to_string());
    Ok(Document {
        title: front.title.clone(),
        subtitle: Some(
            front
                .subtitle
                .clone()
                .unwrap_or_else(|| format!("As of {as_of}")),
        ),
        footer: Some(format!("revintel · {} · data as of {as_of}", front.title)),
        blocks: crate::markdown::to_blocks(&markdown),
    })
}

/// Renders one line of text (a mail subject) in the variables of
/// `template`'s render: its results, parameters and `as_of`, with the same
/// filters. Nothing is escaped, and line breaks and other control
/// characters become spaces, so CRM text can never start a new header line.
pub fn render_line(
    template: &Template,
    results: &Results,
    params: &Params,
    context: &RenderContext,
    source: &str,
) -> Result<String, String> {
    let mut env = environment();
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            out.write_str(crate::filters::MISSING).map_err(Error::from)
        } else {
            escape_formatter(out, state, value)
        }
    });
    let vars = variables(template, results, params, context).map_err(|e| e.to_string())?;
    let text = env
        .render_str(source, Value::from(vars))
        .map_err(|e| match e.detail() {
            Some(detail) => format!("{}: {detail}", e.kind()),
            None => e.to_string(),
        })?;
    Ok(text
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" "))
}

/// The variables of a render: every result by name, every parameter by
/// name and under `params`, then `title`, `as_of`, `audience` and `row`.
fn variables(
    template: &Template,
    results: &Results,
    params: &Params,
    context: &RenderContext,
) -> Result<BTreeMap<String, Value>, TemplateError> {
    let mut vars: BTreeMap<String, Value> = BTreeMap::new();
    for query in template.queries() {
        if !results.contains_key(&query.name) {
            return Err(template.error_at(
                query.line.saturating_sub(1),
                1,
                1,
                format!("no result was given for query {:?}", query.name),
            ));
        }
    }
    for (name, result) in results {
        vars.insert(
            name.clone(),
            Value::from_object(ResultObject::new(name, result.clone())),
        );
    }
    let effective = template.resolve_params(params)?;
    let mut param_map: BTreeMap<String, Value> = BTreeMap::new();
    for (name, value) in &effective {
        param_map.insert(name.clone(), value.to_template_value());
        vars.insert(name.clone(), value.to_template_value());
    }
    let front = template.front_matter();
    vars.insert("params".into(), Value::from(param_map));
    vars.insert("title".into(), Value::from(front.title.as_str()));
    vars.insert(
        "as_of".into(),
        Value::from(context.as_of.format("%Y-%m-%d").to_string()),
    );
    vars.insert(
        "audience".into(),
        front
            .audience
            .as_deref()
            .map_or(Value::from(()), Value::from),
    );
    if let Some(page) = &context.page_row {
        let row = results
            .get(&page.query)
            .and_then(|r| ResultObject::new(&page.query, r.clone()).row(page.index))
            .ok_or_else(|| {
                TemplateError::whole_file(
                    template.path(),
                    format!(
                        "page row {} of query {:?} does not exist",
                        page.index, page.query
                    ),
                )
            })?;
        vars.insert("row".into(), row);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_text_literal() {
        assert_eq!(escape_markdown("a|b*c*"), "a\\|b\\*c\\*");
        assert_eq!(escape_markdown("<script>"), "\\<script\\>");
        assert_eq!(
            escape_markdown("line\n# not a heading"),
            "line \\# not a heading"
        );
        assert_eq!(escape_markdown("Zoë & Co."), "Zoë \\& Co\\.");
        // What comrak makes of it is the literal text.
        for raw in [
            "a|b*c*",
            "<script>alert(1)</script>",
            "[x](http://e.vil) _y_ `z`",
            "1. no list",
            "&amp; \\",
        ] {
            let blocks = crate::markdown::to_blocks(&escape_markdown(raw));
            match blocks.as_slice() {
                [crate::document::Block::Paragraph(inl)] => {
                    assert_eq!(crate::document::Inline::plain_text(inl), raw)
                }
                other => panic!("{raw:?} became {other:?}"),
            }
        }
    }
}
