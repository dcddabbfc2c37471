//! Building reports: running a template's named SQL against the session and
//! writing its HTML and PDF outputs into `out/`.
//!
//! Each fence is one read-only statement. Its `$name` parameters are bound
//! as values through DataFusion's placeholders, never pasted into the SQL,
//! and its result is registered under the fence's name for the rest of the
//! build, so a later fence can read `FROM at_risk`. Every SQL problem is
//! reported at the template's own line and column.
//!
//! A template with `pages:` yields one page per row of the named query,
//! written to `out/<template stem>/<key>.html` (and `.pdf`). A declared
//! parameter named like a column of that query takes the row's value on its
//! page, so per-page fences (say, one deal's stage history) run once per page
//! while the others run once.

use crate::query::{self, QueryError};
use crate::session::Session;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::MemTable;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::sql::parser::Statement;
use reports::results::{CellValue, QueryResult};
use reports::template::{
    self, NamedQuery, OutputFormat, PageRow, ParamValue, Params, RenderContext, Results, Template,
    TemplateError,
};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A located problem in the template or one of its SQL fences.
    #[error("{0}")]
    Template(#[from] TemplateError),
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot lay out the PDF: {message}", path.display())]
    Pdf { path: PathBuf, message: String },
    #[error("cannot read the templates folder {}: {source}", path.display())]
    Discover {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One file written by a build.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub format: OutputFormat,
    pub bytes: u64,
    /// PDF pages (0 for HTML).
    pub pages: usize,
}

/// What building one template did.
#[derive(Debug, Clone)]
pub struct Built {
    pub template: PathBuf,
    pub files: Vec<WrittenFile>,
    pub elapsed: Duration,
}

/// The report templates in `dir`: every `*.md` except `README.md`, by name.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BuildError::Discover {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| e == "md")
                && p.file_name().is_some_and(|n| n != "README.md")
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Each fence of `template` that parses, as its statements (one, for a
/// valid fence); fences that do not parse fail later, where they are run.
pub fn fence_statements(template: &Template) -> impl Iterator<Item = Vec<Statement>> + '_ {
    template
        .queries()
        .iter()
        .filter_map(|q| query::parse(&q.sql).ok())
}

/// Whether any fence of `template` reads a model-backed table or function.
pub fn uses_models(template: &Template) -> bool {
    fence_statements(template).any(|s| query::uses_models(&s))
}

/// Whether any fence of `template` reads the table `name`.
pub fn reads_table(template: &Template, name: &str) -> bool {
    fence_statements(template)
        .flatten()
        .any(|s| query::relations(&s).iter().any(|r| r == name))
}

/// [`build`] with `--param NAME=VALUE` overrides resolved against the
/// template: those naming a parameter it does not declare are for other
/// templates and left out.
pub async fn build_with_overrides(
    session: &Session,
    template: &Template,
    overrides: &[(String, String)],
    formats: Option<&[OutputFormat]>,
    out_dir: &Path,
) -> Result<Built, BuildError> {
    let declared = &template.front_matter().params;
    let overrides: Vec<(String, String)> = overrides
        .iter()
        .filter(|(name, _)| declared.contains_key(name))
        .cloned()
        .collect();
    let params = template.params_from_overrides(&overrides)?;
    build(session, template, &params, formats, out_dir).await
}

/// Builds `template` into `out_dir` in `formats` (default: the front
/// matter's), with `params` (already resolved against the template).
pub async fn build(
    session: &Session,
    template: &Template,
    params: &Params,
    formats: Option<&[OutputFormat]>,
    out_dir: &Path,
) -> Result<Built, BuildError> {
    let started = Instant::now();
    let front = template.front_matter();
    let formats: Vec<OutputFormat> = match formats {
        Some(f) => f
            .iter()
            .copied()
            .filter(|f| front.formats.contains(f))
            .collect(),
        None => front.formats.clone(),
    };
    let stem = Path::new(template.path())
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("report")
        .to_string();
    let mut run = Run::new(session);
    let result = build_inner(&mut run, template, params, &formats, out_dir, &stem).await;
    run.deregister();
    let files = result?;
    Ok(Built {
        template: PathBuf::from(template.path()),
        files,
        elapsed: started.elapsed(),
    })
}

/// A one-page report built for mail: the files written, and the document,
/// results and parameters it was rendered from (the mail's body and
/// subject are made from these).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub built: Built,
    pub document: reports::document::Document,
    pub results: Results,
    pub params: Params,
}

