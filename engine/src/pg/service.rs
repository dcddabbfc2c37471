//! The query handlers behind the endpoint: both of PostgreSQL's query
//! protocols (simple, and extended with bound parameters and prepared
//! statements), over the newest snapshot, each statement judged by
//! [`gate`] before it is planned.
//!
//! Session statements clients send (`SET`, `SHOW`, `BEGIN`, cursors) are
//! answered by datafusion-postgres's hooks; everything else is planned here
//! so each query runs under its own memory pool, the session's
//! `statement_timeout` and the client's cancel requests.

use super::cancel::Registry;
use super::gate;
use super::snapshot::Snapshot;
use super::wire::{self, engine_error, error, Stop};
use crate::settings::EngineSettings;
use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::DFSchema;
use datafusion::common::ParamValues;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::EmptyRelation;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Declare, Statement};
use datafusion_postgres::arrow_pg::datatypes::df::deserialize_parameters_with_server_types;
use datafusion_postgres::arrow_pg::datatypes::into_pg_type;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::Tag;
use datafusion_postgres::pgwire::api::results::{FieldInfo, Response};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::stmt::StoredStatement;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, Type};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A prepared statement: its text, and its parse and plan (none for an
/// empty one). The shape datafusion-postgres's hooks expect.
pub type Prepared = (String, Option<(Statement, LogicalPlan)>);

/// Where datafusion-postgres's `SET statement_timeout` hook keeps the
/// session's timeout, in milliseconds.
const STATEMENT_TIMEOUT_KEY: &str = "statement_timeout_ms";

/// What each query may use.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    /// Bytes one query may hold in memory (operators that can spill do).
    pub memory: u64,
    pub spill_dir: Option<PathBuf>,
}

impl QueryLimits {
    /// A runtime with a memory pool of one query's size.
    pub fn runtime(&self) -> Result<Arc<RuntimeEnv>, crate::settings::SettingsError> {
        EngineSettings {
            memory_limit: self.memory,
            memory_limit_origin: "--query-memory".into(),
            spill_dir: self.spill_dir.clone(),
        }
        .runtime()
    }
}

/// State shared by the handlers of every connection.
pub struct Shared {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    parser: PostgresCompatibilityParser,
    hooks: Vec<Arc<dyn QueryHook>>,
    limits: QueryLimits,
    pub cancels: Arc<Registry>,
}

impl Shared {
    pub fn new(snapshots: watch::Receiver<Arc<Snapshot>>, limits: QueryLimits) -> Shared {
        Shared {
            snapshots,
            parser: PostgresCompatibilityParser::new(),
            hooks: vec![
                Arc::new(CursorStatementHook),
                Arc::new(SetShowHook),
                Arc::new(TransactionStatementHook),
            ],
            limits,
            cancels: Arc::new(Registry::default()),
        }
    }

    /// A context over the newest snapshot with a memory pool of its own.
    fn context(&self) -> PgWireResult<SessionContext> {
        let snapshot = self.snapshots.borrow().clone();
        let runtime = self
            .limits
            .runtime()
            .map_err(|e| error("XX000", e.to_string()))?;
        Ok(snapshot.query_context(runtime))
    }

    /// The statements of `sql`, refused before parsing when nested too
    /// deeply to plan safely.
    fn parse(&self, sql: &str) -> PgWireResult<Vec<Statement>> {
        crate::query::nesting::check(sql).map_err(|e| error("54001", e.to_string()))?;
        self.parser
            .parse(sql)
            .map_err(|e| error("42601", e.to_string()))
    }
}

fn refused(r: gate::Refused) -> PgWireError {
    error(r.code, r.message)
}

/// Plans a statement that reads. DDL, DML and session statements are
/// refused by the planner too, as a second line behind [`gate`].
async fn plan(ctx: &SessionContext, statement: Statement) -> PgWireResult<LogicalPlan> {
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
        .await
        .map_err(engine_error)?;
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&plan)
        .map_err(|e| error(gate::READ_ONLY, e.strip_backtrace()))?;
    Ok(plan)
}

