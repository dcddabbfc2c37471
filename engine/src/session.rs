//! The DataFusion session over a project's pipeline.
//!
//! Registers every entity as a table, the derived views (`deal_features`),
//! and the load report, with the information schema on so `SHOW TABLES` and
//! `DESCRIBE` work. Spans are collected so planning errors can point at the
//! offending part of a statement.

use crate::project::Project;
use crate::settings::EngineSettings;
use crate::sources::{self, Entity, LoadReport, LoadedTable, SourceError};
use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Date32Array, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use ml::features::{deal_features_sql, ActivitySource};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("registering `{name}`: {source}")]
    Register {
        name: String,
        #[source]
        source: DataFusionError,
    },
    #[error("{}: no pipeline data here (missing {file}); run `revintel seed` for demo data or set [sources] in revintel.toml", dir.display())]
    NoData { dir: PathBuf, file: &'static str },
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
}

/// A ready SQL session and what went into it.
pub struct Session {
    pub ctx: SessionContext,
    pub as_of: NaiveDate,
    pub load: LoadReport,
    /// The models attached to this session, if any (see [`crate::attach`]).
    pub models: Option<ml::trained::Models>,
    /// The scores registered as `deal_scores`, once models are attached.
    pub scores: Option<RecordBatch>,
    /// The forecast's book of simulations, once models are attached.
    pub forecast: Option<Arc<ml::book::ForecastBook>>,
    /// The engine's memory limit and spill folder.
    pub engine: EngineSettings,
    /// Things worth telling the user that did not stop the session.
    pub warnings: Vec<String>,
    /// Whether computed tables are cached on disk in the background (a
    /// long-running process need not wait for the disk; see `caches`).
    pub cache_in_background: bool,
    /// A warning every report built on this session carries (models whose
    /// leak-guard flags were accepted; see `quality`).
    pub notice: Option<String>,
}

/// The names of the derived views, in registration order.
pub const VIEWS: [&str; 3] = ["deal_features", "report_dates", "pipeline_changes"];

impl Session {
    /// Starts from what `earlier` (a session over nearly the same data)
    /// computed: attaching models then rescores only deals whose features
    /// changed and updates the forecast's runs for them, in memory (live
    /// rebuilds), instead of starting from the newest cache file on disk.
    pub fn continue_from(&mut self, earlier: &Session) {
        self.scores = earlier.scores.clone();
        self.forecast = earlier.forecast.clone();
        self.cache_in_background = earlier.cache_in_background;
    }

    /// A fingerprint of the files behind `tables` and the as-of date: it
    /// changes when any of those files does, and only then.
    pub fn fingerprint_of(&self, tables: &[String]) -> String {
        let mut parts: Vec<&[u8]> = self
            .load
            .files
            .iter()
            .filter(|f| tables.iter().any(|t| t == &f.table))
            .map(|f| f.fingerprint.as_bytes())
            .collect();
        let as_of = self.as_of.to_string();
        parts.push(as_of.as_bytes());
        ml::trained::fingerprint(&parts)
    }

    /// The whole result of `sql` as one batch (with the query's schema even
    /// when it has no rows): for the small inputs the models and the
    /// forecast read, never for what a user's query returns (that streams,
    /// see `query/`).
    pub async fn batch(&self, sql: &str) -> Result<RecordBatch, DataFusionError> {
        let df = self.ctx.sql(sql).await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        Ok(datafusion::arrow::compute::concat_batches(
            &schema,
            &df.collect().await?,
        )?)
    }

    /// Identifies the input data and as-of date: any change to a source
    /// file changes it.
    pub fn data_fingerprint(&self) -> String {
        ml::trained::fingerprint(&[
            self.load.fingerprint().as_bytes(),
            self.as_of.to_string().as_bytes(),
        ])
    }

    /// Loads the project's sources and builds the session.
    pub async fn open(project: &Project) -> Result<Session, SessionError> {
        if project.sources.imports.is_empty()
            && !project.data_dir.join(Entity::Deals.file_name()).is_file()
        {
            return Err(SessionError::NoData {
                dir: project.data_dir.clone(),
                file: Entity::Deals.file_name(),
            });
        }
        let sources::Assembled {
            tables,
            report: load,
            ..
        } = sources::load_sources(
            &project.sources,
            project.as_of,
            project.strict,
            sources::OnFailure::Stop,
        )
        .await?;
        let as_of = project
            .as_of
            .or_else(|| crate::demo::manifest_as_of(&project.data_dir))
            .or_else(|| latest_history_date(&tables))
            .unwrap_or_else(|| chrono::Local::now().date_naive());
        Session::from_tables(tables, load, as_of, &project.engine).await
    }

