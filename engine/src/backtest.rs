//! Forecast backtest: how far can the forecast band be trusted, and is it
//! better than what a team would do without it?
//!
//! For every week of the last complete quarters (cut-off = quarter start +
//! 7·w days, w = 0…12), the quarter is forecast as it stood at the cut-off
//! and compared with the revenue actually won in it:
//!
//! * **The pipeline as it stood**: features of the deals open at the
//!   cut-off, computed from stage history up to it (the same SQL training
//!   snapshots use), so no later amount, stage or date is seen.
//! * **Models known then**: both models are retrained once per quarter, on
//!   the data as it stood on the quarter's first day (tables rebuilt from
//!   stage history), and used for that quarter's 13 weekly cut-offs. Their
//!   inputs at a cut-off are as of that cut-off.
//! * **New pipeline known then**: learned at each cut-off from deals created
//!   and won by it ([`ml::new_pipeline`]).
//! * **Band known then**: the quarter-wide swing that widens the band
//!   ([`ml::track_record`]) is learned from the misses of the quarters
//!   already backtested, all of them over before the quarter being forecast
//!   began (quarters run oldest first). The first quarter has none to learn
//!   from: its band is the simulation's own. The live forecast learns from
//!   the whole saved backtest.
//! * **Baselines on the same cut-offs**: (a) the stage-weighted pipeline,
//!   each open deal expected to close in the quarter times its stage's
//!   historical win rate (deals closed before the quarter began), plus won to
//!   date; (b) the CRM's forecast categories: won to date + Commit as P50
//!   (and P10, as the CRM has no lower number), plus Best Case as P90.
//!
//! Nothing after a cut-off is read to make its forecast; the actual is the
//! only thing read from after it.

use crate::project::Project;
use crate::session::Session;
use crate::sources::{Entity, LoadReport, LoadedTable};
use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, RecordBatch, StringArray,
    UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Schema};
use ml::book::ForecastBook;
use ml::features::ActivitySource;
use ml::new_pipeline::{CreatedDeal, NewPipeline, Scales};
use ml::simulation::{Period, DEFAULT_SEED, DEFAULT_SIMULATIONS};
use ml::stages::{LOST, OPEN_STAGES, WON};
use ml::track_record::{Miss, TrackRecord};
use ml::trained::Models;
use std::collections::HashMap;
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
    #[error(transparent)]
    Scoring(#[from] crate::scoring::ScoringError),
    #[error("backtest input has no column {0}")]
    Missing(String),
}

pub use crate::track_record::BACKTEST_FILE;

/// Quarters a backtest covers unless told otherwise.
pub const DEFAULT_QUARTERS: usize = 8;

/// One cut-off's result.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestRow {
    pub cutoff: NaiveDate,
    pub period: Period,
    /// Whole weeks from the quarter's start to the cut-off (0–12).
    pub week: u32,
    pub won_to_date: f64,
    /// Expected revenue from the deals open at the cut-off.
    pub existing_pipeline: f64,
    /// Expected revenue from deals not created yet.
    pub new_pipeline: f64,
    /// Standard deviation of the revenue still to come with deals
    /// independent: the simulation's own band, before the swing.
    pub own_sd: f64,
    /// Standard deviation of the quarter-wide swing applied (a fraction of
    /// the revenue still to come; 0 when none was learned yet).
    pub swing_sd: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub actual: f64,
    /// Baseline (a): won to date + Σ stage win rate × amount.
    pub stage_weighted: f64,
    /// Baseline (b): won to date + Commit.
    pub crm_p50: f64,
    /// Baseline (b): won to date + Commit + Best Case.
    pub crm_p90: f64,
}

/// Pinball (quantile) loss of forecasting `q` at level `tau` when `actual` came.
pub fn pinball(actual: f64, q: f64, tau: f64) -> f64 {
    let d = actual - q;
    (tau * d).max((tau - 1.0) * d)
}

impl BacktestRow {
    pub fn inside(&self) -> bool {
        self.p10 <= self.actual && self.actual <= self.p90
    }

    /// Absolute percentage error of P50 against the actual, as a fraction.
    pub fn ape(&self) -> f64 {
        self.error().abs()
    }

    /// P50 / actual − 1: positive when the forecast ran high.
    pub fn error(&self) -> f64 {
        (self.p50 - self.actual) / self.actual.abs().max(1e-9)
    }

