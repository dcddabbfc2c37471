//! Report templates: Markdown with YAML front matter, named SQL fences and
//! minijinja expressions.
//!
//! A template goes through three steps. [`Template::parse`] reads the front
//! matter (title, audience, formats, parameters with defaults, optional
//! templated pages), takes out the named SQL fences (```` ```sql NAME ````)
//! as [`NamedQuery`]s and checks the minijinja syntax, so a broken template
//! fails before any SQL runs. The engine then runs each query, binding the
//! `$name` parameters it uses as placeholders, and calls [`render`] with the
//! results; that renders the minijinja text to Markdown and converts the
//! Markdown into a [`Document`](crate::document::Document) for the HTML and
//! PDF writers.
//!
//! **Values are text, never markup.** Every value printed with `{{ … }}` is
//! escaped for Markdown (see [`escape_markdown`]): a deal named
//! `a|b*c*` or `<script>` reads exactly so. Tables, charts, KPI tiles and
//! deal cards are components (see `components`) that travel through the
//! Markdown as JSON, so their data is never parsed as Markdown either. The
//! only ways to emit raw Markdown are literal template text and the `safe`
//! filter, which must not be used on data.
//!
//! **Errors are located.** Every problem — front matter, fences, template
//! syntax, unknown filters, runtime failures — is a [`TemplateError`] with
//! the file's line and column and the offending line. The text given to
//! minijinja keeps the file's lines (front matter and query fences are
//! blanked, not removed), so no line map is needed.

mod diagnostics;
mod error;
mod fences;
mod front_matter;
mod render;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::TemplateError;
pub use fences::NamedQuery;
pub use front_matter::{FrontMatter, OutputFormat, PagesSpec, ParamValue};
pub use render::{
    escape_markdown, render, render_line, render_markdown, PageRow, Params, RenderContext, Results,
};

use crate::results::{CellValue, QueryResult};

/// A parsed template, ready to have its queries run and to be rendered.
#[derive(Debug, Clone)]
pub struct Template {
    path: String,
    source: String,
    front: FrontMatter,
    queries: Vec<NamedQuery>,
    /// The text minijinja renders: the file, line for line, with the front
    /// matter and query fences blanked.
    body: String,
}