/// Builds `template` (which must not write one page per row) with
/// `overrides` into `out_dir` in its own formats, keeping what it rendered.
pub async fn build_rendered(
    session: &Session,
    template: &Template,
    overrides: &[(String, String)],
    out_dir: &Path,
) -> Result<Rendered, BuildError> {
    if template.front_matter().pages.is_some() {
        return Err(TemplateError::whole_file(
            template.path(),
            "writes one page per row (`pages:`); a delivery sends a single report".to_string(),
        )
        .into());
    }
    let started = Instant::now();
    let params = template.params_from_overrides(overrides)?;
    let stem = Path::new(template.path())
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("report")
        .to_string();
    let context = RenderContext {
        as_of: session.as_of,
        page_row: None,
    };
    let mut run = Run::new(session);
    let rendered = async {
        let results = run.queries(template, &params, |_| true, true).await?;
        let document = with_notice(
            template::render(template, &results, &params, &context)?,
            &run,
        );
        let files = write(
            &document,
            &out_dir.join(&stem),
            &template.front_matter().formats,
        )?;
        Ok::<_, BuildError>((results, document, files))
    }
    .await;
    run.deregister();
    let (results, document, files) = rendered?;
    Ok(Rendered {
        built: Built {
            template: PathBuf::from(template.path()),
            files,
            elapsed: started.elapsed(),
        },
        document,
        results,
        params,
    })
}

async fn build_inner(
    run: &mut Run<'_>,
    template: &Template,
    params: &Params,
    formats: &[OutputFormat],
    out_dir: &Path,
    stem: &str,
) -> Result<Vec<WrittenFile>, BuildError> {
    let context = RenderContext {
        as_of: run.session.as_of,
        page_row: None,
    };
    let Some(pages) = template.front_matter().pages.clone() else {
        let results = run.queries(template, params, |_| true, true).await?;
        let document = with_notice(template::render(template, &results, params, &context)?, run);
        return write(&document, &out_dir.join(stem), formats);
    };

    // Templated pages. Parameters named like a column of the page query are
    // per-page; fences that use none of them run once.
    let page_template = match &pages.template {
        Some(relative) => {
            let folder = Path::new(template.path())
                .parent()
                .unwrap_or(Path::new("."));
            Some(Template::load(&folder.join(relative))?)
        }
        None => None,
    };
    let page_query = template
        .query(&pages.query)
        .expect("checked when the template was parsed");
    let shared = run
        .queries(
            template,
            params,
            uses_none_of(per_page_names(template, params, None)),
            true,
        )
        .await?;
    let list = shared.get(&pages.query).cloned().ok_or_else(|| {
        template.error_at(
            page_query.line.saturating_sub(1),
            1,
            1,
            format!(
                "pages: query {:?} uses a per-page parameter; the page list must not",
                pages.query
            ),
        )
    })?;
    let keys = pages
        .page_keys(&list)
        .map_err(|message| template.error_at(page_query.line.saturating_sub(1), 1, 1, message))?;
    let page_source = page_template.as_ref().unwrap_or(template);
    // The page template's own parameters, taking the listing's values by name.
    let page_base: Params = match &page_template {
        Some(t) => t
            .front_matter()
            .params
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    params.get(k).cloned().unwrap_or_else(|| v.clone()),
                )
            })
            .collect(),
        None => params.clone(),
    };
    let per_page = per_page_names(page_source, &page_base, Some(&list));
    let mut files = Vec::new();
    if page_template.is_some() {
        // The listing template is a page of its own.
        let document = with_notice(template::render(template, &shared, params, &context)?, run);
        files.extend(write(&document, &out_dir.join(stem), formats)?);
    }
    for (index, key) in keys.iter().enumerate() {
        let mut page_params = page_base.clone();
        for name in &per_page {
            let column = list.column_index(name).expect("chosen from the columns");
            page_params.insert(name.clone(), param_of(&list.rows[index][column]));
        }
        let mut results = shared.clone();
        if page_template.is_some() {
            results.extend(
                run.queries(page_source, &page_params, |_| true, true)
                    .await?,
            );
        } else if !per_page.is_empty() {
            results.extend(
                run.queries(
                    page_source,
                    &page_params,
                    |q| q.params_used.iter().any(|p| per_page.contains(p)),
                    false,
                )
                .await?,
            );
        }
        let context = RenderContext {
            as_of: run.session.as_of,
            page_row: Some(PageRow {
                query: pages.query.clone(),
                index,
            }),
        };
        let document = with_notice(
            template::render(page_source, &results, &page_params, &context)?,
            run,
        );
        files.extend(write(&document, &out_dir.join(stem).join(key), formats)?);
    }
    Ok(files)
}

