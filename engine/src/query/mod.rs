//! Running user SQL: parse, apply the read-only rule, plan, execute — and
//! when something is wrong, say where in the statement.
//!
//! A statement too deep to plan safely is refused before it is parsed
//! ([`nesting`]), so no statement can overflow the stack.

pub mod nesting;

use crate::readonly::{self, Refusal};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParserBuilder, Statement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use std::fmt;
use std::ops::ControlFlow;

/// A place in the SQL text, 1-based like sqlparser's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: u64,
    pub column: u64,
    /// Width of the offending part, at least 1.
    pub width: u64,
}

/// What went wrong with a statement, and where.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("syntax error: {message}")]
    Syntax {
        message: String,
        location: Option<Location>,
    },
    /// Nested deeper than the engine can plan without overflowing its stack.
    #[error("{message}")]
    TooDeep {
        message: String,
        location: Option<Location>,
    },
    #[error("{refusal}")]
    ReadOnly {
        refusal: Refusal,
        location: Option<Location>,
    },
    #[error("{message}")]
    Plan {
        message: String,
        location: Option<Location>,
        source: DataFusionError,
    },
    #[error("{source}")]
    Execution { source: DataFusionError },
    #[error("the query needs more memory than the limit of {limit}; raise it with `[engine] memory_limit` in revintel.toml or ${}, or make the query hold less at once (aggregate, filter or LIMIT it) — {detail}", crate::settings::MEMORY_LIMIT_ENV)]
    Memory { limit: String, detail: String },
    #[error("the result is larger than the memory limit of {limit}; aggregate, filter or LIMIT it (or raise `[engine] memory_limit` in revintel.toml or ${})", crate::settings::MEMORY_LIMIT_ENV)]
    TooLarge { limit: String },
    #[error("no SQL statement given")]
    Empty,
}

impl QueryError {
    pub fn location(&self) -> Option<Location> {
        match self {
            QueryError::Syntax { location, .. }
            | QueryError::TooDeep { location, .. }
            | QueryError::ReadOnly { location, .. }
            | QueryError::Plan { location, .. } => *location,
            _ => None,
        }
    }

    /// The message with the offending line of `sql` and a caret under the
    /// location, in the style of a compiler diagnostic. `origin` names where
    /// the SQL came from (a file path, or e.g. `<command line>`).
    pub fn render(&self, sql: &str, origin: &str) -> String {
        let mut out = format!("error: {self}");
        if let Some(loc) = self.location() {
            if let Some(text) = sql.lines().nth(loc.line.saturating_sub(1) as usize) {
                let gutter = loc.line.to_string();
                let pad = " ".repeat(gutter.len());
                // Clamped to the line: a location comes from parser messages,
                // which quote the user's own text.
                let chars = text.chars().count() as u64;
                let column = loc.column.clamp(1, chars + 1);
                let caret_pad = " ".repeat((column - 1) as usize);
                let carets = "^".repeat(loc.width.clamp(1, chars + 2 - column) as usize);
                out.push_str(&format!(
                    "\n{pad}--> {origin}:{}:{} (line {}, column {})\n{pad} |\n{gutter} | {text}\n{pad} | {caret_pad}{carets}",
                    loc.line, loc.column, loc.line, loc.column
                ));
            }
        }
        out
    }
}

/// One statement's result.
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl fmt::Debug for QueryResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: usize = self.batches.iter().map(|b| b.num_rows()).sum();
        write!(f, "QueryResult({rows} rows)")
    }
}

/// The stack of every thread that plans or runs SQL (the binary's main
/// thread and its runtime's workers): what [`nesting`]'s bounds were
/// measured against, with room to spare.
pub const STACK_SIZE: usize = 16 << 20;

/// The stack DataFusion's recursion guards keep free before recursing
/// further (they move to a fresh stack segment below it). Printers and
/// evaluators that are not guarded recurse within it, so it must hold a
/// whole [`nesting::MAX_DEPTH`]-deep walk: measured at under 2 MiB on a
/// debug build for the deepest shapes in `tests`.
pub const GUARDED_STACK: usize = 4 << 20;