    /// What this cut-off teaches later forecasts' bands.
    pub fn miss(&self) -> Option<Miss> {
        Miss::of(
            self.period.start,
            self.week,
            self.won_to_date,
            self.existing_pipeline + self.new_pipeline,
            self.own_sd,
            self.actual,
        )
    }

    /// Mean pinball loss over P10, P50 and P90.
    pub fn pinball(&self) -> f64 {
        (pinball(self.actual, self.p10, 0.1)
            + pinball(self.actual, self.p50, 0.5)
            + pinball(self.actual, self.p90, 0.9))
            / 3.0
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

/// The weekly cut-offs of a quarter: weeks 0 to 12.
pub fn weekly_cutoffs(quarter: Period) -> Vec<NaiveDate> {
    (0..ml::new_pipeline::WEEKS)
        .map(|w| ml::new_pipeline::week_cutoff(quarter, w))
        .filter(|c| *c <= quarter.end)
        .collect()
}

/// Column `name` of `batch`, cast to `to`.
fn column(batch: &RecordBatch, name: &str, to: &DataType) -> Result<ArrayRef, BacktestError> {
    let c = batch
        .column_by_name(name)
        .ok_or_else(|| BacktestError::Missing(name.to_string()))?;
    Ok(datafusion::arrow::compute::cast(c, to)?)
}

fn floats(batch: &RecordBatch, name: &str) -> Result<Float64Array, BacktestError> {
    Ok(column(batch, name, &DataType::Float64)?
        .as_primitive::<Float64Type>()
        .clone())
}

fn dates(batch: &RecordBatch, name: &str) -> Result<Date32Array, BacktestError> {
    Ok(column(batch, name, &DataType::Date32)?
        .as_primitive::<Date32Type>()
        .clone())
}

fn strings(batch: &RecordBatch, name: &str) -> Result<StringArray, BacktestError> {
    Ok(column(batch, name, &DataType::Utf8)?
        .as_string::<i32>()
        .clone())
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
            batch: full.batch(&sql).await?,
        });
    }
    Ok(tables)
}

/// Historical win rate of each open stage: of the deals that reached it
/// and closed before `before`, the share won.
async fn stage_win_rates(
    full: &Session,
    before: NaiveDate,
) -> Result<HashMap<String, f64>, BacktestError> {
    let stages = OPEN_STAGES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let b = full
        .batch(&format!(
            "WITH closed AS (SELECT deal_id, outcome FROM deals
                             WHERE outcome IN ('won', 'lost') AND closed_date < DATE '{before}'),
                  visits AS (SELECT DISTINCT deal_id, stage FROM stage_history WHERE stage IN ({stages}))
             SELECT v.stage, avg(CASE WHEN c.outcome = 'won' THEN 1.0 ELSE 0.0 END) AS rate
             FROM visits v JOIN closed c ON c.deal_id = v.deal_id GROUP BY v.stage"
        ),
    )
    .await?;
    let (stage, rate) = (strings(&b, "stage")?, floats(&b, "rate")?);
    Ok((0..b.num_rows())
        .map(|i| (stage.value(i).to_string(), rate.value(i)))
        .collect())
}

/// What the backtest measured, and the quarters it could not test.
#[derive(Debug, Clone, Default)]
pub struct Backtest {
    pub rows: Vec<BacktestRow>,
    /// Quarters left out, with the reason (too little history to train on).
    pub skipped: Vec<(Period, String)>,
    /// The data (and as-of date) it was run on, saved with it so that a
    /// build on other data runs it again ([`is_current`]).
    pub data_fingerprint: String,
}

