//! Scores of every open deal, computed once per (data, models, as-of) and
//! kept on disk, so the shell, reports and later processes reuse them
//! instead of rescoring unchanged data.
//!
//! `deal_scores` holds the `deal_features` columns plus the scores; the
//! `scored_deals` view adds names for people.

use crate::models::Models;
use crate::session::Session;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, ListBuilder, RecordBatch, StringBuilder,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::catalog::MemTable;
use datafusion::error::DataFusionError;
use std::path::Path;
use std::sync::Arc;
use udfs::model_features::feature_columns;
use udfs::risk_score::risk_score;
use udfs::shap_top::drivers_array;

/// Drivers kept per deal in `scored_deals`.
pub const DRIVERS_PER_DEAL: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum ScoringError {
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error(transparent)]
    Model(#[from] udfs::model::ModelError),
    #[error(transparent)]
    Features(#[from] udfs::model_features::FeatureError),
}

/// The view over `deal_scores` that people query.
const SCORED_DEALS: &str = "SELECT s.deal_id, d.name AS deal_name, a.name AS account_name, r.name AS owner_name,
       s.owner_id, s.segment, s.deal_type, s.stage, s.amount, s.expected_close_date, s.days_to_close,
       s.age_days, s.days_in_stage, s.stage_velocity_ratio, s.close_date_pushes, s.days_since_last_activity,
       s.win_prob, s.risk_score, s.risk_x_value, s.drivers, s.actions,
       s.ttc_p10_days, s.ttc_p50_days, s.ttc_p90_days, s.close_p10, s.close_p50, s.close_p90
FROM deal_scores s
JOIN deals d ON d.deal_id = s.deal_id
LEFT JOIN accounts a ON a.account_id = d.account_id
LEFT JOIN reps r ON r.rep_id = d.owner_id";

/// The cache key: anything that changes the scores changes it.
pub fn cache_key(session: &Session, models: &Models) -> String {
    udfs::model::fingerprint(&[
        session.data_fingerprint().as_bytes(),
        models.win_prob.fingerprint.as_bytes(),
        models.time_to_close.fingerprint.as_bytes(),
        session.as_of.to_string().as_bytes(),
    ])
}

/// Registers `deal_scores` (from the cache, or scored now and cached) and
/// the `scored_deals` view.
pub async fn register(
    session: &Session,
    models: &Models,
    cache_dir: &Path,
) -> Result<(), ScoringError> {
    let path = cache_dir.join(format!("deal_scores-{}.arrow", cache_key(session, models)));
    let batch = match read_cache(&path) {
        Some(batch) => batch,
        None => {
            let batch = score(session, models).await?;
            write_cache(cache_dir, &path, &batch, "deal_scores-")?;
            batch
        }
    };
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    session.ctx.register_table("deal_scores", Arc::new(table))?;
    let plan = session
        .ctx
        .state()
        .create_logical_plan(SCORED_DEALS)
        .await?;
    session.ctx.register_table(
        "scored_deals",
        Arc::new(datafusion::catalog::view::ViewTable::new(
            plan,
            Some(SCORED_DEALS.to_string()),
        )),
    )?;
    Ok(())
}

pub(crate) fn read_cache(path: &Path) -> Option<RecordBatch> {
    let file = std::fs::File::open(path).ok()?;
    let reader = FileReader::try_new(file, None).ok()?;
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().ok()?;
    concat_batches(&schema, &batches).ok()
}

/// Writes a cached table atomically and removes older files of the same
/// kind (`prefix`): their keys can never be asked for again.
pub(crate) fn write_cache(
    dir: &Path,
    path: &Path,
    batch: &RecordBatch,
    prefix: &str,
) -> Result<(), ScoringError> {
    let mut bytes = Vec::new();
    {
        let mut writer = FileWriter::try_new(&mut bytes, &batch.schema())?;
        writer.write(batch)?;
        writer.finish()?;
    }
    udfs::model::write_atomic(path, &bytes)?;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let p = entry.path();
            let stale = p != path
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".arrow"));
            if stale {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    Ok(())
}

/// Scores every open deal: features, calibrated win probability, risk,
/// drivers and actions, time-to-close quantiles and the close dates they imply.
pub async fn score(session: &Session, models: &Models) -> Result<RecordBatch, ScoringError> {
    let df = session
        .ctx
        .sql("SELECT * FROM deal_features ORDER BY deal_id")
        .await?;
    let schema: Arc<Schema> = Arc::new(df.schema().as_arrow().clone());
    let features = concat_batches(&schema, &df.collect().await?)?;
    let rows = features.num_rows();
    let columns = feature_columns(&features)?;
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
            .ok_or_else(|| udfs::model_features::FeatureError::Missing(name.to_string()))?;
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

    let as_of = udfs::time::date_to_days(session.as_of);
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
