//! The forecast as tables: `forecast` and `forecast_by_group`, simulated
//! from the scored deals (the book behind `forecast_quantile` too) and
//! cached on disk per (data, models, periods, seed, simulations, track
//! record). The band's quarter-wide swing comes from the last backtest's
//! misses (`crate::track_record`); before any backtest it is the
//! simulation's own, and the `swing_cutoffs` column says 0.

use crate::caches::Cache;
use crate::scoring::{self, ScoringError};
use crate::session::Session;
use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, RecordBatch, StringArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Schema};
use datafusion::catalog::MemTable;
use ml::book::ForecastBook;
use ml::new_pipeline::{CreatedDeal, NewPipeline, Scales};
use ml::simulation::{OpenDeal, Part, Period, DEFAULT_SEED, DEFAULT_SIMULATIONS};
use ml::track_record::TrackRecord;
use ml::trained::Models;
use std::sync::Arc;

/// Groupings of `forecast_by_group`: dimension name and the SQL giving it.
const DIMENSIONS: [(&str, &str); 3] = [
    ("owner", "COALESCE(r.name, d.owner_id, 'Unknown')"),
    ("team", "COALESCE(r.team, 'Unknown')"),
    ("segment", "COALESCE(a.segment, 'Unknown')"),
];

/// The tables `forecast_by_group` reads besides what the scores read: its
/// groups are reps' names and teams and accounts' segments (see
/// [`DIMENSIONS`]), so renaming a rep or moving one to another team
/// changes it though no score changes.
pub const GROUP_TABLES: [&str; 2] = ["reps", "accounts"];

/// Rows of open deals, won deals and every deal's creation (for the new
/// pipeline) with their groups, and the volume scales of past quarters.
struct Inputs {
    open: RecordBatch,
    won: RecordBatch,
    history: RecordBatch,
    scales: Scales,
    record: TrackRecord,
}

async fn inputs(session: &Session, record: TrackRecord) -> Result<Inputs, ScoringError> {
    let groups = DIMENSIONS
        .iter()
        .map(|(name, expr)| format!("{expr} AS {name}"))
        .collect::<Vec<_>>()
        .join(", ");
    let open = format!(
        "SELECT COALESCE(s.amount, 0.0) AS amount, s.win_prob, s.ttc_p10_days, s.ttc_p50_days, s.ttc_p90_days, {groups}
         FROM deal_scores s JOIN deals d ON d.deal_id = s.deal_id
         LEFT JOIN reps r ON r.rep_id = d.owner_id LEFT JOIN accounts a ON a.account_id = d.account_id
         ORDER BY s.deal_id"
    );
    let won = format!(
        "SELECT d.closed_date, COALESCE(d.amount, 0.0) AS amount, {groups}
         FROM deals d LEFT JOIN reps r ON r.rep_id = d.owner_id LEFT JOIN accounts a ON a.account_id = d.account_id
         WHERE d.outcome = 'won' AND d.closed_date <= DATE '{}' ORDER BY d.deal_id",
        session.as_of
    );
    let history = session
        .batch(&history_sql(session.as_of, &format!(", {groups}")))
        .await?;
    let scales = Scales::of(&created_deals(&history, None), session.as_of);
    Ok(Inputs {
        open: session.batch(&open).await?,
        won: session.batch(&won).await?,
        history,
        scales,
        record,
    })
}

/// Every deal created by `as_of`: its creation date, win date (if won by
/// then), amount and the `groups` columns (", …", or none).
fn history_sql(as_of: NaiveDate, groups: &str) -> String {
    format!(
        "SELECT d.created_date, CASE WHEN d.outcome = 'won' AND d.closed_date <= DATE '{as_of}' THEN d.closed_date END AS won_date,
                COALESCE(d.amount, 0.0) AS amount{groups}
         FROM deals d LEFT JOIN reps r ON r.rep_id = d.owner_id LEFT JOIN accounts a ON a.account_id = d.account_id
         WHERE d.created_date <= DATE '{as_of}' ORDER BY d.deal_id"
    )
}