/// Declared parameters of `template` that take a page row's value: those
/// whose default is NULL (the value must come from somewhere) and that are
/// named like a column of the page list. Before the list has run (`list` is
/// None) that is every NULL-default parameter the list's own SQL does not use.
fn per_page_names(
    template: &Template,
    params: &Params,
    list: Option<&QueryResult>,
) -> BTreeSet<String> {
    let list_query = template
        .front_matter()
        .pages
        .as_ref()
        .and_then(|p| template.query(&p.query));
    template
        .front_matter()
        .params
        .iter()
        .filter(|(name, default)| {
            matches!(default, ParamValue::Null)
                && matches!(params.get(*name), None | Some(ParamValue::Null))
                && match list {
                    Some(l) => l.column_index(name).is_some(),
                    None => list_query.is_some_and(|q| !q.params_used.contains(*name)),
                }
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// Picks the fences that use none of `params`.
fn uses_none_of(params: BTreeSet<String>) -> impl Fn(&NamedQuery) -> bool {
    move |q| !q.params_used.iter().any(|p| params.contains(p))
}

/// A path as messages show it: relative to the working folder when inside it.
pub fn shown_path(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A result cell as a parameter value.
fn param_of(value: &CellValue) -> ParamValue {
    match value {
        CellValue::Null => ParamValue::Null,
        CellValue::Bool(b) => ParamValue::Bool(*b),
        CellValue::Int(i) => ParamValue::Int(*i),
        CellValue::Float(f) => ParamValue::Float(*f),
        other => ParamValue::Text(other.to_string()),
    }
}

/// The SQL value of a parameter.
fn scalar_of(value: &ParamValue) -> ScalarValue {
    match value {
        ParamValue::Null => ScalarValue::Null,
        ParamValue::Bool(b) => ScalarValue::Boolean(Some(*b)),
        ParamValue::Int(i) => ScalarValue::Int64(Some(*i)),
        ParamValue::Float(f) => ScalarValue::Float64(Some(*f)),
        ParamValue::Text(s) => ScalarValue::Utf8(Some(s.clone())),
    }
}

/// Writes `document` as `<base>.html` / `<base>.pdf`.
fn write(
    document: &reports::document::Document,
    base: &Path,
    formats: &[OutputFormat],
) -> Result<Vec<WrittenFile>, BuildError> {
    let mut files = Vec::new();
    for format in formats {
        match format {
            OutputFormat::Html => {
                let path = with_suffix(base, ".html");
                reports::html::write_html_atomic(document, &path).map_err(|source| {
                    BuildError::Write {
                        path: path.clone(),
                        source,
                    }
                })?;
                let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                files.push(WrittenFile {
                    path,
                    format: *format,
                    bytes,
                    pages: 0,
                });
            }
            OutputFormat::Pdf => {
                let path = with_suffix(base, ".pdf");
                let summary = reports::pdf::write_pdf_atomic_with(document, &path, &pdf_options())
                    .map_err(|e| BuildError::Pdf {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                files.push(WrittenFile {
                    path,
                    format: *format,
                    bytes: summary.bytes as u64,
                    pages: summary.pages,
                });
            }
        }
    }
    Ok(files)
}

/// `document` with the session's notice (models whose leak-guard flags were
/// accepted) as its first paragraph, in bold, so no reader misses it.
fn with_notice(
    mut document: reports::document::Document,
    run: &Run<'_>,
) -> reports::document::Document {
    use reports::document::{Block, Inline};
    if let Some(notice) = &run.session.notice {
        document.blocks.insert(
            0,
            Block::Paragraph(vec![Inline::Strong(vec![Inline::Text(notice.clone())])]),
        );
    }
    document
}

/// How PDFs are written: dated now, or — for reproducible builds — at
/// `$SOURCE_DATE_EPOCH` (seconds since 1970, the reproducible-builds.org
/// convention), so the same inputs give byte-identical files.
fn pdf_options() -> reports::pdf::PdfOptions {
    let mut options = reports::pdf::PdfOptions::default();
    if let Some(epoch) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    {
        options.created = epoch;
    }
    options
}

/// `base` with `suffix` appended: a page name may contain dots (`opp_7.v2`),
/// which `with_extension` would take for an extension and replace.
fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut name = base.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The state of one template's build: results registered as tables (to be
/// removed afterwards).
struct Run<'a> {
    session: &'a Session,
    registered: Vec<String>,
}

impl<'a> Run<'a> {
    fn new(session: &'a Session) -> Self {
        Run {
            session,
            registered: Vec::new(),
        }
    }

    /// Runs, in order, the fences of `template` that `select` picks;
    /// `register` makes their results tables for later fences.
    async fn queries(
        &mut self,
        template: &Template,
        params: &Params,
        select: impl Fn(&NamedQuery) -> bool,
        register: bool,
    ) -> Result<Results, BuildError> {
        let mut results = Results::new();
        for q in template.queries().iter().filter(|q| select(q)) {
            let result = self.query(template, q, params, register).await?;
            results.insert(q.name.clone(), result);
        }
        Ok(results)
    }

    async fn query(
        &mut self,
        template: &Template,
        q: &NamedQuery,
        params: &Params,
        register: bool,
    ) -> Result<Arc<QueryResult>, BuildError> {
        let located = |e: QueryError| -> BuildError {
            let (line, column, width) = e.location().map_or((1, 1, 1), |l| {
                (l.line as usize, l.column as usize, l.width as usize)
            });
            template
                .sql_error(q, line, column, width, format!("query {:?}: {e}", q.name))
                .into()
        };
        let mut statements = query::parse(&q.sql).map_err(located)?;
        if statements.len() != 1 {
            return Err(template
                .sql_error(
                    q,
                    1,
                    1,
                    1,
                    format!(
                        "query {:?}: a fence holds one statement, this one has {}",
                        q.name,
                        statements.len()
                    ),
                )
                .into());
        }
        let statement: Statement = statements.remove(0);
        query::check_readonly(&statement).map_err(located)?;
        let values: HashMap<String, ScalarValue> = q
            .params_used
            .iter()
            .map(|name| {
                let value = params.get(name).unwrap_or(&ParamValue::Null);
                (name.clone(), scalar_of(value))
            })
            .collect();
        let bind = (!values.is_empty()).then(|| ParamValues::from(values));
        let result = query::run_statement(&self.session.ctx, statement, bind)
            .await
            .map_err(located)?;
        let converted = QueryResult::from_schema_and_batches(&result.schema, &result.batches)
            .map_err(|e| template.sql_error(q, 1, 1, 1, format!("query {:?}: {e}", q.name)))?;
        if register {
            self.register(template, q, result.schema, result.batches)?;
        }
        Ok(Arc::new(converted))
    }

    /// Makes a result readable as a table by later fences. A name that is
    /// already a table of the session would hide it: an error.
    fn register(
        &mut self,
        template: &Template,
        q: &NamedQuery,
        schema: SchemaRef,
        batches: Vec<datafusion::arrow::record_batch::RecordBatch>,
    ) -> Result<(), BuildError> {
        let ctx = &self.session.ctx;
        if self.registered.contains(&q.name) {
            let _ = ctx.deregister_table(q.name.as_str());
        } else if ctx.table_exist(q.name.as_str()).unwrap_or(false) {
            return Err(template
                .error_at(
                    q.line.saturating_sub(1),
                    1,
                    1,
                    format!(
                        "query {:?} has the name of a table of the pipeline; rename the query",
                        q.name
                    ),
                )
                .into());
        }
        let failed = |e: datafusion::error::DataFusionError| {
            BuildError::from(template.sql_error(q, 1, 1, 1, format!("query {:?}: {e}", q.name)))
        };
        let table = MemTable::try_new(schema, vec![batches]).map_err(failed)?;
        ctx.register_table(q.name.as_str(), Arc::new(table))
            .map_err(failed)?;
        if !self.registered.contains(&q.name) {
            self.registered.push(q.name.clone());
        }
        Ok(())
    }

    fn deregister(&mut self) {
        for name in self.registered.drain(..) {
            let _ = self.session.ctx.deregister_table(name.as_str());
        }
    }
}