/// Sets DataFusion's recursion guards (the `recursive` crate, process-wide)
/// to keep [`GUARDED_STACK`] free and grow by [`STACK_SIZE`] segments.
/// Idempotent; called whenever a session is made.
pub fn guard_stack() {
    recursive::set_minimum_stack_size(GUARDED_STACK);
    recursive::set_stack_allocation_size(STACK_SIZE);
}

/// How deeply the parser itself may recurse: above what [`nesting`]
/// allows, so that the located check speaks first.
const PARSER_RECURSION_LIMIT: usize = nesting::MAX_DEPTH + 4 * nesting::MAX_NESTING;

/// Parses `sql` into statements; an empty text is an error, and so is a
/// statement nested too deeply to plan (see [`nesting`]).
pub fn parse(sql: &str) -> Result<Vec<Statement>, QueryError> {
    nesting::check(sql)?;
    let dialect = GenericDialect {};
    let statements = DFParserBuilder::new(sql)
        .with_dialect(&dialect)
        .with_recursion_limit(PARSER_RECURSION_LIMIT)
        .build()
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| syntax_error_in(sql, e))?;
    if statements.is_empty() {
        return Err(QueryError::Empty);
    }
    Ok(statements.into_iter().collect())
}

/// Tables and functions that only exist once models are trained.
pub const MODEL_NAMES: [&str; 11] = [
    "model_quality",
    "at_risk_deals",
    "pipeline_hygiene",
    "scored_deals",
    "deal_scores",
    "forecast",
    "forecast_by_group",
    "win_prob",
    "shap_top",
    "forecast_quantile",
    "backtest",
];

/// The SQL statement inside a DataFusion statement (also under `EXPLAIN`);
/// `None` for DataFusion's own statements (`CREATE EXTERNAL TABLE`, …).
fn sql_statement(statement: &Statement) -> Option<&datafusion::sql::sqlparser::ast::Statement> {
    match statement {
        Statement::Statement(s) => Some(s.as_ref()),
        Statement::Explain(e) => match e.statement.as_ref() {
            Statement::Statement(s) => Some(s.as_ref()),
            _ => None,
        },
        _ => None,
    }
}