/// Every deal's creation, win date (if won) and amount up to the session's
/// as-of date: what the new pipeline learns from.
pub(crate) async fn creation_history(session: &Session) -> Result<Vec<CreatedDeal>, ScoringError> {
    let history = session.batch(&history_sql(session.as_of, "")).await?;
    Ok(created_deals(&history, None))
}

/// The history rows (all, or the given ones) as the new pipeline reads them.
fn created_deals(history: &RecordBatch, rows: Option<&[usize]>) -> Vec<CreatedDeal> {
    let date = |name: &str| {
        history
            .column_by_name(name)
            .expect("history has its columns")
            .as_primitive::<Date32Type>()
            .clone()
    };
    let (created, won) = (date("created_date"), date("won_date"));
    let amount = floats(history, "amount");
    let all: Vec<usize>;
    let rows = match rows {
        Some(rows) => rows,
        None => {
            all = (0..history.num_rows()).collect();
            &all
        }
    };
    rows.iter()
        .filter(|&&i| !created.is_null(i))
        .map(|&i| CreatedDeal {
            created: ml::time::days_to_date(created.value(i)),
            won: (!won.is_null(i)).then(|| ml::time::days_to_date(won.value(i))),
            amount: amount.value(i),
        })
        .collect()
}

fn floats(batch: &RecordBatch, name: &str) -> Float64Array {
    let c = batch
        .column_by_name(name)
        .expect("forecast inputs have their columns");
    datafusion::arrow::compute::cast(c, &DataType::Float64)
        .expect("numeric columns cast to Float64")
        .as_primitive::<Float64Type>()
        .clone()
}

/// Which rows of the inputs a book covers: all, or the given open and won rows.
#[derive(Clone, Copy)]
enum Rows<'a> {
    All,
    Only {
        open: &'a [usize],
        won: &'a [usize],
        history: &'a [usize],
    },
}

/// The book for the deals (and won deals) of `rows`.
fn book(as_of: NaiveDate, inputs: &Inputs, rows: Rows<'_>, key: &str) -> ForecastBook {
    let (open_rows, won_rows, history): (Vec<usize>, Vec<usize>, Vec<CreatedDeal>) = match rows {
        Rows::All => (
            (0..inputs.open.num_rows()).collect(),
            (0..inputs.won.num_rows()).collect(),
            created_deals(&inputs.history, None),
        ),
        Rows::Only { open, won, history } => (
            open.to_vec(),
            won.to_vec(),
            created_deals(&inputs.history, Some(history)),
        ),
    };
    let new_pipeline = NewPipeline::learn(&history, as_of, &inputs.scales);
    let o = &inputs.open;
    let (amount, p, q10, q50, q90) = (
        floats(o, "amount"),
        floats(o, "win_prob"),
        floats(o, "ttc_p10_days"),
        floats(o, "ttc_p50_days"),
        floats(o, "ttc_p90_days"),
    );
    let deals = open_rows
        .iter()
        .map(|&i| OpenDeal {
            amount: amount.value(i),
            win_prob: if p.is_null(i) { 0.0 } else { p.value(i) },
            days_to_close: [q10.value(i), q50.value(i), q90.value(i)],
        })
        .collect();
    let w = &inputs.won;
    let dates = w
        .column_by_name("closed_date")
        .expect("closed_date")
        .as_primitive::<Date32Type>();
    let won_amount = floats(w, "amount");
    let won = won_rows
        .iter()
        .filter(|&&i| !dates.is_null(i))
        .map(|&i| (ml::time::days_to_date(dates.value(i)), won_amount.value(i)))
        .collect();
    ForecastBook::new(
        as_of,
        deals,
        won,
        DEFAULT_SIMULATIONS,
        DEFAULT_SEED,
        key.to_string(),
    )
    .with_new_pipeline(new_pipeline)
    .with_track_record(inputs.record.clone())
}