/// Runs the backtest over every week of `quarters` past quarters;
/// `progress` hears (cut-offs done, cut-offs in all, what is happening).
pub async fn run(
    full: &Session,
    project: &Project,
    quarters: usize,
    progress: &dyn Fn(usize, usize, &str),
) -> Result<Backtest, BacktestError> {
    let quarter_starts = cutoffs(full.as_of, quarters);
    let total: usize = quarter_starts
        .iter()
        .map(|s| weekly_cutoffs(Period::quarter_of(*s)).len())
        .sum();
    let history = crate::forecast_tables::creation_history(full).await?;
    let won: Vec<(NaiveDate, f64)> = history
        .iter()
        .filter_map(|d| d.won.map(|w| (w, d.amount)))
        .collect();
    let mut out = Backtest {
        data_fingerprint: full.data_fingerprint(),
        ..Backtest::default()
    };
    let mut done = 0;
    for start in quarter_starts {
        let period = Period::quarter_of(start);
        let weeks = weekly_cutoffs(period);
        progress(
            done,
            total,
            &format!("{start}: training on the data known then"),
        );
        let past = Session::from_tables(
            tables_as_of(full, start).await?,
            LoadReport::default(),
            start,
            &full.engine,
        )
        .await?;
        let scratch = tempfile::tempdir()?;
        let mut past_project = project.clone();
        past_project.models_dir = scratch.path().to_path_buf();
        match crate::models::train(&past, &past_project, &|_| {}).await {
            Ok(_) => {}
            Err(
                e @ (ml::train::TrainError::TooFewOutcomes { .. }
                | ml::train::TrainError::ShortHistory { .. }),
            ) => {
                out.skipped.push((period, e.to_string()));
                done += weeks.len();
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let models = Models::load(scratch.path())?;
        let rates = stage_win_rates(full, start).await?;
        let actual: f64 = won
            .iter()
            .filter(|(d, _)| *d >= period.start && *d <= period.end)
            .map(|(_, a)| a)
            .sum();
        // Every quarter in it ended before this one began.
        let record = TrackRecord::new(out.rows.iter().filter_map(BacktestRow::miss).collect());
        for (w, cutoff) in weeks.into_iter().enumerate() {
            progress(
                done,
                total,
                &format!("{cutoff}: forecasting {}", period.start),
            );
            out.rows.push(
                forecast_at(
                    full, &models, &history, &won, &rates, &record, cutoff, period, actual,
                )
                .await
                .map(|mut r| {
                    r.week = w as u32;
                    r
                })?,
            );
            done += 1;
        }
    }
    progress(done, total, "done");
    Ok(out)
}

/// The forecast and both baselines at one cut-off.
#[allow(clippy::too_many_arguments)]
async fn forecast_at(
    full: &Session,
    models: &Models,
    history: &[CreatedDeal],
    won: &[(NaiveDate, f64)],
    rates: &HashMap<String, f64>,
    record: &TrackRecord,
    cutoff: NaiveDate,
    period: Period,
    actual: f64,
) -> Result<BacktestRow, BacktestError> {
    let features = full
        .batch(&format!(
            "SELECT * FROM ({}) ORDER BY deal_id",
            ml::features::deal_features_sql(cutoff, ActivitySource::HistoryOnly)
        ))
        .await?;
    let deals = crate::scoring::forecast_deals(&features, models)?;
    // Only what was known at the cut-off.
    let known: Vec<CreatedDeal> = history
        .iter()
        .filter(|d| d.created <= cutoff)
        .map(|d| CreatedDeal {
            won: d.won.filter(|w| *w <= cutoff),
            ..*d
        })
        .collect();
    let new_pipeline = NewPipeline::learn(&known, cutoff, &Scales::of(&known, cutoff));
    let won_known: Vec<(NaiveDate, f64)> =
        won.iter().filter(|(d, _)| *d <= cutoff).copied().collect();
    let book = ForecastBook::new(
        cutoff,
        deals,
        won_known,
        DEFAULT_SIMULATIONS,
        DEFAULT_SEED,
        format!("backtest-{cutoff}"),
    )
    .with_new_pipeline(new_pipeline)
    .with_track_record(record.clone());
    let sim = book.simulation(period);
    let won_to_date = sim.closed_won_to_date;

    let (stage, category, amount, close) = (
        strings(&features, "stage")?,
        strings(&features, "forecast_category")?,
        floats(&features, "amount")?,
        dates(&features, "expected_close_date")?,
    );
    let (mut weighted, mut commit, mut best) = (0.0, 0.0, 0.0);
    for i in 0..features.num_rows() {
        if close.is_null(i) || amount.is_null(i) {
            continue;
        }
        let d = ml::time::days_to_date(close.value(i));
        if d < period.start || d > period.end {
            continue;
        }
        let a = amount.value(i);
        if !stage.is_null(i) {
            weighted += rates.get(stage.value(i)).copied().unwrap_or(0.0) * a;
        }
        match (!category.is_null(i)).then(|| category.value(i)) {
            Some("Commit") => commit += a,
            Some("Best Case") => best += a,
            _ => {}
        }
    }
    Ok(BacktestRow {
        cutoff,
        period,
        week: 0,
        won_to_date,
        existing_pipeline: sim.expected - sim.new_expected - won_to_date,
        new_pipeline: sim.new_expected,
        own_sd: sim.own_sd,
        swing_sd: sim.swing_sd,
        p10: sim.quantile(0.1),
        p50: sim.quantile(0.5),
        p90: sim.quantile(0.9),
        actual,
        stage_weighted: won_to_date + weighted,
        crm_p50: won_to_date + commit,
        crm_p90: won_to_date + commit + best,
    })
}

/// Saves the backtest where the session finds it as the `backtest` table;
/// returns the file's path.
pub fn save(project: &Project, backtest: &Backtest) -> Result<std::path::PathBuf, BacktestError> {
    let path = project.models_dir.join(BACKTEST_FILE);
    crate::caches::write_arrow(
        &project.models_dir.join(SKIPPED_FILE),
        &skipped_batch(&backtest.skipped),
    )?;
    let rows = to_batch(&backtest.rows);
    let schema = Arc::new(
        rows.schema()
            .as_ref()
            .clone()
            .with_metadata(HashMap::from([(
                FINGERPRINT_KEY.to_string(),
                backtest.data_fingerprint.clone(),
            )])),
    );
    crate::caches::write_arrow(&path, &rows.with_schema(schema)?)?;
    Ok(path)
}

/// Schema metadata of the saved backtest naming the data it was run on.
const FINGERPRINT_KEY: &str = "revintel.data_fingerprint";

/// Whether the saved backtest was run on the data `session` holds (same
/// sources, same as-of date): if not, its cut-offs saw other deals, and a
/// build runs it again rather than show figures of data no longer there.
pub fn is_current(project: &Project, session: &Session) -> bool {
    saved(project).is_some_and(|batch| {
        batch.schema().metadata().get(FINGERPRINT_KEY) == Some(&session.data_fingerprint())
    })
}

/// File under the models folder listing the quarters the last backtest
/// could not test, with the reason.
pub const SKIPPED_FILE: &str = "backtest_skipped.arrow";

/// The saved backtest, if there is one with today's columns (a file from an
/// older revintel, with other columns, counts as none, so it is run again).
pub fn saved(project: &Project) -> Option<RecordBatch> {
    let batch = crate::caches::read_arrow(&project.models_dir.join(BACKTEST_FILE))?;
    (batch.schema().fields() == to_batch(&[]).schema().fields()).then_some(batch)
}

/// Registers the last backtest as the `backtest` table, its summary as the
/// `backtest_accuracy` view and the quarters it could not test as
/// `backtest_skipped`: empty (with their columns) when none was run, so
/// reports can say so instead of failing.
pub async fn register(session: &Session, project: &Project) -> Result<(), BacktestError> {
    let batch = saved(project).unwrap_or_else(|| to_batch(&[]));
    let skipped = crate::caches::read_arrow(&project.models_dir.join(SKIPPED_FILE))
        .filter(|b| b.schema().fields() == skipped_batch(&[]).schema().fields())
        .unwrap_or_else(|| skipped_batch(&[]));
    for (name, batch) in [("backtest", batch), ("backtest_skipped", skipped)] {
        let table = datafusion::catalog::MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        let _ = session.ctx.deregister_table(name);
        session.ctx.register_table(name, Arc::new(table))?;
    }
    let view = session.ctx.sql(ACCURACY_VIEW).await?.into_view();
    let _ = session.ctx.deregister_table("backtest_accuracy");
    session.ctx.register_table("backtest_accuracy", view)?;
    Ok(())
}

/// `backtest_skipped`: the quarters not tested and why.
fn skipped_batch(skipped: &[(Period, String)]) -> RecordBatch {
    let day = |d: NaiveDate| ml::time::date_to_days(d);
    let schema = Schema::new(vec![
        Field::new("period_start", DataType::Date32, false),
        Field::new("period_end", DataType::Date32, false),
        Field::new("reason", DataType::Utf8, false),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Date32Array::from_iter_values(
                skipped.iter().map(|(p, _)| day(p.start)),
            )),
            Arc::new(Date32Array::from_iter_values(
                skipped.iter().map(|(p, _)| day(p.end)),
            )),
            Arc::new(StringArray::from_iter_values(
                skipped.iter().map(|(_, why)| why.as_str()),
            )),
        ],
    )
    .expect("skipped columns match their schema")
}

/// The backtest as a table: one row per cut-off.
pub fn to_batch(rows: &[BacktestRow]) -> RecordBatch {
    let day = |d: NaiveDate| ml::time::date_to_days(d);
    let f = |g: &dyn Fn(&BacktestRow) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rows.iter().map(g)))
    };
    let date = |g: &dyn Fn(&BacktestRow) -> NaiveDate| -> ArrayRef {
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| day(g(r))),
        ))
    };
    let money = [
        "won_to_date",
        "existing_pipeline",
        "new_pipeline",
        "own_sd",
        "swing_sd",
        "p10",
        "p50",
        "p90",
        "actual",
    ];
    let mut fields = vec![
        Field::new("cutoff", DataType::Date32, false),
        Field::new("weeks_into_quarter", DataType::UInt32, false),
        Field::new("period_start", DataType::Date32, false),
        Field::new("period_end", DataType::Date32, false),
    ];
    fields.extend(
        money
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, false)),
    );
    fields.extend([
        Field::new("inside_p10_p90", DataType::Boolean, false),
        Field::new("error_p50", DataType::Float64, false),
        Field::new("ape_p50", DataType::Float64, false),
        Field::new("pinball", DataType::Float64, false),
        Field::new("stage_weighted", DataType::Float64, false),
        Field::new("crm_p50", DataType::Float64, false),
        Field::new("crm_p90", DataType::Float64, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        date(&|r| r.cutoff),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.week))),
        date(&|r| r.period.start),
        date(&|r| r.period.end),
        f(&|r| r.won_to_date),
        f(&|r| r.existing_pipeline),
        f(&|r| r.new_pipeline),
        f(&|r| r.own_sd),
        f(&|r| r.swing_sd),
        f(&|r| r.p10),
        f(&|r| r.p50),
        f(&|r| r.p90),
        f(&|r| r.actual),
        Arc::new(BooleanArray::from(
            rows.iter().map(|r| r.inside()).collect::<Vec<_>>(),
        )),
        f(&|r| r.error()),
        f(&|r| r.ape()),
        f(&|r| r.pinball()),
        f(&|r| r.stage_weighted),
        f(&|r| r.crm_p50),
        f(&|r| r.crm_p90),
    ];
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("backtest columns match their schema")
}

