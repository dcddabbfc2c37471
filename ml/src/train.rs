//! Training the win-probability and time-to-close models from the pipeline's
//! own history.
//!
//! Rows are *snapshots*: every open deal at every cut-off (each 14 days) with
//! its features as of that cut-off — so the model learns from exactly the
//! view it will later score — labelled *won within [`HORIZON_DAYS`] of the
//! cut-off*. Cut-offs stop [`HORIZON_DAYS`] before the as-of date, so every
//! label is known, including for deals still open today: labelling only the
//! deals that have already closed would drop the slow, stalled ones (mostly
//! future losses) and make open pipelines look better than they are.
//!
//! The split is by time: deals resolved (closed, or still open at the as-of
//! date) before the split date train; the most recent 30% of snapshot rows
//! are split by a hash of the deal id into a calibration half (early stopping
//! and calibration) and an evaluation half (the reported metrics), so no
//! reported figure was fitted on its own rows.

use crate::calibration::{fit_best, CalibrationChoice, CalibrationError};
use crate::encoding::{
    categorical_positions, feature_columns, feature_names, Encodings, FeatureError, MODEL_FEATURES,
    N_FEATURES,
};
use crate::features::{deal_features_sql, ActivitySource};
use crate::lgbm::{LgbmError, Schedule, TrainingSet};
use crate::metrics::{interval_coverage, pinball_loss, BinaryMetrics};
use crate::trained::{
    commit_set, fingerprint, time_to_close_model, ModelError, QualitySummary, TimeToCloseMeta,
    TrainingWindow, WinProbMeta, META_FORMAT, METRICS, QUANTILES, TIME_TO_CLOSE_META,
    WIN_PROB_META, WIN_PROB_MODEL,
};
use chrono::{Duration, NaiveDate};
use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Date32Array, Int32Array, RecordBatch,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Date32Type, Int64Type};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use lightgbm3::Booster;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Below this many won or lost deals a model is refused (the bar Salesforce
/// Einstein sets for its per-org model).
pub const MIN_OUTCOMES: usize = 200;
/// Days between training snapshots.
pub const SNAPSHOT_EVERY_DAYS: i64 = 14;
/// The win-probability label is "won within this many days of the cut-off";
/// time to close is learned from those wins.
pub const HORIZON_DAYS: i64 = 180;
/// Training snapshots cover at most this many years before the last
/// cut-off (about 130 snapshots): older pipeline says little about today's,
/// and a data set reaching back decades must not make training run for hours.
pub const MAX_TRAINING_YEARS: i64 = 5;
/// Share of snapshot rows, most recently resolved, held out of training.
pub const HOLDOUT_SHARE: f64 = 0.3;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("not enough history to train: {won} won and {lost} lost deals closed before {as_of}; at least {MIN_OUTCOMES} of each are needed")]
    TooFewOutcomes {
        won: usize,
        lost: usize,
        as_of: NaiveDate,
    },
    #[error("not enough history to train: deals start on {first}, and snapshots need {needed} days of history before the as-of date {as_of}")]
    ShortHistory {
        first: NaiveDate,
        needed: i64,
        as_of: NaiveDate,
    },
    #[error("building training snapshots: {0}")]
    Query(#[from] DataFusionError),
    #[error(transparent)]
    Features(#[from] FeatureError),
    #[error("calibration: {0}")]
    Calibration(#[from] CalibrationError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("LightGBM training: {0}")]
    LightGbm(String),
    #[error(transparent)]
    Lgbm(#[from] LgbmError),
}

fn lgbm(e: lightgbm3::Error) -> TrainError {
    TrainError::LightGbm(e.to_string())
}

/// Progress reported while training, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Snapshot `done` of `total` built.
    Snapshot { done: usize, total: usize },
    /// A model is being fitted.
    Fitting(&'static str),
}

/// Time-to-close quality on the evaluation slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeToCloseMetrics {
    pub rows: usize,
    /// Pinball loss at P10, P50, P90, in days.
    pub pinball_loss: Vec<f64>,
    /// Share of actual days to close within [P10, P90]; 0.8 is honest.
    pub coverage_p10_p90: f64,
    /// Days the raw P10–P90 band was widened by (conformal adjustment).
    pub interval_adjustment_days: f64,
}

/// What training produced and how good it is, as written to `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    pub window: TrainingWindow,
    pub won_deals: usize,
    pub lost_deals: usize,
    /// The calibrated model on the evaluation slice.
    pub win_prob: BinaryMetrics,
    /// The same model before calibration, for comparison.
    pub win_prob_uncalibrated: BinaryMetrics,
    /// Baseline: the training win rate of each stage.
    pub stage_only_baseline: BinaryMetrics,
    pub calibration: CalibrationChoice,
    pub time_to_close: TimeToCloseMetrics,
    pub data_fingerprint: String,
    /// What the leak guard found; the model is withheld while a flag is not
    /// accepted (see [`crate::leaks`]).
    pub leaks: crate::leaks::LeakCheck,
    pub accepted_leaks: Vec<String>,
}

impl TrainReport {
    /// The guard's flags the user has not accepted: while there are any,
    /// the model's scores are withheld.
    pub fn withheld(&self) -> Vec<&crate::leaks::LeakFlag> {
        self.leaks.unaccepted(&self.accepted_leaks).collect()
    }
}

/// Snapshot rows, ready to split.
struct Snapshots {
    matrix: Vec<f64>,
    won: Vec<bool>,
    /// How the deal finally ended (None: still open at the as-of date).
    final_won: Vec<Option<bool>>,
    days_to_close: Vec<f64>,
    slice: Vec<Slice>,
    stage_index: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slice {
    Train,
    Calibration,
    Evaluation,
}

/// Trains both models on the session's tables as of `as_of` and writes them
/// to `models_dir` (atomically, file by file), with `metrics.json`.
pub async fn train(
    ctx: &SessionContext,
    as_of: NaiveDate,
    models_dir: &Path,
    data_fingerprint: &str,
    accepted_leaks: &[String],
    progress: &dyn Fn(Progress),
) -> Result<TrainReport, TrainError> {
    let (won_deals, lost_deals) = outcome_counts(ctx, as_of).await?;
    if won_deals < MIN_OUTCOMES || lost_deals < MIN_OUTCOMES {
        return Err(TrainError::TooFewOutcomes {
            won: won_deals,
            lost: lost_deals,
            as_of,
        });
    }
    let first_created = first_created(ctx).await?.unwrap_or(as_of);
    let last_cutoff = as_of - Duration::days(HORIZON_DAYS);
    let window_start = last_cutoff - Duration::days(365 * MAX_TRAINING_YEARS);
    let mut cutoffs = Vec::new();
    // On the grid that starts 30 days after the first deal, so the same
    // data always gives the same cut-offs whatever day training runs.
    let mut t = first_created + Duration::days(30);
    if t < window_start {
        let behind = (window_start - t).num_days();
        let steps = (behind + SNAPSHOT_EVERY_DAYS - 1) / SNAPSHOT_EVERY_DAYS;
        t += Duration::days(steps * SNAPSHOT_EVERY_DAYS);
    }
    while t <= last_cutoff {
        cutoffs.push(t);
        t += Duration::days(SNAPSHOT_EVERY_DAYS);
    }
    if cutoffs.len() < 4 {
        return Err(TrainError::ShortHistory {
            first: first_created,
            needed: 30 + HORIZON_DAYS + 3 * SNAPSHOT_EVERY_DAYS,
            as_of,
        });
    }

    let mut batches = Vec::with_capacity(cutoffs.len());
    for (i, cutoff) in cutoffs.iter().enumerate() {
        let sql = format!(
            "SELECT f.*,
                    COALESCE(d.outcome = 'won' AND d.closed_date <= DATE '{as_of}'
                             AND CAST(d.closed_date AS INT) - CAST(f.as_of AS INT) <= {HORIZON_DAYS}, false) AS won,
                    CAST(CAST(d.closed_date AS INT) - CAST(f.as_of AS INT) AS INT) AS actual_days_to_close,
                    CASE WHEN d.closed_date <= DATE '{as_of}' THEN d.outcome = 'won' END AS final_won,
                    CASE WHEN d.closed_date <= DATE '{as_of}' THEN d.closed_date ELSE DATE '{as_of}' END AS closed_date
             FROM ({features}) f JOIN deals d ON d.deal_id = f.deal_id
             ORDER BY f.deal_id",
            features = deal_features_sql(*cutoff, ActivitySource::HistoryOnly)
        );
        batches.extend(ctx.sql(&sql).await?.collect().await?);
        progress(Progress::Snapshot {
            done: i + 1,
            total: cutoffs.len(),
        });
    }
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => {
            return Err(TrainError::TooFewOutcomes {
                won: won_deals,
                lost: lost_deals,
                as_of,
            })
        }
    };
    let all = concat_batches(&schema, &batches).map_err(DataFusionError::from)?;
    let mut encodings = Encodings::fit(std::slice::from_ref(&all))?;
    let split_date = split_date(&all)?;
    let mut snaps = snapshots(&all, &encodings, split_date)?;

    let pick = |slice: Slice| -> Vec<usize> {
        (0..snaps.won.len())
            .filter(|&i| snaps.slice[i] == slice)
            .collect()
    };
    let (train_rows, cal_rows, eval_rows) = (
        pick(Slice::Train),
        pick(Slice::Calibration),
        pick(Slice::Evaluation),
    );
    // Missing values of features never missing in training are scored as
    // their training median, here as when scoring (see `encoding`).
    encodings.fit_fills(&snaps.matrix, &train_rows);
    snaps.matrix = encodings.model_input(&snaps.matrix).into_owned();
    let window = TrainingWindow {
        as_of: as_of.to_string(),
        horizon_days: HORIZON_DAYS,
        first_cutoff: cutoffs.first().map(|d| d.to_string()).unwrap_or_default(),
        last_cutoff: cutoffs.last().map(|d| d.to_string()).unwrap_or_default(),
        cutoffs: cutoffs.len(),
        split_date: split_date.to_string(),
        train_rows: train_rows.len(),
        calibration_rows: cal_rows.len(),
        evaluation_rows: eval_rows.len(),
    };

    // Win probability.
    progress(Progress::Fitting("win probability"));
    let label = |rows: &[usize]| -> Vec<f32> {
        rows.iter()
            .map(|&i| if snaps.won[i] { 1.0 } else { 0.0 })
            .collect()
    };
    let (booster, model_text) = fit(
        &snaps.matrix,
        &train_rows,
        &label(&train_rows),
        &cal_rows,
        &label(&cal_rows),
        "objective=binary metric=binary_logloss",
    )?;
    let margins = |rows: &[usize]| -> Result<Vec<f64>, TrainError> {
        booster
            .raw_scores(&gather(&snaps.matrix, rows), N_FEATURES as i32, true)
            .map_err(lgbm)
    };
    let bools = |rows: &[usize]| -> Vec<bool> { rows.iter().map(|&i| snaps.won[i]).collect() };
    let (calibration, choice) = fit_best(&margins(&cal_rows)?, &bools(&cal_rows))?;
    let eval_margins = margins(&eval_rows)?;
    let eval_labels = bools(&eval_rows);
    let calibrated: Vec<f64> = eval_margins.iter().map(|&m| calibration.apply(m)).collect();
    let raw_probs: Vec<f64> = eval_margins
        .iter()
        .map(|&m| 1.0 / (1.0 + (-m).exp()))
        .collect();
    let baseline = stage_baseline(&snaps, &train_rows, &eval_rows);
    let win_prob_metrics = BinaryMetrics::compute(&calibrated, &eval_labels);
    let baseline_metrics = BinaryMetrics::compute(&baseline, &eval_labels);
    let leaks = crate::leaks::check(
        &snaps.matrix,
        &snaps.final_won,
        &train_rows,
        &eval_rows,
        win_prob_metrics.auc,
    );

    let features: Vec<_> = MODEL_FEATURES
        .iter()
        .map(|(n, k)| (n.to_string(), *k))
        .collect();
    let meta = WinProbMeta {
        format: META_FORMAT,
        features: features.clone(),
        encodings: encodings.clone(),
        calibration,
        calibration_choice: choice.clone(),
        window: window.clone(),
        data_fingerprint: data_fingerprint.to_string(),
        metrics: QualitySummary {
            evaluation_rows: eval_rows.len(),
            evaluation_wins: eval_labels.iter().filter(|&&w| w).count(),
            auc: win_prob_metrics.auc,
            raw_auc: BinaryMetrics::compute(&raw_probs, &eval_labels).auc,
            log_loss: win_prob_metrics.log_loss,
            brier: win_prob_metrics.brier,
            ece: win_prob_metrics.ece,
            baseline_auc: baseline_metrics.auc,
            baseline_brier: Some(baseline_metrics.brier),
        },
        leaks: leaks.clone(),
        accepted_leaks: accepted_leaks.to_vec(),
    };

    // Time to close, learned from won deals (the forecast asks when wins land).
    let won_only =
        |rows: &[usize]| -> Vec<usize> { rows.iter().copied().filter(|&i| snaps.won[i]).collect() };
    let (ttc_train, ttc_cal, ttc_eval) = (
        won_only(&train_rows),
        won_only(&cal_rows),
        won_only(&eval_rows),
    );
    let days = |rows: &[usize]| -> Vec<f32> {
        rows.iter()
            .map(|&i| snaps.days_to_close[i] as f32)
            .collect()
    };
    let mut ttc_texts = Vec::new();
    let mut ttc_preds = Vec::new();
    let mut ttc_cal_preds = Vec::new();
    for alpha in QUANTILES {
        progress(Progress::Fitting("time to close"));
        let (b, text) = fit(
            &snaps.matrix,
            &ttc_train,
            &days(&ttc_train),
            &ttc_cal,
            &days(&ttc_cal),
            &format!("objective=quantile alpha={alpha} metric=quantile"),
        )?;
        ttc_preds.push(
            b.raw_scores(&gather(&snaps.matrix, &ttc_eval), N_FEATURES as i32, true)
                .map_err(lgbm)?,
        );
        ttc_cal_preds.push(
            b.raw_scores(&gather(&snaps.matrix, &ttc_cal), N_FEATURES as i32, true)
                .map_err(lgbm)?,
        );
        ttc_texts.push(text);
    }
    // Conformalized quantile regression: widen the band by the
    // (1 − 0.2)(1 + 1/n) quantile of how far calibration closes fell outside it.
    let cal_actual: Vec<f64> = ttc_cal.iter().map(|&i| snaps.days_to_close[i]).collect();
    let mut scores: Vec<f64> = (0..cal_actual.len())
        .map(|i| (ttc_cal_preds[0][i] - cal_actual[i]).max(cal_actual[i] - ttc_cal_preds[2][i]))
        .collect();
    scores.sort_by(f64::total_cmp);
    let level = ((1.0 - 0.2) * (1.0 + 1.0 / scores.len().max(1) as f64)).min(1.0);
    let adjustment = scores
        .get(((level * scores.len() as f64).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(0.0);

    // The same band rule the scoring model applies.
    let actual: Vec<f64> = ttc_eval.iter().map(|&i| snaps.days_to_close[i]).collect();
    let bands: Vec<[f64; 3]> = (0..actual.len())
        .map(|i| {
            crate::trained::quantile_band(
                [ttc_preds[0][i], ttc_preds[1][i], ttc_preds[2][i]],
                adjustment,
            )
        })
        .collect();
    let sorted: Vec<Vec<f64>> = (0..3)
        .map(|k| bands.iter().map(|b| b[k]).collect())
        .collect();
    let time_to_close = TimeToCloseMetrics {
        rows: actual.len(),
        pinball_loss: QUANTILES
            .iter()
            .zip(&sorted)
            .map(|(&a, p)| pinball_loss(&actual, p, a))
            .collect(),
        coverage_p10_p90: interval_coverage(&actual, &sorted[0], &sorted[2]),
        interval_adjustment_days: adjustment,
    };
    let ttc_meta = TimeToCloseMeta {
        format: META_FORMAT,
        features,
        encodings,
        quantiles: QUANTILES.to_vec(),
        interval_adjustment_days: adjustment,
        window: window.clone(),
        data_fingerprint: data_fingerprint.to_string(),
    };

    let report = TrainReport {
        window,
        won_deals,
        lost_deals,
        win_prob: win_prob_metrics,
        win_prob_uncalibrated: BinaryMetrics::compute(&raw_probs, &eval_labels),
        stage_only_baseline: baseline_metrics,
        calibration: choice,
        time_to_close,
        data_fingerprint: data_fingerprint.to_string(),
        leaks,
        accepted_leaks: accepted_leaks.to_vec(),
    };
    let json_bytes = |v: &dyn erased::Json| v.bytes();
    let mut files = vec![
        (WIN_PROB_MODEL.to_string(), model_text.into_bytes()),
        (WIN_PROB_META.to_string(), json_bytes(&meta)),
    ];
    for (alpha, text) in QUANTILES.iter().zip(ttc_texts) {
        files.push((time_to_close_model(*alpha), text.into_bytes()));
    }
    files.push((TIME_TO_CLOSE_META.to_string(), json_bytes(&ttc_meta)));
    files.push((METRICS.to_string(), json_bytes(&report)));
    // One unit: a reader sees this whole set or the one before.
    commit_set(models_dir, &files)?;
    Ok(report)
}

mod erased {
    /// Pretty JSON of any serializable value, newline-terminated.
    pub trait Json {
        fn bytes(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn bytes(&self) -> Vec<u8> {
            let mut v = serde_json::to_vec_pretty(self).expect("model metadata serializes");
            v.push(b'\n');
            v
        }
    }
}

/// LightGBM settings shared by every model: small trees, shrinkage and
/// early stopping on the calibration slice; deterministic and on one
/// thread so retraining the same data gives the same model. The training
/// set is built with the categorical features declared (see [`crate::lgbm`]
/// for why that cannot be left to the booster), so segment, deal type, lead
/// source and product are split by category, not by their codes' order.
fn fit(
    matrix: &[f64],
    train_rows: &[usize],
    train_labels: &[f32],
    valid_rows: &[usize],
    valid_labels: &[f32],
    objective: &str,
) -> Result<(Booster, String), TrainError> {
    let categorical = categorical_positions()
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    // How the set is binned: fixed when it is built.
    let set_params = format!(
        "categorical_feature={categorical} use_missing=true zero_as_missing=false \
         min_data_per_group=40 cat_smooth=10 max_cat_threshold=32 verbosity=-1"
    );
    let names = feature_names();
    let train = TrainingSet::new(
        &gather(matrix, train_rows),
        train_labels,
        &names,
        &set_params,
        None,
    )?;
    let valid = TrainingSet::new(
        &gather(matrix, valid_rows),
        valid_labels,
        &names,
        &set_params,
        Some(&train),
    )?;
    let schedule = Schedule {
        params: format!(
            "{objective} learning_rate=0.05 num_leaves=15 min_data_in_leaf=40 \
             feature_fraction=0.9 bagging_fraction=0.8 bagging_freq=1 lambda_l2=1.0 \
             cat_smooth=10 cat_l2=10 seed=7 deterministic=true num_threads=1 verbosity=-1"
        ),
        iterations: 500,
        early_stopping: 30,
        higher_is_better: false,
    };
    let text = crate::lgbm::train(&train, &valid, &schedule)?;
    let booster = Booster::from_string(&text).map_err(lgbm)?;
    Ok((booster, text))
}

/// The rows `rows` of a row-major feature matrix.
fn gather(matrix: &[f64], rows: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows.len() * N_FEATURES);
    for &i in rows {
        out.extend_from_slice(&matrix[i * N_FEATURES..(i + 1) * N_FEATURES]);
    }
    out
}

fn snapshots(
    all: &RecordBatch,
    encodings: &Encodings,
    split_date: NaiveDate,
) -> Result<Snapshots, TrainError> {
    let matrix = encodings.matrix(&feature_columns(all)?)?;
    let col = |name: &str| {
        all.column_by_name(name)
            .ok_or_else(|| FeatureError::Missing(name.to_string()))
    };
    let won: &BooleanArray = col("won")?.as_boolean();
    let final_won: &BooleanArray = col("final_won")?.as_boolean();
    let days: &Int32Array = col("actual_days_to_close")?.as_primitive();
    let closed: &Date32Array = col("closed_date")?.as_primitive::<Date32Type>();
    let ids = datafusion::arrow::compute::cast(
        col("deal_id")?,
        &datafusion::arrow::datatypes::DataType::Utf8,
    )
    .map_err(DataFusionError::from)?;
    let ids = ids.as_string::<i32>();
    let stage = datafusion::arrow::compute::cast(
        col("stage_index")?,
        &datafusion::arrow::datatypes::DataType::Int64,
    )
    .map_err(DataFusionError::from)?;
    let stage = stage.as_primitive::<Int64Type>();
    let split = crate::time::date_to_days(split_date);
    let n = all.num_rows();
    let slice = (0..n)
        .map(|i| {
            if closed.value(i) < split {
                Slice::Train
            } else if xxhash_rust::xxh3::xxh3_64(ids.value(i).as_bytes()).is_multiple_of(2) {
                Slice::Calibration
            } else {
                Slice::Evaluation
            }
        })
        .collect();
    Ok(Snapshots {
        matrix,
        won: (0..n).map(|i| won.value(i)).collect(),
        final_won: (0..n)
            .map(|i| (!final_won.is_null(i)).then(|| final_won.value(i)))
            .collect(),
        days_to_close: (0..n).map(|i| f64::from(days.value(i))).collect(),
        slice,
        stage_index: (0..n)
            .map(|i| {
                if stage.is_null(i) {
                    f64::NAN
                } else {
                    stage.value(i) as f64
                }
            })
            .collect(),
    })
}

/// The stage-only baseline: each evaluation row gets its stage's win rate
/// over the training rows.
fn stage_baseline(snaps: &Snapshots, train_rows: &[usize], eval_rows: &[usize]) -> Vec<f64> {
    let mut won = [0.0f64; 8];
    let mut seen = [0.0f64; 8];
    for &i in train_rows {
        let s = snaps.stage_index[i];
        if s.is_finite() && (0.0..8.0).contains(&s) {
            seen[s as usize] += 1.0;
            won[s as usize] += f64::from(u8::from(snaps.won[i]));
        }
    }
    let overall = won.iter().sum::<f64>() / seen.iter().sum::<f64>().max(1.0);
    eval_rows
        .iter()
        .map(|&i| {
            let s = snaps.stage_index[i];
            if s.is_finite() && (0.0..8.0).contains(&s) && seen[s as usize] > 0.0 {
                won[s as usize] / seen[s as usize]
            } else {
                overall
            }
        })
        .collect()
}

async fn outcome_counts(
    ctx: &SessionContext,
    as_of: NaiveDate,
) -> Result<(usize, usize), TrainError> {
    let sql = format!(
        "SELECT CAST(sum(CASE WHEN outcome = 'won' THEN 1 ELSE 0 END) AS BIGINT),
                CAST(sum(CASE WHEN outcome = 'lost' THEN 1 ELSE 0 END) AS BIGINT)
         FROM deals WHERE closed_date <= DATE '{as_of}'"
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let get = |c: usize| -> usize {
        batches
            .first()
            .map(|b| b.column(c).as_primitive::<Int64Type>())
            .filter(|a| !a.is_empty() && !a.is_null(0))
            .map_or(0, |a| a.value(0) as usize)
    };
    Ok((get(0), get(1)))
}

async fn first_created(ctx: &SessionContext) -> Result<Option<NaiveDate>, TrainError> {
    let batches = ctx
        .sql("SELECT min(created_date) FROM deals")
        .await?
        .collect()
        .await?;
    Ok(batches
        .first()
        .map(|b| b.column(0).as_primitive::<Date32Type>())
        .filter(|a| !a.is_empty() && !a.is_null(0))
        .and_then(|a| a.value_as_date(0)))
}

/// The resolution date before which the oldest (1 − HOLDOUT_SHARE) of
/// snapshot rows fall.
fn split_date(all: &RecordBatch) -> Result<NaiveDate, TrainError> {
    let column = all
        .column_by_name("closed_date")
        .ok_or_else(|| FeatureError::Missing("closed_date".into()))?;
    let mut days: Vec<i32> = column
        .as_primitive::<Date32Type>()
        .iter()
        .flatten()
        .collect();
    days.sort_unstable();
    let at = ((days.len() as f64) * (1.0 - HOLDOUT_SHARE)) as usize;
    Ok(crate::time::days_to_date(
        days.get(at.min(days.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0),
    ))
}

/// Fingerprint of the data a model was trained on, from its source bytes.
pub fn data_fingerprint(parts: &[&[u8]]) -> String {
    fingerprint(parts)
}
