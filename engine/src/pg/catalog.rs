//! revintel's additions to datafusion-postgres's `pg_catalog`:
//!
//! - its SQL functions, so psql's `\df` and the function lists of GUI tools
//!   show `win_prob`, `risk_score`, `shap_top` and `forecast_quantile`
//!   beside PostgreSQL's own: `pg_proc` (PostgreSQL's built-in functions
//!   only) becomes a view of those rows plus one per revintel function in
//!   `public`, and the three catalog functions `\df` calls describe them;
//! - the type of nested columns: results send them as `json` (see
//!   [`super::wire`]), and `pg_attribute` says so too (`\d scored_deals`
//!   shows `drivers` as json), where the built-in catalog falls back to text.

use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, BooleanArray, Int32Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{MemTable, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Volatility};
use datafusion::prelude::{create_udf, SessionContext};
use futures_util::FutureExt;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The first oid given to revintel's functions: well above those the
/// catalog hands out to tables and schemas.
const FIRST_OID: i32 = 1_000_000;

/// One function as `\df` shows it.
struct Described {
    oid: i32,
    name: String,
    arguments: String,
    result: &'static str,
}

/// What each function returns, in PostgreSQL's words.
fn result_of(name: &str) -> &'static str {
    match name {
        "shap_top" => "json",
        _ => "double precision",
    }
}

/// The functions of this session that revintel provides.
fn described(ctx: &SessionContext) -> Vec<Described> {
    let state = ctx.state();
    ml::functions::NAMES
        .iter()
        .filter_map(|name| state.scalar_functions().get(*name).cloned())
        .enumerate()
        .map(|(i, udf)| {
            let syntax = udf
                .documentation()
                .map(|d| d.syntax_example.clone())
                .unwrap_or_default();
            let arguments = syntax
                .split_once('(')
                .and_then(|(_, rest)| rest.rsplit_once(')'))
                .map(|(args, _)| args.to_string())
                .unwrap_or_default();
            Described {
                oid: FIRST_OID + i as i32,
                name: udf.name().to_string(),
                arguments,
                result: result_of(udf.name()),
            }
        })
        .collect()
}

/// Adds revintel's functions and column types to `pg_catalog` in
/// `catalog` of `ctx`.
pub fn install(ctx: &SessionContext, catalog: &str) -> Result<()> {
    let functions = described(ctx);
    let Some(pg_catalog) = ctx.catalog(catalog).and_then(|c| c.schema("pg_catalog")) else {
        return Ok(());
    };
    let (Some(Some(pg_proc)), Some(Some(pg_attribute))) = (
        ready(pg_catalog.table("pg_proc"))?,
        ready(pg_catalog.table("pg_attribute"))?,
    ) else {
        return Ok(());
    };
    let public = "(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public')";

    let schema = pg_proc.schema();
    let ours = MemTable::try_new(schema.clone(), vec![vec![rows(&schema, &functions)?]])?;
    let columns = |replace: &dyn Fn(&str, &DataType) -> Option<String>| -> String {
        schema
            .fields()
            .iter()
            .map(|f| {
                replace(f.name(), f.data_type()).unwrap_or_else(|| format!("\"{}\"", f.name()))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = format!(
        "SELECT {} FROM pg_catalog.pg_proc UNION ALL SELECT {} FROM {OURS}",
        columns(&|_, _| None),
        columns(&|name, t| (name == "pronamespace")
            .then(|| format!("CAST({public} AS {}) AS pronamespace", sql_type(t))))
    );
    let procs = view(ctx, &sql, ours)?;

    let schema = pg_attribute.schema();
    let json = MemTable::try_new(json_schema(), vec![vec![json_columns(ctx)?]])?;
    let select: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.name() == "atttypid" {
                format!(
                    "CASE WHEN j.attname IS NULL THEN a.atttypid ELSE CAST({JSON_OID} AS {}) END AS atttypid",
                    sql_type(f.data_type())
                )
            } else {
                format!("a.\"{}\"", f.name())
            }
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM pg_catalog.pg_attribute a LEFT JOIN \
         (SELECT c.oid AS relid, x.attname FROM pg_catalog.pg_class c \
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
          JOIN {OURS} x ON x.relname = c.relname) j \
         ON j.relid = a.attrelid AND j.attname = a.attname",
        select.join(", ")
    );
    let attributes = view(ctx, &sql, json)?;

    ctx.catalog(catalog)
        .expect("checked above")
        .register_schema(
            "pg_catalog",
            Arc::new(Amended {
                inner: pg_catalog,
                pg_proc: procs,
                pg_attribute: attributes,
            }),
        )?;
    register_describers(ctx, &functions);
    Ok(())
}

/// PostgreSQL's oid of `json`.
const JSON_OID: i32 = 114;

/// The name a view's extra rows go by while it is planned.
const OURS: &str = "revintel_pg_catalog_rows";

/// A view of `sql`, planned while `pg_catalog` is still the built-in one,
/// reading `rows` as [`OURS`].
fn view(ctx: &SessionContext, sql: &str, rows: MemTable) -> Result<Arc<dyn TableProvider>> {
    ctx.register_table(OURS, Arc::new(rows))?;
    let plan = ready(ctx.state().create_logical_plan(sql));
    ctx.deregister_table(OURS)?;
    let plan = plan?.ok_or_else(|| {
        DataFusionError::Internal("planning a pg_catalog view waited on a catalog".into())
    })?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}

fn json_schema() -> datafusion::arrow::datatypes::SchemaRef {
    Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
        datafusion::arrow::datatypes::Field::new("relname", DataType::Utf8, false),
        datafusion::arrow::datatypes::Field::new("attname", DataType::Utf8, false),
    ]))
}