fn schema(grouped: bool) -> Arc<Schema> {
    let mut fields = Vec::new();
    if grouped {
        fields.push(Field::new("dimension", DataType::Utf8, false));
        fields.push(Field::new("group_name", DataType::Utf8, false));
    }
    fields.extend([
        Field::new("period_start", DataType::Date32, false),
        Field::new("period_end", DataType::Date32, false),
        Field::new("closed_won_to_date", DataType::Float64, false),
        Field::new("existing_pipeline", DataType::Float64, false),
        Field::new("new_pipeline", DataType::Float64, false),
        Field::new("expected", DataType::Float64, false),
        Field::new("p10", DataType::Float64, false),
        Field::new("p50", DataType::Float64, false),
        Field::new("p90", DataType::Float64, false),
        Field::new("existing_p10", DataType::Float64, false),
        Field::new("existing_p90", DataType::Float64, false),
        Field::new("new_p10", DataType::Float64, false),
        Field::new("new_p90", DataType::Float64, false),
        Field::new("swing_sd", DataType::Float64, false),
        Field::new("swing_cutoffs", DataType::UInt64, false),
        Field::new("open_deals_counted", DataType::UInt64, false),
        Field::new("simulations", DataType::UInt64, false),
        Field::new("seed", DataType::UInt64, false),
    ]);
    Arc::new(Schema::new(fields))
}

/// One forecast row to build: the group it is for (dimension, name), if
/// any, the book and the period.
type ForecastRow<'a> = (Option<(&'a str, String)>, &'a ForecastBook, Period);

/// One row per (group, period) of `books`.
fn table(rows: &[ForecastRow<'_>]) -> RecordBatch {
    let grouped = rows.first().is_some_and(|r| r.0.is_some());
    let sims: Vec<_> = rows
        .iter()
        .map(|(_, b, p)| (b.simulation(*p), *b, *p))
        .collect();
    let f = |g: &dyn Fn(&ml::simulation::Simulation) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(
            sims.iter().map(|(s, _, _)| g(s)).collect::<Vec<_>>(),
        ))
    };
    let day = |d: NaiveDate| ml::time::date_to_days(d);
    let mut columns: Vec<ArrayRef> = Vec::new();
    if grouped {
        columns.push(Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.0.as_ref().map_or("", |g| g.0)),
        )));
        columns
            .push(Arc::new(StringArray::from_iter_values(rows.iter().map(
                |r| r.0.as_ref().map_or(String::new(), |g| g.1.clone()),
            ))));
    }
    columns.extend([
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| day(r.2.start)),
        )) as ArrayRef,
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| day(r.2.end)),
        )),
        f(&|s| s.closed_won_to_date),
        f(&|s| s.expected - s.new_expected - s.closed_won_to_date),
        f(&|s| s.new_expected),
        f(&|s| s.expected),
        f(&|s| s.quantile(0.1)),
        f(&|s| s.quantile(0.5)),
        f(&|s| s.quantile(0.9)),
        f(&|s| s.part_quantile(Part::Existing, 0.1)),
        f(&|s| s.part_quantile(Part::Existing, 0.9)),
        f(&|s| s.part_quantile(Part::New, 0.1)),
        f(&|s| s.part_quantile(Part::New, 0.9)),
        f(&|s| s.swing_sd),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(
            |(_, b, p)| b.track_record.swing(b.as_of, *p).cutoffs as u64,
        ))),
        Arc::new(UInt64Array::from_iter_values(
            sims.iter().map(|(s, _, _)| s.open_deals_counted as u64),
        )),
        Arc::new(UInt64Array::from_iter_values(
            sims.iter().map(|(_, b, _)| b.simulations as u64),
        )),
        Arc::new(UInt64Array::from_iter_values(
            sims.iter().map(|(_, b, _)| b.seed),
        )),
    ]);
    RecordBatch::try_new(schema(grouped), columns).expect("forecast columns match their schema")
}

