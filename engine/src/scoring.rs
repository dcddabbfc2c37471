//! Scores of every open deal, computed once per (data, models, as-of) and
//! kept on disk, so the shell, reports and later processes reuse them
//! instead of rescoring unchanged data.
//!
//! `deal_scores` holds the `deal_features` columns plus the scores; the
//! `scored_deals` view adds names for people.

use crate::caches::{Cache, CacheError};
use crate::session::Session;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, ListBuilder, RecordBatch, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::catalog::MemTable;
use datafusion::error::DataFusionError;
use ml::encoding::feature_columns;
use ml::functions::risk_score::risk_score;
use ml::functions::shap_top::drivers_array;
use ml::trained::Models;
use std::sync::Arc;

/// Drivers kept per deal in `scored_deals`.
pub const DRIVERS_PER_DEAL: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum ScoringError {
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error(transparent)]
    Model(#[from] ml::trained::ModelError),
    #[error(transparent)]
    Features(#[from] ml::encoding::FeatureError),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// The view over `deal_scores` that people query. `value_at_stake` is what
/// the pipeline would lose with the deal: its amount × (1 − win_prob).
const SCORED_DEALS: &str = "SELECT s.deal_id, d.name AS deal_name, a.name AS account_name, r.name AS owner_name,
       s.owner_id, s.segment, s.deal_type, s.stage, s.forecast_category, s.amount, s.expected_close_date,
       s.days_to_close, s.age_days, s.days_in_stage, s.stage_velocity_ratio, s.close_date_pushes,
       s.days_since_last_activity, s.win_prob, s.risk_score, s.risk_x_value,
       s.amount * (1 - s.win_prob) AS value_at_stake, s.drivers, s.actions,
       s.ttc_p10_days, s.ttc_p50_days, s.ttc_p90_days, s.close_p10, s.close_p50, s.close_p90
FROM deal_scores s
JOIN deals d ON d.deal_id = s.deal_id
LEFT JOIN accounts a ON a.account_id = d.account_id
LEFT JOIN reps r ON r.rep_id = d.owner_id";

/// A chance of winning below this makes an open deal a close-out candidate.
pub const HYGIENE_MAX_WIN_PROB: f64 = 0.05;

/// Below this chance an open deal is a long shot rather than one to rescue:
/// it stays in the pipeline and the forecast but not on the at-risk list
/// (between this and [`HYGIENE_MAX_WIN_PROB`] it is on neither list).
pub const AT_RISK_MIN_WIN_PROB: f64 = 0.10;

/// A close date this many days past makes an open deal a close-out candidate.
pub const HYGIENE_OVERDUE_DAYS: i64 = 60;

/// `pipeline_hygiene`: open deals with a very low chance or a close date
/// long past — dead pipeline that inflates the totals — with the reason,
/// largest first.
fn pipeline_hygiene_sql() -> String {
    format!(
        "SELECT s.*,
                CASE WHEN s.win_prob < {p} AND s.days_to_close < -{d}
                          THEN 'chance under {pct}% and close date ' || CAST(-s.days_to_close AS VARCHAR) || ' days past'
                     WHEN s.win_prob < {p} THEN 'chance under {pct}%'
                     ELSE 'close date ' || CAST(-s.days_to_close AS VARCHAR) || ' days past' END AS reason
         FROM scored_deals s
         WHERE s.win_prob < {p} OR s.days_to_close < -{d}
         ORDER BY s.amount DESC, s.deal_id",
        p = HYGIENE_MAX_WIN_PROB,
        d = HYGIENE_OVERDUE_DAYS,
        pct = (HYGIENE_MAX_WIN_PROB * 100.0).round()
    )
}

/// `at_risk_deals`: deals that matter to this and next quarter's number —
/// expected to close by the end of next quarter, or forecast as Commit or
/// Best Case — that can still be saved (a chance of at least
/// [`AT_RISK_MIN_WIN_PROB`], close date not long past), ranked by the
/// value at stake.
fn at_risk_deals_sql() -> String {
    format!(
        "SELECT s.*
         FROM scored_deals s, report_dates r
         WHERE (s.expected_close_date <= r.next_quarter_end
                OR s.forecast_category IN ('Commit', 'Best Case'))
           AND s.win_prob >= {p} AND NOT (s.days_to_close < -{d})
         ORDER BY s.value_at_stake DESC, s.deal_id",
        p = AT_RISK_MIN_WIN_PROB,
        d = HYGIENE_OVERDUE_DAYS
    )
}

/// The tables the scores are computed from: those `deal_features` reads.
/// (Names of people come in through the `scored_deals` view, so editing a
/// rep's name rescores nothing.)
pub fn scoring_tables() -> Vec<String> {
    // Fixed by the feature SQL: worked out once per process.
    static TABLES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TABLES
        .get_or_init(|| {
            let sql = ml::features::deal_features_sql(
                chrono::NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date"),
                ml::features::ActivitySource::AsOfSnapshot,
            );
            let statements = crate::query::parse(&sql).expect("the feature SQL parses");
            crate::query::relations(&statements[0])
                .into_iter()
                .filter(|t| crate::sources::Entity::from_table(t).is_some())
                .collect()
        })
        .clone()
}

/// The cache key: anything that changes the scores changes it.
pub fn cache_key(session: &Session, models: &Models) -> String {
    let tables = scoring_tables();
    ml::trained::fingerprint(&[
        session.fingerprint_of(&tables).as_bytes(),
        models_key(session, models).as_bytes(),
    ])
}

/// What besides the data decides a deal's scores: the models and the as-of date.
fn models_key(session: &Session, models: &Models) -> String {
    ml::trained::fingerprint(&[
        models.win_prob.fingerprint.as_bytes(),
        models.time_to_close.fingerprint.as_bytes(),
        session.as_of.to_string().as_bytes(),
    ])
}

/// Schema metadata naming the models and as-of date a cached score table was made with.
const MODELS_KEY: &str = "revintel.models_key";

/// Registers `deal_scores` (from the cache, or scored now and cached) and
/// the `scored_deals` view, and keeps the scores in `session.scores`.
pub async fn register(
    session: &mut Session,
    models: &Models,
    cache: &Cache,
) -> Result<(), ScoringError> {
    let name = format!("deal_scores-{}.arrow", cache_key(session, models));
    let batch = match cache.read(&name) {
        Some(batch) => batch,
        None => {
            // The last scores made with the same models and as-of date let
            // unchanged deals keep theirs: an earlier session's, else the
            // newest on disk.
            let key = models_key(session, models);
            let previous = session
                .scores
                .take()
                .or_else(|| cache.latest("deal_scores-"))
                .filter(|b| {
                    b.schema().metadata().get(MODELS_KEY).map(String::as_str) == Some(key.as_str())
                });
            let batch = score_reusing(session, models, previous.as_ref()).await?;
            let schema = batch
                .schema()
                .as_ref()
                .clone()
                .with_metadata([(MODELS_KEY.to_string(), key)].into());
            let batch = batch.with_schema(Arc::new(schema))?;
            cache.write(&name, &batch, "deal_scores-")?;
            batch
        }
    };
    let table = Arc::new(MemTable::try_new(
        batch.schema(),
        vec![vec![batch.clone()]],
    )?);
    // Attaching again (after a backtest) replaces the table.
    let _ = session.ctx.deregister_table("deal_scores");
    session.ctx.register_table("deal_scores", table)?;
    session.scores = Some(batch);
    register_views(session).await
}

/// Registers the views over `deal_scores` — `scored_deals`, `at_risk_deals`
/// and `pipeline_hygiene` — against the `deal_scores` registered now (a
/// view's plan holds the table it was made with: after `deal_scores` is
/// replaced, they are registered again).
pub async fn register_views(session: &Session) -> Result<(), ScoringError> {
    for (name, sql) in [
        ("scored_deals", SCORED_DEALS.to_string()),
        ("at_risk_deals", at_risk_deals_sql()),
        ("pipeline_hygiene", pipeline_hygiene_sql()),
    ] {
        let plan = session.ctx.state().create_logical_plan(&sql).await?;
        let _ = session.ctx.deregister_table(name);
        session.ctx.register_table(
            name,
            Arc::new(datafusion::catalog::view::ViewTable::new(plan, Some(sql))),
        )?;
    }
    Ok(())
}

/// Scores every open deal: features, calibrated win probability, risk,
/// drivers and actions, time-to-close quantiles and the close dates they imply.
pub async fn score(session: &Session, models: &Models) -> Result<RecordBatch, ScoringError> {
    score_reusing(session, models, None).await
}

/// Scores every open deal, taking the scores of a deal whose features are
/// identical in `previous` (made with the same models and as-of date)
/// instead of computing them again. Scores depend only on a deal's own
/// feature row, so the result equals a full rescoring.
pub async fn score_reusing(
    session: &Session,
    models: &Models,
    previous: Option<&RecordBatch>,
) -> Result<RecordBatch, ScoringError> {
    let features = session
        .batch("SELECT * FROM deal_features ORDER BY deal_id")
        .await?;
    let schema = features.schema();
    let Some(previous) = previous.filter(|p| same_feature_columns(p, &features)) else {
        return score_features(&features, models, session.as_of);
    };
    // Compare whole feature rows in Arrow's row format.
    let converter = datafusion::arrow::row::RowConverter::new(
        schema
            .fields()
            .iter()
            .map(|f| datafusion::arrow::row::SortField::new(f.data_type().clone()))
            .collect(),
    )?;
    let old_columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| previous.column_by_name(f.name()).expect("checked").clone())
        .collect();
    let old_rows = converter.convert_columns(&old_columns)?;
    let new_rows = converter.convert_columns(features.columns())?;
    let old_ids = previous
        .column_by_name("deal_id")
        .expect("checked")
        .as_string::<i32>();
    let by_id: std::collections::HashMap<&str, usize> =
        (0..old_ids.len()).map(|i| (old_ids.value(i), i)).collect();
    let new_ids = features
        .column_by_name("deal_id")
        .expect("checked")
        .as_string::<i32>();
    let mut changed = Vec::new();
    let mut pick: Vec<(usize, usize)> = Vec::with_capacity(features.num_rows());
    for i in 0..features.num_rows() {
        match by_id.get(new_ids.value(i)) {
            Some(&j) if old_rows.row(j) == new_rows.row(i) => pick.push((0, j)),
            _ => {
                pick.push((1, changed.len()));
                changed.push(i as u32);
            }
        }
    }
    let changed = datafusion::arrow::array::UInt32Array::from(changed);
    let fresh = score_features(
        &datafusion::arrow::compute::take_record_batch(&features, &changed)?,
        models,
        session.as_of,
    )?;
    let old = previous.clone().with_schema(fresh.schema()).or_else(|_| {
        // Same columns, perhaps different metadata: project by name.
        let columns: Vec<ArrayRef> = fresh
            .schema()
            .fields()
            .iter()
            .map(|f| {
                previous
                    .column_by_name(f.name())
                    .expect("same columns")
                    .clone()
            })
            .collect();
        RecordBatch::try_new(fresh.schema(), columns)
    })?;
    Ok(datafusion::arrow::compute::interleave_record_batch(
        &[&old, &fresh],
        &pick,
    )?)
}

/// Whether `previous` has every feature column with the same type (and
/// nothing else changed shape since it was written).
fn same_feature_columns(previous: &RecordBatch, features: &RecordBatch) -> bool {
    features.schema().fields().iter().all(|f| {
        previous
            .column_by_name(f.name())
            .is_some_and(|c| c.data_type() == f.data_type())
    })
}

/// Scores the deals of a feature batch.
fn score_features(
    features: &RecordBatch,
    models: &Models,
    as_of: chrono::NaiveDate,
) -> Result<RecordBatch, ScoringError> {
    let rows = features.num_rows();
    let columns = feature_columns(features)?;
    let matrix = models.win_prob.meta.encodings.matrix(&columns)?;
    let probs = models.win_prob.probabilities(&matrix)?;
    let ttc_matrix = if models.time_to_close.meta.encodings == models.win_prob.meta.encodings {
        None
    } else {
        Some(models.time_to_close.meta.encodings.matrix(&columns)?)
    };
    let ttc = models
        .time_to_close
        .predict(ttc_matrix.as_deref().unwrap_or(&matrix))?;
    let drivers = drivers_array(&models.win_prob, &matrix, &vec![DRIVERS_PER_DEAL; rows])?;

    let f64_col = |name: &str| -> Result<Float64Array, ScoringError> {
        let c = features
            .column_by_name(name)
            .ok_or_else(|| ml::encoding::FeatureError::Missing(name.to_string()))?;
        Ok(datafusion::arrow::compute::cast(c, &DataType::Float64)?
            .as_primitive::<Float64Type>()
            .clone())
    };
    let opt = |a: &Float64Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
    let (size, velocity, idle, amount) = (
        f64_col("amount_vs_segment")?,
        f64_col("stage_velocity_ratio")?,
        f64_col("days_since_last_activity")?,
        f64_col("amount")?,
    );
    let risk: Vec<Option<f64>> = (0..rows)
        .map(|i| {
            risk_score(
                Some(probs[i]),
                opt(&size, i),
                opt(&velocity, i),
                opt(&idle, i),
            )
        })
        .collect();
    let risk_x_value: Float64Array = (0..rows)
        .map(|i| Some(risk[i]? / 100.0 * opt(&amount, i)?))
        .collect();

    // Actions: the distinct suggestions of a deal's drivers, in driver order.
    let mut actions = ListBuilder::new(StringBuilder::new());
    let list = drivers.as_list::<i32>();
    for i in 0..rows {
        let items = list.value(i);
        let items = items.as_struct();
        let column = items
            .column_by_name("action")
            .expect("driver structs have an action field");
        let texts = column.as_string::<i32>();
        let mut seen: Vec<&str> = Vec::new();
        for t in texts.iter().flatten() {
            if !seen.contains(&t) {
                seen.push(t);
            }
        }
        for t in seen {
            actions.values().append_value(t);
        }
        actions.append(true);
    }

    let as_of = ml::time::date_to_days(as_of);
    let quantile = |k: usize| -> Float64Array { ttc.iter().map(|q| Some(q[k])).collect() };
    let close = |k: usize| -> Date32Array {
        ttc.iter()
            .map(|q| Some(as_of + q[k].round() as i32))
            .collect()
    };

    let mut fields: Vec<Field> = features
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut arrays: Vec<ArrayRef> = features.columns().to_vec();
    let mut add = |name: &str, array: ArrayRef| {
        fields.push(Field::new(name, array.data_type().clone(), true));
        arrays.push(array);
    };
    add("win_prob", Arc::new(Float64Array::from(probs)));
    add("risk_score", Arc::new(Float64Array::from(risk)));
    add("risk_x_value", Arc::new(risk_x_value));
    add("drivers", drivers);
    add("actions", Arc::new(actions.finish()));
    for (k, name) in ["p10", "p50", "p90"].iter().enumerate() {
        add(&format!("ttc_{name}_days"), Arc::new(quantile(k)));
    }
    for (k, name) in ["p10", "p50", "p90"].iter().enumerate() {
        add(&format!("close_{name}"), Arc::new(close(k)));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// The open deals of a feature batch as the forecast simulates them: amount
/// (missing = 0), calibrated win probability and time-to-close quantiles,
/// without drivers (the backtest scores many cut-offs and needs no more).
pub fn forecast_deals(
    features: &RecordBatch,
    models: &Models,
) -> Result<Vec<ml::simulation::OpenDeal>, ScoringError> {
    let columns = feature_columns(features)?;
    let matrix = models.win_prob.meta.encodings.matrix(&columns)?;
    let probs = models.win_prob.probabilities(&matrix)?;
    let ttc = if models.time_to_close.meta.encodings == models.win_prob.meta.encodings {
        models.time_to_close.predict(&matrix)?
    } else {
        let m = models.time_to_close.meta.encodings.matrix(&columns)?;
        models.time_to_close.predict(&m)?
    };
    let amount = features
        .column_by_name("amount")
        .ok_or_else(|| ml::encoding::FeatureError::Missing("amount".to_string()))?;
    let amount = datafusion::arrow::compute::cast(amount, &DataType::Float64)?;
    let amount = amount.as_primitive::<Float64Type>();
    Ok((0..features.num_rows())
        .map(|i| ml::simulation::OpenDeal {
            amount: if amount.is_null(i) {
                0.0
            } else {
                amount.value(i)
            },
            win_prob: probs[i],
            days_to_close: ttc[i],
        })
        .collect())
}