    /// Builds a session over already loaded tables.
    pub async fn from_tables(
        tables: Vec<LoadedTable>,
        load: LoadReport,
        as_of: NaiveDate,
        engine: &EngineSettings,
    ) -> Result<Session, SessionError> {
        crate::query::guard_stack();
        // DATAFUSION_* variables tune the engine (e.g.
        // DATAFUSION_EXECUTION_TARGET_PARTITIONS); ours are set on top.
        let (config, warnings) = crate::settings::session_config()?;
        let config = config
            .with_information_schema(true)
            .set_bool("datafusion.sql_parser.collect_spans", true)
            // For errors that name the memory limit (see `query`).
            .with_extension(Arc::new(engine.clone()));
        let ctx = SessionContext::new_with_config_rt(config, engine.runtime()?);
        for table in tables {
            register_batch(&ctx, table.entity.table(), table.batch)?;
        }
        let (summary, rejects) = load_report_batches(&load);
        register_batch(&ctx, "load_report", summary)?;
        register_batch(&ctx, "load_rejects", rejects)?;

        let views = [
            (
                "deal_features",
                deal_features_sql(as_of, ActivitySource::AsOfSnapshot),
            ),
            (
                "report_dates",
                crate::pipeline_changes::report_dates_sql(as_of),
            ),
            (
                "pipeline_changes",
                crate::pipeline_changes::pipeline_changes_sql(as_of),
            ),
        ];
        for (name, sql) in views {
            register_view(&ctx, name, sql).await?;
        }
        // The functions that need no model (see `attach` for the rest).
        for function in ml::functions::all(None, None) {
            ctx.register_udf(function);
        }
        Ok(Session {
            ctx,
            as_of,
            load,
            models: None,
            scores: None,
            forecast: None,
            engine: engine.clone(),
            warnings,
            cache_in_background: false,
            notice: None,
        })
    }
}

async fn register_view(ctx: &SessionContext, name: &str, sql: String) -> Result<(), SessionError> {
    let err = |source| SessionError::Register {
        name: name.to_string(),
        source,
    };
    let plan = ctx.state().create_logical_plan(&sql).await.map_err(err)?;
    ctx.register_table(
        name,
        Arc::new(datafusion::catalog::view::ViewTable::new(plan, Some(sql))),
    )
    .map_err(err)?;
    Ok(())
}

fn register_batch(
    ctx: &SessionContext,
    name: &str,
    batch: RecordBatch,
) -> Result<(), SessionError> {
    let err = |source| SessionError::Register {
        name: name.to_string(),
        source,
    };
    let table =
        MemTable::try_new(batch.schema(), vec![in_slices(&batch).map_err(err)?]).map_err(err)?;
    ctx.register_table(name, Arc::new(table)).map_err(err)?;
    Ok(())
}

/// Rows per batch a loaded table is served in: the engine's own batch size.
const SLICE_ROWS: usize = 8192;

/// `batch` cut into batches of [`SLICE_ROWS`] rows, in order, each with
/// buffers of its own. Served as one batch, a million-deal table reaches
/// every operator in one piece that a sort must reserve whole and cannot
/// spill in parts, so a query that fits in pieces failed its memory limit.
/// (Zero-copy slices would not do: the engine counts a slice's memory as
/// its whole underlying buffers.)
fn in_slices(batch: &RecordBatch) -> Result<Vec<RecordBatch>, DataFusionError> {
    if batch.num_rows() <= SLICE_ROWS {
        return Ok(vec![batch.clone()]);
    }
    (0..batch.num_rows())
        .step_by(SLICE_ROWS)
        .map(|start| {
            let rows = SLICE_ROWS.min(batch.num_rows() - start);
            let slice = batch.slice(start, rows);
            let all = datafusion::arrow::array::UInt32Array::from_iter_values(0..rows as u32);
            let columns = slice
                .columns()
                .iter()
                .map(|c| datafusion::arrow::compute::take(c.as_ref(), &all, None))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RecordBatch::try_new(batch.schema(), columns)?)
        })
        .collect()
}