/// The tables and views a statement reads, lower-cased, by their last name
/// part (`public.deals` reads `deals`). CTE names count too; callers match
/// against names they know.
pub fn relations(statement: &Statement) -> Vec<String> {
    use datafusion::sql::sqlparser::ast::visit_relations;
    let Some(inner) = sql_statement(statement) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let _ = visit_relations(inner, |r| {
        if let Some(ident) = r.0.last().and_then(|p| p.as_ident()) {
            let name = ident.value.to_ascii_lowercase();
            if !found.contains(&name) {
                found.push(name);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

/// Whether any statement reads a model-backed table or calls a model UDF.
pub fn uses_models(statements: &[Statement]) -> bool {
    use datafusion::sql::sqlparser::ast::{visit_expressions, Expr};
    let named = |name: &str| MODEL_NAMES.contains(&name.to_ascii_lowercase().as_str());
    statements.iter().any(|statement| {
        let Some(s) = sql_statement(statement) else {
            return false;
        };
        let table = relations(statement).iter().any(|r| named(r));
        let function = visit_expressions(s, |e| match e {
            Expr::Function(f)
                if f.name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .is_some_and(|i| named(&i.value)) =>
            {
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        });
        table || function.is_break()
    })
}

/// Parses `sql` and refuses it whole if any statement would write.
pub fn prepare(sql: &str) -> Result<Vec<Statement>, QueryError> {
    let statements = parse(sql)?;
    for statement in &statements {
        check_readonly(statement)?;
    }
    Ok(statements)
}

/// Runs every statement of `sql` in order, refusing any that would write;
/// nothing runs if any statement fails to parse or is refused. Each result
/// is collected whole (within the memory limit): [`execute`] streams.
pub async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<QueryResult>, QueryError> {
    let statements = prepare(sql)?;
    let mut results = Vec::with_capacity(statements.len());
    for statement in statements {
        results.push(run_statement(ctx, statement, None).await?);
    }
    Ok(results)
}

/// Refuses a statement that would write, pointing at its start.
pub fn check_readonly(statement: &Statement) -> Result<(), QueryError> {
    readonly::check(statement).map_err(|refusal| QueryError::ReadOnly {
        refusal,
        location: statement_start(statement),
    })
}

/// A statement's result as it is produced, batch by batch: what it holds
/// in memory at once does not grow with its number of rows.
pub struct QueryStream {
    pub schema: SchemaRef,
    stream: SendableRecordBatchStream,
    limit: MemoryLimit,
}

impl QueryStream {
    /// The next batch, or None at the end.
    pub async fn next(&mut self) -> Option<Result<RecordBatch, QueryError>> {
        use futures_util::StreamExt;
        let batch = self.stream.next().await?;
        Some(batch.map_err(|e| execution_error(e, &self.limit)))
    }

    /// Collects the whole result; one that holds more than the memory
    /// limit is an error rather than a process killed for its memory.
    pub async fn collect(mut self) -> Result<QueryResult, QueryError> {
        let mut batches = Vec::new();
        let mut bytes = 0u64;
        while let Some(batch) = self.next().await {
            let batch = batch?;
            // What the batch's rows hold (a slice shares a larger buffer).
            bytes += batch
                .columns()
                .iter()
                .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0) as u64)
                .sum::<u64>();
            if bytes > self.limit.bytes {
                return Err(QueryError::TooLarge {
                    limit: self.limit.described.clone(),
                });
            }
            batches.push(batch);
        }
        Ok(QueryResult {
            schema: self.schema,
            batches,
        })
    }
}

/// The session's memory limit, as errors name it.
#[derive(Debug, Clone)]
struct MemoryLimit {
    bytes: u64,
    described: String,
}

impl MemoryLimit {
    fn of(ctx: &SessionContext) -> MemoryLimit {
        let settings = ctx
            .state()
            .config()
            .get_extension::<crate::settings::EngineSettings>()
            .map(|s| s.as_ref().clone())
            .unwrap_or_default();
        MemoryLimit {
            bytes: settings.memory_limit,
            described: settings.describe_limit(),
        }
    }
}

/// Plans one statement already passed by [`check_readonly`] and starts it.
/// `params` binds placeholders such as `$top_n` as values — never as SQL
/// text — so a parameter cannot change what the statement does.
pub async fn execute(
    ctx: &SessionContext,
    statement: Statement,
    params: Option<ParamValues>,
) -> Result<QueryStream, QueryError> {
    let limit = MemoryLimit::of(ctx);
    let state = ctx.state();
    let mut plan = state
        .statement_to_plan(statement)
        .await
        .map_err(plan_error)?;
    if let Some(params) = params {
        plan = plan.with_param_values(params).map_err(plan_error)?;
    }
    // Second line of defence behind `readonly::check`.
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&plan)
        .map_err(plan_error)?;
    let df = ctx.execute_logical_plan(plan).await.map_err(plan_error)?;
    let schema: SchemaRef = df.schema().inner().clone();
    let stream = df
        .execute_stream()
        .await
        .map_err(|e| execution_error(e, &limit))?;
    Ok(QueryStream {
        schema,
        stream,
        limit,
    })
}

/// [`execute`], collected whole (within the memory limit).
pub async fn run_statement(
    ctx: &SessionContext,
    statement: Statement,
    params: Option<ParamValues>,
) -> Result<QueryResult, QueryError> {
    execute(ctx, statement, params).await?.collect().await
}

/// An error while running: running out of the memory pool is said in
/// words that name the limit and how to change it.
fn execution_error(e: DataFusionError, limit: &MemoryLimit) -> QueryError {
    match e.find_root() {
        DataFusionError::ResourcesExhausted(detail) => QueryError::Memory {
            limit: limit.described.clone(),
            detail: detail.clone(),
        },
        _ => QueryError::Execution { source: e },
    }
}

fn statement_start(statement: &Statement) -> Option<Location> {
    use datafusion::sql::sqlparser::ast::Spanned;
    match statement {
        Statement::Statement(s) => {
            let span = s.span();
            (span.start.line > 0).then_some(Location {
                line: span.start.line,
                column: span.start.column,
                width: 1,
            })
        }
        _ => None,
    }
}

/// sqlparser reports positions only inside its message ("… at Line: 3, Column: 14").
/// sqlparser gives no position when the text ends too early; the end of the
/// text is where the missing part belongs.
fn syntax_error_in(sql: &str, e: DataFusionError) -> QueryError {
    let mut err = syntax_error(e);
    if let QueryError::Syntax { message, location } = &mut err {
        if location.is_none() && message.ends_with("found: EOF") {
            let trimmed = sql.trim_end();
            let line = trimmed.lines().count().max(1) as u64;
            let column = trimmed.lines().last().map_or(0, |l| l.chars().count()) as u64 + 1;
            *location = Some(Location {
                line,
                column,
                width: 1,
            });
        }
    }
    err
}

fn syntax_error(e: DataFusionError) -> QueryError {
    let message = e.strip_backtrace();
    let message = message
        .trim_start_matches("SQL error: ")
        .trim_start_matches("ParserError(\"")
        .trim_end_matches("\")")
        .trim_start_matches("sql parser error: ")
        .to_string();
    let location = parse_position(&message);
    let message = match message.rfind(" at Line: ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    QueryError::Syntax { message, location }
}

fn parse_position(message: &str) -> Option<Location> {
    // The parser appends the position last; earlier text may quote the
    // statement, which may itself contain "Line: ".
    let rest = &message[message.rfind(" at Line: ")? + " at Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some(Location {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
        width: 1,
    })
}

fn plan_error(e: DataFusionError) -> QueryError {
    let (message, location) = match e.diagnostic() {
        Some(d) => {
            let location = d.span.and_then(|span| {
                (span.start.line > 0).then(|| Location {
                    line: span.start.line,
                    column: span.start.column,
                    width: if span.end.line == span.start.line
                        && span.end.column > span.start.column
                    {
                        span.end.column - span.start.column
                    } else {
                        1
                    },
                })
            });
            (d.message.clone(), location)
        }
        None => (e.strip_backtrace(), None),
    };
    QueryError::Plan {
        message,
        location,
        source: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_their_position() {
        let sql = "SELECT amount\nFROM deals WHERE amount >";
        let err = parse(sql).unwrap_err();
        let loc = err.location().expect("a syntax error has a location");
        assert_eq!(loc.line, 2);
        let shown = err.render(sql, "q.sql");
        assert!(
            shown.contains("--> q.sql:2:") && shown.contains("2 | FROM deals"),
            "{shown}"
        );
        assert!(
            !shown.contains("Line: "),
            "position is not repeated in the message: {shown}"
        );

        let sql = "SELECT amount\nFROM deals WHERE amount > > 3";
        let loc = parse(sql).unwrap_err().location().expect("located");
        assert_eq!((loc.line, loc.column), (2, 27));
    }

    #[test]
    fn a_position_quoted_in_the_statement_is_not_believed() {
        let sql = "SELECT CAST(1 'Line: 1, Column: 18446744073709551615')";
        let err = parse(sql).unwrap_err();
        let loc = err.location().expect("located");
        assert!(loc.column < 60, "{loc:?}");
        let shown = err.render(sql, "q");
        assert!(shown.len() < 400, "{shown}");
        let far = QueryError::Syntax {
            message: "x".into(),
            location: Some(Location {
                line: 1,
                column: u64::MAX,
                width: u64::MAX,
            }),
        };
        assert!(far.render("SELECT 1", "q").len() < 200);
    }

    #[tokio::test]
    async fn unknown_column_points_at_the_column() {
        let ctx = SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new()
                .set_bool("datafusion.sql_parser.collect_spans", true),
        );
        ctx.sql("SELECT 1").await.unwrap();
        let sql = "SELECT 1 AS a,\n       nope FROM (SELECT 1 AS b) t";
        let err = run(&ctx, sql).await.unwrap_err();
        let loc = err.location().expect("planning error has a location");
        assert_eq!((loc.line, loc.column), (2, 8), "{}", err.render(sql, "t"));
    }

    #[tokio::test]
    async fn a_refused_statement_stops_the_whole_script() {
        let ctx = SessionContext::new();
        let err = run(&ctx, "SELECT 1; CREATE TABLE t AS SELECT 1;")
            .await
            .unwrap_err();
        assert!(matches!(err, QueryError::ReadOnly { .. }));
        assert!(!ctx.table_exist("t").unwrap());
    }
}