/// Every column of the default schema's tables and views that goes out as json.
fn json_columns(ctx: &SessionContext) -> Result<RecordBatch> {
    let state = ctx.state();
    let options = state.config().options();
    let mut relations = Vec::new();
    let mut columns = Vec::new();
    if let Some(schema) = ctx
        .catalog(&options.catalog.default_catalog)
        .and_then(|c| c.schema(&options.catalog.default_schema))
    {
        for table in schema.table_names() {
            if let Some(Some(provider)) = ready(schema.table(&table))? {
                for field in provider.schema().fields() {
                    if super::wire::is_json(field.data_type()) {
                        relations.push(table.clone());
                        columns.push(field.name().clone());
                    }
                }
            }
        }
    }
    Ok(RecordBatch::try_new(
        json_schema(),
        vec![
            Arc::new(StringArray::from(relations)),
            Arc::new(StringArray::from(columns)),
        ],
    )?)
}

/// The output of a future that in-memory catalogs complete at once; `None`
/// if it would wait.
fn ready<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<Option<T>> {
    future.now_or_never().transpose()
}

fn sql_type(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Int64 => "BIGINT",
        DataType::UInt32 => "INT UNSIGNED",
        _ => "INT",
    }
}

/// One row per function in `pg_proc`'s own shape: what psql reads is set,
/// the rest null (or zero where the column has no nulls).
fn rows(
    schema: &datafusion::arrow::datatypes::SchemaRef,
    functions: &[Described],
) -> Result<RecordBatch> {
    let n = functions.len();
    let columns = schema
        .fields()
        .iter()
        .map(|field| -> Result<ArrayRef> {
            let text = |values: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(values)) };
            let array: ArrayRef = match field.name().as_str() {
                "oid" => Arc::new(Int32Array::from_iter_values(
                    functions.iter().map(|f| f.oid),
                )),
                "proname" | "prosrc" => text(functions.iter().map(|f| f.name.clone()).collect()),
                "prokind" => text(vec!["f".into(); n]),
                "provolatile" => text(vec!["i".into(); n]),
                "proparallel" => text(vec!["s".into(); n]),
                "proowner" => Arc::new(Int32Array::from(vec![10; n])),
                "prolang" => Arc::new(Int32Array::from(vec![12; n])),
                "pronamespace" => Arc::new(Int32Array::from(vec![0; n])),
                _ => zero_or_null(field.data_type(), field.is_nullable(), n)?,
            };
            // Match the built-in column's exact type (and metadata).
            let array = datafusion::arrow::compute::cast(&array, field.data_type())?;
            Ok(array)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn zero_or_null(data_type: &DataType, nullable: bool, n: usize) -> Result<ArrayRef> {
    if nullable {
        return Ok(new_null_array(data_type, n));
    }
    Ok(match data_type {
        DataType::Boolean => Arc::new(BooleanArray::from(vec![false; n])),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            Arc::new(StringArray::from(vec![""; n]))
        }
        other if other.is_numeric() => Arc::new(Int32Array::from(vec![0; n])),
        other => {
            return Err(DataFusionError::NotImplemented(format!(
                "a pg_proc row for a non-null {other} column"
            )))
        }
    })
}

/// `pg_function_is_visible`, `pg_get_function_arguments` and
/// `pg_get_function_result`, answering for revintel's functions (and
/// PostgreSQL's, whose arguments the catalog does not know: empty).
fn register_describers(ctx: &SessionContext, functions: &[Described]) {
    let arguments: Arc<BTreeMap<i32, String>> = Arc::new(
        functions
            .iter()
            .map(|f| (f.oid, f.arguments.clone()))
            .collect(),
    );
    let results: Arc<BTreeMap<i32, String>> = Arc::new(
        functions
            .iter()
            .map(|f| (f.oid, f.result.to_string()))
            .collect(),
    );
    ctx.register_udf(create_udf(
        "pg_function_is_visible",
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let oids = ColumnarValue::values_to_arrays(args)?;
            Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(vec![
                true;
                oids[0].len()
            ]))))
        }),
    ));
    for (name, table) in [
        ("pg_get_function_arguments", arguments),
        ("pg_get_function_result", results),
    ] {
        ctx.register_udf(create_udf(
            name,
            vec![DataType::Int32],
            DataType::Utf8,
            Volatility::Stable,
            Arc::new(move |args: &[ColumnarValue]| {
                let oids = ColumnarValue::values_to_arrays(args)?;
                let oids = datafusion::arrow::compute::cast(&oids[0], &DataType::Int32)?;
                let oids = oids
                    .as_any()
                    .downcast_ref::<Int32Array>()
                    .expect("cast to Int32");
                let values: StringArray = oids
                    .iter()
                    .map(|oid| Some(oid.and_then(|o| table.get(&o).cloned()).unwrap_or_default()))
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(values)))
            }),
        ));
    }
}

/// `pg_catalog` with `pg_proc` and `pg_attribute` amended.
#[derive(Debug)]
struct Amended {
    inner: Arc<dyn SchemaProvider>,
    pg_proc: Arc<dyn TableProvider>,
    pg_attribute: Arc<dyn TableProvider>,
}

#[async_trait::async_trait]
impl SchemaProvider for Amended {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match name {
            "pg_proc" => return Ok(Some(self.pg_proc.clone())),
            "pg_attribute" => return Ok(Some(self.pg_attribute.clone())),
            _ => {}
        }
        self.inner.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}