/// `backtest_accuracy`: per method (the forecast, `stage_weighted`,
/// `crm_categories`) and weeks into the quarter (NULL = all cut-offs):
/// P10–P90 coverage, P50 bias and MAPE (fractions of the actual), and the
/// pinball loss at 0.1, 0.5, 0.9 and their mean (in money).
pub const ACCURACY_VIEW: &str = "
WITH m AS (
  SELECT 'revintel' AS method, weeks_into_quarter, p10, p50, p90, actual FROM backtest
  UNION ALL
  SELECT 'stage_weighted', weeks_into_quarter, stage_weighted AS p10, stage_weighted AS p50,
         stage_weighted AS p90, actual FROM backtest
  UNION ALL
  SELECT 'crm_categories', weeks_into_quarter, crm_p50 AS p10, crm_p50 AS p50, crm_p90 AS p90, actual
  FROM backtest
), l AS (
  SELECT method, weeks_into_quarter, p10, p50, p90, actual,
         greatest(0.1 * (actual - p10), -0.9 * (actual - p10)) AS loss_p10,
         greatest(0.5 * (actual - p50), -0.5 * (actual - p50)) AS loss_p50,
         greatest(0.9 * (actual - p90), -0.1 * (actual - p90)) AS loss_p90
  FROM m WHERE actual > 0
)
SELECT method, weeks_into_quarter, count(*) AS cut_offs,
       avg(CASE WHEN actual BETWEEN p10 AND p90 THEN 1.0 ELSE 0.0 END) AS coverage,
       avg(p50 / actual - 1.0) AS bias,
       avg(abs(p50 / actual - 1.0)) AS mape,
       avg(loss_p10) AS pinball_p10, avg(loss_p50) AS pinball_p50, avg(loss_p90) AS pinball_p90,
       avg((loss_p10 + loss_p50 + loss_p90) / 3.0) AS pinball_mean
FROM l
GROUP BY GROUPING SETS ((method, weeks_into_quarter), (method))
";