impl Template {
    /// Reads and parses the template file at `path`.
    pub fn load(path: &Path) -> Result<Template, TemplateError> {
        let shown = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| {
            TemplateError::whole_file(&shown, format!("cannot read the template: {e}"))
        })?;
        Template::parse(&shown, &source)
    }

    /// Parses template text; `path` names it in messages (e.g. `templates/weekly.md`).
    pub fn parse(path: &str, source: &str) -> Result<Template, TemplateError> {
        let stem = Path::new(path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(path)
            .to_string();
        let (front, skip) = front_matter::parse(path, source, &stem)?;
        let lines: Vec<&str> = source
            .split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .collect();
        let (queries, body) = fences::extract(path, source, &lines, skip, &front.params)?;
        let template = Template {
            path: path.to_string(),
            source: source.to_string(),
            front,
            queries,
            body,
        };
        template.check_names(&lines[..skip])?;
        // Compile once now so a syntax error stops the build before any SQL runs.
        render::environment()
            .template_from_named_str(&template.path, &template.body)
            .map_err(|e| diagnostics::locate(&template, &e))?;
        Ok(template)
    }

    /// Query names must not hide a parameter or a built-in variable, and
    /// `pages.query` must be one of the queries.
    fn check_names(&self, front_lines: &[&str]) -> Result<(), TemplateError> {
        for name in self.front.params.keys() {
            if front_matter::BUILTIN_NAMES.contains(&name.as_str()) {
                let (line, column) = front_matter::locate_key(front_lines, name).unwrap_or((1, 1));
                return Err(self.error_at(
                    line,
                    column,
                    name.len(),
                    format!("parameter {name:?} would hide the built-in variable of that name"),
                ));
            }
        }
        for q in &self.queries {
            let clash = if front_matter::BUILTIN_NAMES.contains(&q.name.as_str()) {
                Some("the built-in variable")
            } else if self.front.params.contains_key(&q.name) {
                Some("the parameter")
            } else {
                None
            };
            if let Some(what) = clash {
                return Err(self.error_at(
                    q.line - 1,
                    1,
                    1,
                    format!("query {:?} would hide {what} of that name", q.name),
                ));
            }
        }
        if let Some(pages) = &self.front.pages {
            if self.query(&pages.query).is_none() {
                let (line, column) =
                    front_matter::locate_key(front_lines, "query").unwrap_or((1, 1));
                return Err(self.error_at(
                    line,
                    column,
                    5,
                    format!("pages: no query named {:?} in this template", pages.query),
                ));
            }
        }
        Ok(())
    }

    /// The path the template was parsed under.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The front matter (defaults filled in).
    pub fn front_matter(&self) -> &FrontMatter {
        &self.front
    }

    /// The named queries, in file order.
    pub fn queries(&self) -> &[NamedQuery] {
        &self.queries
    }

    /// The query called `name`.
    pub fn query(&self, name: &str) -> Option<&NamedQuery> {
        self.queries.iter().find(|q| q.name == name)
    }

    pub(crate) fn body(&self) -> &str {
        &self.body
    }

    /// The parameter values to use: every declared parameter, with its
    /// default unless `given` has a value for it. A name `given` that the
    /// front matter does not declare is an error.
    pub fn resolve_params(&self, given: &Params) -> Result<Params, TemplateError> {
        if let Some(unknown) = given.keys().find(|k| !self.front.params.contains_key(*k)) {
            let declared: Vec<&str> = self.front.params.keys().map(|s| s.as_str()).collect();
            return Err(TemplateError::whole_file(
                &self.path,
                format!(
                    "unknown parameter {unknown:?} (declared: {})",
                    if declared.is_empty() {
                        "none".to_string()
                    } else {
                        declared.join(", ")
                    }
                ),
            ));
        }
        let mut params = self.front.params.clone();
        params.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(params)
    }

    /// Parameter values from text overrides such as `top_n=5` (as given on
    /// a command line), each read in the type of its default.
    pub fn params_from_overrides(
        &self,
        overrides: &[(String, String)],
    ) -> Result<Params, TemplateError> {
        let mut given = Params::new();
        for (name, text) in overrides {
            let default = self.front.params.get(name).ok_or_else(|| {
                TemplateError::whole_file(&self.path, format!("unknown parameter {name:?}"))
            })?;
            let value = default.parse_like(text).map_err(|e| {
                TemplateError::whole_file(&self.path, format!("parameter {name:?}: {e}"))
            })?;
            given.insert(name.clone(), value);
        }
        self.resolve_params(&given)
    }

    /// An error at a file position of this template.
    pub fn error_at(
        &self,
        line: usize,
        column: usize,
        width: usize,
        message: impl Into<String>,
    ) -> TemplateError {
        TemplateError::at(&self.path, &self.source, line, column, width, message)
    }

    /// Locates an error the SQL engine reported at `line`:`column` (1-based,
    /// within `query.sql`) in this file.
    pub fn sql_error(
        &self,
        query: &NamedQuery,
        line: usize,
        column: usize,
        width: usize,
        message: impl Into<String>,
    ) -> TemplateError {
        let line = query.line + line.max(1) - 1;
        self.error_at(line, column + query.indent, width, message)
    }
}

impl PagesSpec {
    /// The file stem of each page, one per row of `result`: the `key`
    /// column's value through [`crate::page_name::page_name`] (which links
    /// use too). A missing column, a NULL or a repeated key is an error.
    pub fn page_keys(&self, result: &QueryResult) -> Result<Vec<String>, String> {
        let column = result.column_index(&self.key).ok_or_else(|| {
            format!(
                "pages: query {:?} has no column {:?} (columns: {})",
                self.query,
                self.key,
                result.columns.join(", ")
            )
        })?;
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut keys = Vec::with_capacity(result.rows.len());
        for (i, row) in result.rows.iter().enumerate() {
            let value = &row[column];
            if matches!(value, CellValue::Null) {
                return Err(format!("pages: row {} has no {:?} (NULL)", i + 1, self.key));
            }
            let key = crate::page_name::page_name(&value.to_string());
            // Compared as case-insensitive file systems compare names.
            if let Some(first) = seen.insert(key.to_ascii_lowercase(), i) {
                return Err(format!(
                    "pages: rows {} and {} both have {:?} = {key:?} (names that differ only in case are one file on macOS and Windows); the key must be unique",
                    first + 1,
                    i + 1,
                    self.key
                ));
            }
            keys.push(key);
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests;