/// The latest date any stage change happened: the data's natural as-of date
/// when nothing else says.
fn latest_history_date(tables: &[LoadedTable]) -> Option<NaiveDate> {
    let history = tables.iter().find(|t| t.entity == Entity::StageHistory)?;
    let entered = history
        .batch
        .column_by_name("entered_at")?
        .as_any()
        .downcast_ref::<Date32Array>()?;
    let max = datafusion::arrow::compute::max(entered)?;
    Date32Array::from(vec![max]).value_as_date(0)
}

/// `load_report` (one row per file) and `load_rejects` (one row per rejected row).
fn load_report_batches(load: &LoadReport) -> (RecordBatch, RecordBatch) {
    let text = |values: Vec<Option<String>>| -> ArrayRef { Arc::new(StringArray::from(values)) };
    let count = |values: Vec<u64>| -> ArrayRef { Arc::new(UInt64Array::from(values)) };
    let files = &load.files;
    let summary_schema = Arc::new(Schema::new(vec![
        Field::new("table_name", DataType::Utf8, true),
        Field::new("file", DataType::Utf8, true),
        Field::new("rows_read", DataType::UInt64, false),
        Field::new("rows_loaded", DataType::UInt64, false),
        Field::new("rows_rejected", DataType::UInt64, false),
    ]));
    let summary = RecordBatch::try_new(
        summary_schema,
        vec![
            text(files.iter().map(|f| Some(f.table.clone())).collect()),
            text(
                files
                    .iter()
                    .map(|f| Some(f.file.display().to_string()))
                    .collect(),
            ),
            count(files.iter().map(|f| f.rows_read).collect()),
            count(files.iter().map(|f| f.rows_loaded).collect()),
            count(files.iter().map(|f| f.rows_rejected()).collect()),
        ],
    )
    .expect("load_report columns match their schema");

    let rows: Vec<(&str, &sources::RejectedRow)> = files
        .iter()
        .flat_map(|f| f.rejected.iter().map(move |r| (f.table.as_str(), r)))
        .collect();
    let rejects_schema = Arc::new(Schema::new(vec![
        Field::new("table_name", DataType::Utf8, true),
        Field::new("file", DataType::Utf8, true),
        Field::new("line", DataType::UInt64, false),
        Field::new("field", DataType::Utf8, true),
        Field::new("value", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, true),
    ]));
    let rejects = RecordBatch::try_new(
        rejects_schema,
        vec![
            text(rows.iter().map(|(t, _)| Some(t.to_string())).collect()),
            text(
                rows.iter()
                    .map(|(_, r)| Some(r.file.display().to_string()))
                    .collect(),
            ),
            count(rows.iter().map(|(_, r)| r.line).collect()),
            text(rows.iter().map(|(_, r)| r.field.clone()).collect()),
            text(rows.iter().map(|(_, r)| r.value.clone()).collect()),
            text(rows.iter().map(|(_, r)| Some(r.reason.clone())).collect()),
        ],
    )
    .expect("load_rejects columns match their schema");
    (summary, rejects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    /// A sort over a loaded table bigger than its memory share spills and
    /// answers: served as one batch, the sort had to hold the table whole
    /// and failed ("Resources exhausted").
    #[tokio::test]
    async fn a_table_bigger_than_the_memory_limit_sorts_by_spilling() {
        let engine = EngineSettings {
            memory_limit: 4 << 20,
            ..EngineSettings::default()
        };
        // The merge's own reservation (10 MB by default) must fit the pool.
        let config = datafusion::prelude::SessionConfig::new().set_usize(
            "datafusion.execution.sort_spill_reservation_bytes",
            256 << 10,
        );
        let ctx = SessionContext::new_with_config_rt(config, engine.runtime().unwrap());
        let rows = 1_000_000i64; // 8 MB of values: twice the limit
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from_iter_values(
                (0..rows).map(|i| (i * 7919) % rows),
            ))],
        )
        .unwrap();
        register_batch(&ctx, "t", batch).unwrap();
        let sorted = ctx
            .sql("SELECT x FROM t ORDER BY x DESC")
            .await
            .unwrap()
            .collect()
            .await
            .expect("the sort spills instead of failing");
        let first = sorted[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(first, rows - 1);
        assert_eq!(
            sorted.iter().map(RecordBatch::num_rows).sum::<usize>(),
            rows as usize
        );
    }
}
