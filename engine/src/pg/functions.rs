//! revintel's SQL functions in `pg_catalog`, so psql's `\df` and the
//! function lists of GUI tools show `win_prob`, `risk_score`, `shap_top`
//! and `forecast_quantile` beside PostgreSQL's own.
//!
//! datafusion-postgres's `pg_proc` holds PostgreSQL's built-in functions
//! only. Here it becomes a view: those rows, plus one row per revintel
//! function in the `public` schema; and the three catalog functions `\df`
//! calls are registered to describe them.

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

/// Adds revintel's functions to `pg_catalog` in `catalog` of `ctx`.
pub fn install(ctx: &SessionContext, catalog: &str) -> Result<()> {
    let functions = described(ctx);
    let Some(pg_catalog) = ctx.catalog(catalog).and_then(|c| c.schema("pg_catalog")) else {
        return Ok(());
    };
    let Some(Some(builtin)) = ready(pg_catalog.table("pg_proc"))? else {
        return Ok(());
    };
    let ours = Arc::new(MemTable::try_new(
        builtin.schema(),
        vec![vec![rows(&builtin.schema(), &functions)?]],
    )?);
    // Planned while `pg_catalog.pg_proc` is still the built-in table.
    const OURS: &str = "revintel_pg_proc_rows";
    ctx.register_table(OURS, ours)?;
    let columns: Vec<String> = builtin
        .schema()
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
        .collect();
    let ours_columns: Vec<String> = builtin
        .schema()
        .fields()
        .iter()
        .map(|f| {
            if f.name() == "pronamespace" {
                format!(
                    "CAST((SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public') AS {}) AS pronamespace",
                    sql_type(f.data_type())
                )
            } else {
                format!("\"{}\"", f.name())
            }
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM pg_catalog.pg_proc UNION ALL SELECT {} FROM {OURS}",
        columns.join(", "),
        ours_columns.join(", ")
    );
    let plan = ready(ctx.state().create_logical_plan(&sql));
    ctx.deregister_table(OURS)?;
    let plan = plan?
        .ok_or_else(|| DataFusionError::Internal("planning pg_proc waited on a catalog".into()))?;
    let view: Arc<dyn TableProvider> = Arc::new(ViewTable::new(plan, None));
    ctx.catalog(catalog)
        .expect("checked above")
        .register_schema(
            "pg_catalog",
            Arc::new(WithFunctions {
                inner: pg_catalog,
                pg_proc: view,
            }),
        )?;
    register_describers(ctx, &functions);
    Ok(())
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

/// `pg_catalog` with `pg_proc` replaced.
#[derive(Debug)]
struct WithFunctions {
    inner: Arc<dyn SchemaProvider>,
    pg_proc: Arc<dyn TableProvider>,
}

#[async_trait::async_trait]
impl SchemaProvider for WithFunctions {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if name == "pg_proc" {
            return Ok(Some(self.pg_proc.clone()));
        }
        self.inner.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}