/// Registers `forecast` (this quarter and the next) and `forecast_by_group`
/// (this quarter by owner, team and segment), and keeps the book (which
/// `forecast_quantile` reads) in `session.forecast`; a book already there
/// (an earlier session's, see [`Session::continue_from`]) is where the
/// simulations start from. `record` (the last backtest's misses) sets the
/// band's quarter-wide swing.
pub async fn register(
    session: &mut Session,
    models: &Models,
    cache: &Cache,
    record: TrackRecord,
) -> Result<(), ScoringError> {
    let this_quarter = Period::quarter_of(session.as_of);
    let periods = [this_quarter, this_quarter.next_quarter()];
    let key = ml::trained::fingerprint(&[
        scoring::cache_key(session, models).as_bytes(),
        format!("{periods:?}/{DEFAULT_SIMULATIONS}/{DEFAULT_SEED}").as_bytes(),
        record.key().as_bytes(),
    ]);
    let inputs = inputs(session, record).await?;
    let mut all = book(session.as_of, &inputs, Rows::All, &key);
    if let Some(earlier) = &session.forecast {
        all = all.reusing(earlier);
    }
    let all = Arc::new(all);
    session.forecast = Some(all.clone());

    let forecast_name = format!("forecast-{key}.arrow");
    let groups: Vec<String> = GROUP_TABLES.iter().map(|t| t.to_string()).collect();
    let grouped_key =
        ml::trained::fingerprint(&[key.as_bytes(), session.fingerprint_of(&groups).as_bytes()]);
    let grouped_name = format!("forecast_by_group-{grouped_key}.arrow");
    let forecast = match cache.read(&forecast_name) {
        Some(batch) => batch,
        None => {
            let batch = table(
                &periods
                    .iter()
                    .map(|p| (None, all.as_ref(), *p))
                    .collect::<Vec<_>>(),
            );
            cache.write(&forecast_name, &batch, "forecast-")?;
            batch
        }
    };
    // By group it is many simulations, and few reports read it: made on
    // first read (then cached on disk like the rest).
    let grouped: Arc<dyn datafusion::catalog::TableProvider> = match cache.read(&grouped_name) {
        Some(batch) => Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?),
        None => {
            let as_of = session.as_of;
            let inputs = Arc::new(inputs);
            let cache = cache.clone();
            let none = Rows::Only {
                open: &[],
                won: &[],
                history: &[],
            };
            let empty = book(as_of, &inputs, none, &key);
            let schema = table(&[(Some(("owner", String::new())), &empty, this_quarter)]).schema();
            Arc::new(crate::lazy_table::LazyTable::new(
                schema,
                Box::new(move || {
                    let batch = grouped_table(as_of, &inputs, &key, this_quarter);
                    cache
                        .write(&grouped_name, &batch, "forecast_by_group-")
                        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
                    Ok(batch)
                }),
            ))
        }
    };
    let forecast: Arc<dyn datafusion::catalog::TableProvider> =
        Arc::new(MemTable::try_new(forecast.schema(), vec![vec![forecast]])?);
    for (name, table) in [("forecast_by_group", grouped), ("forecast", forecast)] {
        let _ = session.ctx.deregister_table(name);
        session.ctx.register_table(name, table)?;
    }
    Ok(())
}

/// `forecast_by_group`: one simulation per owner, team and segment. Rows
/// are grouped in one pass per dimension, so the work grows with the rows
/// and the groups, not with their product.
fn grouped_table(as_of: NaiveDate, inputs: &Inputs, key: &str, quarter: Period) -> RecordBatch {
    let mut books = Vec::new();
    for (dim, _) in DIMENSIONS {
        // Group name → (open rows, won rows, history rows), by name.
        type Sides = (Vec<usize>, Vec<usize>, Vec<usize>);
        let mut groups: std::collections::BTreeMap<&str, Sides> = std::collections::BTreeMap::new();
        for (side, batch) in [&inputs.open, &inputs.won, &inputs.history]
            .into_iter()
            .enumerate()
        {
            let c = batch
                .column_by_name(dim)
                .expect("group column")
                .as_string::<i32>();
            for (i, name) in c.iter().enumerate() {
                if let Some(name) = name {
                    let entry = groups.entry(name).or_default();
                    match side {
                        0 => entry.0.push(i),
                        1 => entry.1.push(i),
                        _ => entry.2.push(i),
                    }
                }
            }
        }
        for (name, (open, won, history)) in &groups {
            let rows = Rows::Only { open, won, history };
            books.push((dim, name.to_string(), book(as_of, inputs, rows, key)));
        }
    }
    let rows: Vec<_> = books
        .iter()
        .map(|(dim, name, b)| (Some((*dim, name.clone())), b, quarter))
        .collect();
    table(&rows)
}
