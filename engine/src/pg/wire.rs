//! Results onto the wire: column types as PostgreSQL clients expect them,
//! rows streamed batch by batch, and a running query stopped by a cancel
//! request or the session's `statement_timeout`.
//!
//! Scalars map as `arrow-pg` maps them (dates → date, amounts → float8,
//! lists of scalars → arrays). Nested values that have no PostgreSQL
//! scalar — a deal's `drivers`, a list of structs — go out as `json`, which
//! every client can read.

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::error::DataFusionError;
use datafusion::prelude::DataFrame;
use datafusion_postgres::arrow_pg::datatypes::{encode_recordbatch, field_into_pg_type};
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::results::{FieldInfo, QueryResponse};
use datafusion_postgres::pgwire::api::Type;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::data::DataRow;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use futures_util::stream::{self, Stream, StreamExt};
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// An error with its SQLSTATE, as clients receive it.
pub fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message.into(),
    )))
}

/// A DataFusion error with the SQLSTATE closest to its meaning.
pub fn engine_error(e: DataFusionError) -> PgWireError {
    let code = match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => "53200",
        DataFusionError::SQL(..) => "42601",
        DataFusionError::Plan(m) if m.contains("not found") => "42P01",
        DataFusionError::SchemaError(..) => "42703",
        DataFusionError::Plan(_) => "42000",
        DataFusionError::NotImplemented(_) => "0A000",
        _ => "XX000",
    };
    let message = e.strip_backtrace();
    if code == "53200" {
        error(
            code,
            format!(
                "out of memory: the query needs more than its memory limit (aggregate, \
                 filter or LIMIT it, or start the server with a larger --query-memory): {message}"
            ),
        )
    } else {
        error(code, message)
    }
}

/// Whether a column goes out as `json`: values with no PostgreSQL scalar
/// or array of scalars.
pub(crate) fn is_json(data_type: &DataType) -> bool {
    match data_type {
        DataType::Struct(_) | DataType::Map(..) | DataType::Union(..) => true,
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::FixedSizeList(item, _)
        | DataType::ListView(item)
        | DataType::LargeListView(item) => {
            is_json(item.data_type())
                || matches!(
                    item.data_type(),
                    DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                )
        }
        _ => false,
    }
}

/// The row description of `schema` for clients.
pub fn fields(
    schema: &Schema,
    format: &Format,
    options: Option<Arc<FormatOptions>>,
) -> PgWireResult<Vec<FieldInfo>> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let pg_type = if is_json(field.data_type()) {
                Type::JSON
            } else {
                field_into_pg_type(field)?
            };
            let info = FieldInfo::new(
                field.name().clone(),
                None,
                None,
                pg_type,
                format.format_for(i),
            );
            Ok(match &options {
                Some(o) => info.with_format_options(o.clone()),
                None => info,
            })
        })
        .collect()
}

/// The same batch with its JSON columns turned into JSON text.
fn to_wire(batch: RecordBatch, json: &[usize]) -> Result<RecordBatch, DataFusionError> {
    if json.is_empty() {
        return Ok(batch);
    }
    let mut columns = batch.columns().to_vec();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for &i in json {
        columns[i] = json_text(&columns[i])?;
        fields[i] = Field::new(fields[i].name(), DataType::Utf8, true);
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Each value of `array` as JSON text, written by arrow's JSON writer (one
/// object per row, `{"v":…}`, from which the value is cut).
fn json_text(array: &ArrayRef) -> Result<ArrayRef, DataFusionError> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "v",
        array.data_type().clone(),
        true,
    )]));
    let batch = RecordBatch::try_new(schema, vec![array.clone()])?;
    let mut out = Vec::with_capacity(array.len() * 64);
    {
        let mut writer = datafusion::arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, datafusion::arrow::json::writer::LineDelimited>(&mut out);
        writer.write(&batch)?;
        writer.finish()?;
    }
    let text = String::from_utf8(out)
        .map_err(|e| DataFusionError::Execution(format!("JSON of a result: {e}")))?;
    let values: Vec<Option<&str>> = text
        .lines()
        .map(|line| {
            let value = line
                .strip_prefix("{\"v\":")
                .and_then(|v| v.strip_suffix('}'))
                .unwrap_or("null");
            (value != "null").then_some(value)
        })
        .collect();
    if values.len() != array.len() {
        return Err(DataFusionError::Execution(format!(
            "JSON of a result: {} rows written for {}",
            values.len(),
            array.len()
        )));
    }
    Ok(Arc::new(StringArray::from(values)))
}

