//! Forecast backtest: how far can the forecast band be trusted?
//!
//! For past cut-offs (the first day of each of the last complete quarters),
//! the pipeline is rebuilt as it stood then from stage history, models are
//! trained on what was known then, that quarter is forecast, and the forecast
//! is compared with the revenue actually won in the quarter.

use crate::project::Project;
use crate::session::Session;
use crate::sources::{Entity, LoadReport, LoadedTable};
use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, RecordBatch,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use ml::simulation::Period;
use ml::stages::{LOST, WON};
use ml::trained::Models;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    #[error("training at the cut-off: {0}")]
    Train(#[from] ml::train::TrainError),
    #[error(transparent)]
    Model(#[from] ml::trained::ModelError),
    #[error(transparent)]
    Attach(#[from] crate::attach::AttachError),
    #[error(transparent)]
    Cache(#[from] crate::caches::CacheError),
    #[error("scratch folder: {0}")]
    Io(#[from] std::io::Error),
}

/// File under the models folder holding the last backtest, as Arrow IPC.
pub const BACKTEST_FILE: &str = "backtest.arrow";

/// One cut-off's result.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestRow {
    pub cutoff: NaiveDate,
    pub period: Period,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub actual: f64,
}

impl BacktestRow {
    pub fn inside(&self) -> bool {
        self.p10 <= self.actual && self.actual <= self.p90
    }

    /// Absolute percentage error of P50 against the actual, as a fraction.
    pub fn ape(&self) -> f64 {
        (self.p50 - self.actual).abs() / self.actual.abs().max(1e-9)
    }
}

/// The most quarters a backtest looks back (ten years).
pub const MAX_QUARTERS: usize = 40;

/// The first days of the `quarters` complete quarters (at most
/// [`MAX_QUARTERS`]) before the as-of date's quarter, oldest first.
pub fn cutoffs(as_of: NaiveDate, quarters: usize) -> Vec<NaiveDate> {
    let mut q = Period::quarter_of(as_of);
    let mut out = Vec::new();
    for _ in 0..quarters.min(MAX_QUARTERS) {
        let Some(before) = q.start.pred_opt() else {
            break;
        };
        q = Period::quarter_of(before);
        out.push(q.start);
    }
    out.reverse();
    out
}

async fn collect(session: &Session, sql: &str) -> Result<RecordBatch, BacktestError> {
    let df = session.ctx.sql(sql).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    Ok(concat_batches(&schema, &df.collect().await?)?)
}

/// The tables as they stood at the end of day `t`.
async fn tables_as_of(full: &Session, t: NaiveDate) -> Result<Vec<LoadedTable>, BacktestError> {
    let t = format!("DATE '{t}'");
    let deals = format!(
        "WITH h AS (SELECT * FROM stage_history WHERE entered_at <= {t} AND (exited_at IS NULL OR exited_at > {t}))
         SELECT d.deal_id, d.name, d.account_id, d.owner_id, d.product_id, h.amount, d.currency, h.stage,
                h.forecast_category, d.created_date, h.close_date,
                CASE WHEN h.stage IN ('{WON}', '{LOST}') THEN h.entered_at END AS closed_date,
                CASE h.stage WHEN '{WON}' THEN 'won' WHEN '{LOST}' THEN 'lost' ELSE 'open' END AS outcome,
                d.lead_source, d.deal_type, CAST(NULL AS DATE) AS last_activity_date
         FROM deals d JOIN h ON h.deal_id = d.deal_id
         WHERE d.created_date <= {t} ORDER BY d.deal_id"
    );
    let history = format!(
        "SELECT deal_id, stage, entered_at, CASE WHEN exited_at > {t} THEN NULL ELSE exited_at END AS exited_at,
                amount, close_date, forecast_category
         FROM stage_history WHERE entered_at <= {t} ORDER BY deal_id, entered_at"
    );
    let mut tables = Vec::new();
    for entity in Entity::ALL {
        let sql = match entity {
            Entity::Deals => deals.clone(),
            Entity::StageHistory => history.clone(),
            other => format!("SELECT * FROM {}", other.table()),
        };
        tables.push(LoadedTable {
            entity,
            batch: collect(full, &sql).await?,
        });
    }
    Ok(tables)
}

/// Runs the backtest over `quarters` past quarters; `progress` hears about each cut-off.
pub async fn run(
    full: &Session,
    project: &Project,
    quarters: usize,
    progress: &dyn Fn(&str),
) -> Result<Vec<BacktestRow>, BacktestError> {
    let mut rows = Vec::new();
    for cutoff in cutoffs(full.as_of, quarters) {
        progress(&format!(
            "cut-off {cutoff}: rebuilding the pipeline and training"
        ));
        let period = Period::quarter_of(cutoff);
        let mut past = Session::from_tables(
            tables_as_of(full, cutoff).await?,
            LoadReport::default(),
            cutoff,
            &full.engine,
        )
        .await?;
        let scratch = tempfile::tempdir()?;
        let mut past_project = project.clone();
        past_project.models_dir = scratch.path().to_path_buf();
        crate::models::train(&past, &past_project, &|_| {}).await?;
        crate::attach::attach(&mut past, &past_project, Models::load(scratch.path())?).await?;
        let forecast = collect(
            &past,
            &format!(
                "SELECT p10, p50, p90 FROM forecast WHERE period_start = DATE '{}'",
                period.start
            ),
        )
        .await?;
        let value = |c: usize| forecast.column(c).as_primitive::<Float64Type>().value(0);
        let actual = collect(
            full,
            &format!(
                "SELECT CAST(COALESCE(sum(amount), 0) AS DOUBLE) FROM deals
                 WHERE outcome = 'won' AND closed_date BETWEEN DATE '{}' AND DATE '{}'",
                period.start, period.end
            ),
        )
        .await?;
        rows.push(BacktestRow {
            cutoff,
            period,
            p10: value(0),
            p50: value(1),
            p90: value(2),
            actual: actual.column(0).as_primitive::<Float64Type>().value(0),
        });
    }
    Ok(rows)
}

/// Saves the backtest where the session finds it as the `backtest` table;
/// returns the file's path.
pub fn save(project: &Project, rows: &[BacktestRow]) -> Result<std::path::PathBuf, BacktestError> {
    let path = project.models_dir.join(BACKTEST_FILE);
    crate::caches::write_arrow(&path, &to_batch(rows))?;
    Ok(path)
}

/// Registers the last backtest as the `backtest` table: empty (with its
/// columns) when none was run, so reports can say so instead of failing.
pub fn register(session: &Session, project: &Project) -> Result<(), BacktestError> {
    let batch = crate::caches::read_arrow(&project.models_dir.join(BACKTEST_FILE))
        .unwrap_or_else(|| to_batch(&[]));
    let table = datafusion::catalog::MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    let _ = session.ctx.deregister_table("backtest");
    session.ctx.register_table("backtest", Arc::new(table))?;
    Ok(())
}

/// The backtest as a table: one row per cut-off.
pub fn to_batch(rows: &[BacktestRow]) -> RecordBatch {
    let day = |d: NaiveDate| ml::time::date_to_days(d);
    let f = |g: &dyn Fn(&BacktestRow) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rows.iter().map(g)))
    };
    let schema = Schema::new(vec![
        Field::new("cutoff", DataType::Date32, false),
        Field::new("period_start", DataType::Date32, false),
        Field::new("period_end", DataType::Date32, false),
        Field::new("p10", DataType::Float64, false),
        Field::new("p50", DataType::Float64, false),
        Field::new("p90", DataType::Float64, false),
        Field::new("actual", DataType::Float64, false),
        Field::new("inside_p10_p90", DataType::Boolean, false),
        Field::new("ape_p50", DataType::Float64, false),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| day(r.cutoff)),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| day(r.period.start)),
            )),
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| day(r.period.end)),
            )),
            f(&|r| r.p10),
            f(&|r| r.p50),
            f(&|r| r.p90),
            f(&|r| r.actual),
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.inside()).collect::<Vec<_>>(),
            )),
            f(&|r| r.ape()),
        ],
    )
    .expect("backtest columns match their schema")
}