/// What stops this connection's next query: its cancel requests and its
/// `statement_timeout`.
fn stop_of<C: ClientInfo>(client: &C, cancels: &Registry) -> Stop {
    let timeout = client
        .metadata()
        .get(STATEMENT_TIMEOUT_KEY)
        .and_then(|ms| ms.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    Stop::new(Some(cancels.cancelled(client)), timeout)
}

fn format_options<C: ClientInfo>(client: &C) -> Arc<FormatOptions> {
    Arc::new(FormatOptions::from_client_metadata(client.metadata()))
}

/// The parameters `$1…$n` of a plan, by position, as DataFusion infers them.
fn parameter_types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let found = plan.get_parameter_types().map_err(engine_error)?;
    let mut numbered: Vec<(usize, Option<DataType>)> = found
        .into_iter()
        .filter_map(|(name, t)| Some((name.strip_prefix('$')?.parse().ok()?, t)))
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    let count = numbered.last().map_or(0, |(n, _)| *n);
    Ok((1..=count)
        .map(|i| {
            numbered
                .iter()
                .find(|(n, _)| *n == i)
                .and_then(|(_, t)| t.clone())
        })
        .collect())
}

fn wire_types(types: &[Option<DataType>]) -> Vec<Type> {
    types
        .iter()
        .map(|t| {
            t.as_ref()
                .and_then(|t| into_pg_type(t).ok())
                .unwrap_or(Type::UNKNOWN)
        })
        .collect()
}

fn parameters(portal: &Portal<Prepared>, plan: &LogicalPlan) -> PgWireResult<ParamValues> {
    let types = parameter_types(plan)?;
    let wire = wire_types(&types);
    let inferred: Vec<Option<&DataType>> = types.iter().map(Option::as_ref).collect();
    let server: Vec<Option<&Type>> = wire.iter().map(Some).collect();
    deserialize_parameters_with_server_types(portal, &inferred, &server)
}

/// The result columns of this connection's open cursors, so a `FETCH`
/// can be described before it runs (clients such as psycopg ask).
#[derive(Default)]
struct Cursors(std::sync::Mutex<HashMap<String, SchemaRef>>);

fn cursors<C: ClientInfo + ?Sized>(client: &C) -> Arc<Cursors> {
    client
        .session_extensions()
        .get_or_insert_with(Cursors::default)
}

/// A plan with `schema`'s columns and no rows: what a `FETCH` from a
/// cursor describes itself as.
fn shaped_like(schema: &SchemaRef) -> PgWireResult<LogicalPlan> {
    let schema = DFSchema::try_from(schema.as_ref().clone()).map_err(engine_error)?;
    Ok(LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(schema),
    }))
}

/// `DECLARE name CURSOR FOR query`: runs the query and parks its rows in a
/// portal that `FETCH` reads (datafusion-postgres's cursor hook serves
/// `FETCH` and `CLOSE`); its columns are remembered for describing.
async fn declare(
    client: &mut dyn HookClient,
    ctx: &SessionContext,
    declarations: &[Declare],
) -> PgWireResult<Response> {
    for declaration in declarations {
        let (Some(name), Some(query)) = (declaration.names.first(), &declaration.for_query) else {
            return Err(error(
                "42601",
                "DECLARE needs a cursor name and a FOR query",
            ));
        };
        let statement = Statement::Query(query.clone());
        let planned = plan(ctx, statement.clone()).await?;
        let schema = Arc::new(planned.schema().as_arrow().clone());
        let df = ctx
            .execute_logical_plan(planned.clone())
            .await
            .map_err(engine_error)?;
        let rows = wire::encode(
            df,
            &Format::UnifiedText,
            Some(Arc::new(FormatOptions::from_client_metadata(
                client.metadata(),
            ))),
            Stop::new(None, None),
        )
        .await?;
        let stored = Arc::new(StoredStatement::new(
            name.value.clone(),
            (query.to_string(), Some((statement, planned))),
            vec![],
        ));
        let portal = Portal::new_cursor(name.value.clone(), stored);
        portal.start(rows).await;
        client.portal_store().put_portal(Arc::new(portal));
        cursors(client)
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.value.clone(), schema);
    }
    Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
}

/// The handlers of one endpoint.
pub struct Service {
    shared: Arc<Shared>,
    parser: Arc<Parser>,
}