/// Runs `df` and streams its rows under `stop`.
pub async fn encode(
    df: DataFrame,
    format: &Format,
    options: Option<Arc<FormatOptions>>,
    stop: Stop,
) -> PgWireResult<QueryResponse> {
    let schema = df.schema().as_arrow().clone();
    let fields = Arc::new(fields(&schema, format, options)?);
    let json: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| is_json(f.data_type()))
        .map(|(i, _)| i)
        .collect();
    let batches = stop
        .bound(df.execute_stream())
        .await?
        .map_err(engine_error)?;
    let row_fields = fields.clone();
    let rows = batches.flat_map(move |batch| {
        let rows: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send> =
            match batch.and_then(|b| to_wire(b, &json)) {
                Ok(batch) => encode_recordbatch(row_fields.clone(), batch),
                Err(e) => Box::new(std::iter::once(Err(engine_error(e)))),
            };
        stream::iter(rows)
    });
    Ok(QueryResponse::new(fields, stop.guard(rows)))
}

/// What stops a running query: the client's cancel request and the
/// session's `statement_timeout`, counted from when the statement arrived.
#[derive(Clone)]
pub struct Stop {
    cancel: Option<Shared<BoxFuture<'static, bool>>>,
    deadline: Option<tokio::time::Instant>,
}

const CANCELLED: &str = "canceling statement due to user request";
const TIMED_OUT: &str = "canceling statement due to statement timeout";

impl Stop {
    /// `cancelled` resolves to true when the client asks to cancel (false
    /// when the request can no longer come).
    pub fn new(cancelled: Option<BoxFuture<'static, bool>>, timeout: Option<Duration>) -> Stop {
        Stop {
            cancel: cancelled.map(|f| f.shared()),
            deadline: timeout.map(|t| tokio::time::Instant::now() + t),
        }
    }

    /// `work` unless the query is cancelled or times out first.
    pub async fn bound<T>(&self, work: impl std::future::Future<Output = T>) -> PgWireResult<T> {
        let cancel = async {
            match &self.cancel {
                Some(c) if c.clone().await => {}
                _ => std::future::pending::<()>().await,
            }
        };
        let deadline = async {
            match self.deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            out = work => Ok(out),
            () = cancel => Err(error("57014", CANCELLED)),
            () = deadline => Err(error("57014", TIMED_OUT)),
        }
    }

    /// `rows`, ended with an error as soon as the query is cancelled or
    /// times out (dropping `rows` stops the engine's work on it).
    pub fn guard(
        self,
        rows: impl Stream<Item = PgWireResult<DataRow>> + Send + 'static,
    ) -> Guarded {
        Guarded {
            rows: Some(Box::pin(rows)),
            cancel: self.cancel,
            deadline: self.deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        }
    }
}

/// A row stream under a [`Stop`].
pub struct Guarded {
    rows: Option<Pin<Box<dyn Stream<Item = PgWireResult<DataRow>> + Send>>>,
    cancel: Option<Shared<BoxFuture<'static, bool>>>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stream for Guarded {
    type Item = PgWireResult<DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.rows.is_none() {
            return Poll::Ready(None);
        }
        if let Some(cancel) = &mut this.cancel {
            if let Poll::Ready(asked) = cancel.poll_unpin(cx) {
                this.cancel = None;
                if asked {
                    this.rows = None;
                    return Poll::Ready(Some(Err(error("57014", CANCELLED))));
                }
            }
        }
        if let Some(deadline) = &mut this.deadline {
            if deadline.as_mut().poll(cx).is_ready() {
                this.rows = None;
                return Poll::Ready(Some(Err(error("57014", TIMED_OUT))));
            }
        }
        let Some(rows) = &mut this.rows else {
            return Poll::Ready(None);
        };
        let next = rows.as_mut().poll_next(cx);
        if let Poll::Ready(None) = next {
            this.rows = None;
        }
        next
    }
}