impl Service {
    pub fn new(shared: Arc<Shared>) -> Service {
        Service {
            parser: Arc::new(Parser {
                shared: shared.clone(),
            }),
            shared,
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for Service {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo
            + ClientPortalStore
            + futures_util::Sink<PgWireBackendMessage>
            + Unpin
            + Send
            + Sync,
        C::PortalStore: PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures_util::Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = self.shared.parse(query)?;
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        // Nothing runs when any statement is refused.
        for statement in &statements {
            gate::check(statement).map_err(refused)?;
        }
        let stop = stop_of(client, &self.shared.cancels);
        let ctx = self.shared.context()?;
        let mut responses = Vec::with_capacity(statements.len());
        'statements: for statement in statements {
            if let Statement::Declare { stmts } = &statement {
                responses.push(declare(client, &ctx, stmts).await?);
                continue;
            }
            for hook in &self.shared.hooks {
                if let Some(response) = hook.handle_simple_query(&statement, &ctx, client).await {
                    responses.push(response?);
                    continue 'statements;
                }
            }
            let df: DataFrame = stop
                .bound(async {
                    let plan = plan(&ctx, statement).await?;
                    ctx.execute_logical_plan(plan).await.map_err(engine_error)
                })
                .await??;
            let options = format_options(client);
            let response =
                wire::encode(df, &Format::UnifiedText, Some(options), stop.clone()).await?;
            responses.push(Response::Query(response));
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for Service {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo
            + ClientPortalStore
            + futures_util::Sink<PgWireBackendMessage>
            + Unpin
            + Send
            + Sync,
        C::PortalStore: PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures_util::Sink<PgWireBackendMessage>>::Error>,
    {
        let (_, Some((statement, prepared))) = &portal.statement.statement else {
            return Ok(Response::EmptyQuery);
        };
        let ctx = self.shared.context()?;
        if let Statement::Declare { stmts } = statement {
            return declare(client, &ctx, stmts).await;
        }
        let values = parameters(portal, prepared)?;
        for hook in &self.shared.hooks {
            if let Some(response) = hook
                .handle_extended_query(statement, prepared, &values, &ctx, client)
                .await
            {
                return response;
            }
        }
        let stop = stop_of(client, &self.shared.cancels);
        // Planned again on the newest snapshot: a statement prepared before
        // a rebuild reads the new tables, as it would in PostgreSQL.
        let df = stop
            .bound(async {
                let plan = plan(&ctx, statement.clone())
                    .await?
                    .replace_params_with_values(&values)
                    .map_err(engine_error)?;
                ctx.execute_logical_plan(plan).await.map_err(engine_error)
            })
            .await??;
        let options = format_options(client);
        let response = wire::encode(df, &portal.result_column_format, Some(options), stop).await?;
        Ok(Response::Query(response))
    }
}

/// Parses and plans statements of the extended protocol.
pub struct Parser {
    shared: Arc<Shared>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut statements = self.shared.parse(sql)?;
        if statements.len() > 1 {
            return Err(error(
                "42601",
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let Some(statement) = statements.pop() else {
            return Ok(None);
        };
        gate::check(&statement).map_err(refused)?;
        if let Statement::Fetch { name, .. } = &statement {
            let known = cursors(client)
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&name.value)
                .cloned();
            if let Some(schema) = known {
                let plan = shaped_like(&schema)?;
                return Ok(Some((sql.to_string(), Some((statement, plan)))));
            }
        }
        let ctx = self.shared.context()?;
        for hook in &self.shared.hooks {
            if let Some(plan) = hook
                .handle_extended_parse_query(&statement, &ctx, client)
                .await
            {
                return Ok(Some((sql.to_string(), Some((statement, plan?)))));
            }
        }
        let planned = plan(&ctx, statement.clone()).await?;
        Ok(Some((sql.to_string(), Some((statement, planned)))))
    }

    fn get_parameter_types(&self, statement: &Prepared) -> PgWireResult<Vec<Type>> {
        match statement {
            (_, Some((_, plan))) => Ok(wire_types(&parameter_types(plan)?)),
            _ => Ok(Vec::new()),
        }
    }

    fn get_result_schema(
        &self,
        statement: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match statement {
            (_, Some((_, plan))) if !matches!(plan, LogicalPlan::Ddl(_) | LogicalPlan::Dml(_)) => {
                wire::fields(
                    plan.schema().as_arrow(),
                    format.unwrap_or(&Format::UnifiedText),
                    None,
                )
            }
            _ => Ok(Vec::new()),
        }
    }
}
