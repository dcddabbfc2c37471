//! Trained models on disk and in memory: the calibrated win-probability
//! model and the time-to-close quantile models.
//!
//! Each model is LightGBM's own model text plus a JSON metadata file that
//! records everything needed to feed it correctly (feature names and kinds,
//! category codes, the calibration map) and where it came from (training
//! window, data fingerprint). Loading checks the two agree, so a model can
//! never be fed the wrong columns silently.

use crate::calibration::{Calibration, CalibrationChoice};
use crate::model_features::{feature_names, Encodings, FeatureKind, MODEL_FEATURES, N_FEATURES};
use lightgbm3::Booster;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the metadata layout; bumped when it changes incompatibly.
pub const META_FORMAT: u32 = 1;

pub const WIN_PROB_MODEL: &str = "win_prob.txt";
pub const WIN_PROB_META: &str = "win_prob.json";
pub const TIME_TO_CLOSE_META: &str = "time_to_close.json";
/// Quantile levels of the time-to-close models.
pub const QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];

/// The model file of the time-to-close quantile `alpha`.
pub fn time_to_close_model(alpha: f64) -> String {
    format!("time_to_close_p{:02}.txt", (alpha * 100.0).round() as u32)
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{}: no trained model here; run `revintel train`", path.display())]
    Missing { path: PathBuf },
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("{}: the model expects features [{found}] but this revintel feeds [{expected}]; retrain with `revintel train`", path.display())]
    FeatureMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("LightGBM: {0}")]
    LightGbm(String),
}

fn lgbm(e: lightgbm3::Error) -> ModelError {
    ModelError::LightGbm(e.to_string())
}

/// A LightGBM booster shared between threads.
///
/// LightGBM's prediction entry points take a shared lock inside the C++
/// booster and are documented as thread-safe; the handle is never freed
/// while a `SharedBooster` exists.
pub struct SharedBooster(pub Booster);

// SAFETY: see the type's documentation: prediction through a shared
// reference is thread-safe in LightGBM, and the handle is owned uniquely.
unsafe impl Send for SharedBooster {}
// SAFETY: as above.
unsafe impl Sync for SharedBooster {}

/// Reads a model file; a missing one is [`ModelError::Missing`].
fn read_model_file(path: &Path) -> Result<String, ModelError> {
    std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ModelError::Missing {
            path: path.to_path_buf(),
        },
        _ => ModelError::Io {
            path: path.to_path_buf(),
            source,
        },
    })
}

impl SharedBooster {
    /// Loads a booster and returns it with the model text it was read from.
    fn load(path: &Path) -> Result<(SharedBooster, String), ModelError> {
        let text = read_model_file(path)?;
        let booster = Booster::from_string(&text).map_err(|e| ModelError::Corrupt {
            path: path.to_path_buf(),
            message: format!("not a readable LightGBM model ({e})"),
        })?;
        let names = booster.feature_name().map_err(lgbm)?;
        if names != feature_names() {
            return Err(ModelError::FeatureMismatch {
                path: path.to_path_buf(),
                expected: feature_names().join(", "),
                found: names.join(", "),
            });
        }
        Ok((SharedBooster(booster), text))
    }

    /// Raw scores (for the binary model: log-odds margins), one per row.
    pub fn raw(&self, matrix: &[f64]) -> Result<Vec<f64>, ModelError> {
        if matrix.is_empty() {
            return Ok(Vec::new());
        }
        self.0
            .raw_scores(matrix, N_FEATURES as i32, true)
            .map_err(lgbm)
    }

    /// TreeSHAP contributions: `N_FEATURES + 1` values per row, the last
    /// being the bias (expected margin); they sum to the raw score.
    pub fn contributions(&self, matrix: &[f64]) -> Result<Vec<f64>, ModelError> {
        if matrix.is_empty() {
            return Ok(Vec::new());
        }
        self.0
            .predict_contrib(matrix, N_FEATURES as i32, true)
            .map_err(lgbm)
    }
}

/// Where a model's training data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingWindow {
    pub as_of: String,
    /// Labels are "won within this many days of the snapshot".
    pub horizon_days: i64,
    pub first_cutoff: String,
    pub last_cutoff: String,
    pub cutoffs: usize,
    /// Deals that closed before this date train; later ones calibrate and evaluate.
    pub split_date: String,
    pub train_rows: usize,
    pub calibration_rows: usize,
    pub evaluation_rows: usize,
}

/// Everything needed to use the win-probability model, beside its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WinProbMeta {
    pub format: u32,
    pub features: Vec<(String, FeatureKind)>,
    pub encodings: Encodings,
    /// Maps the booster's raw margin to a calibrated probability.
    pub calibration: Calibration,
    pub calibration_choice: CalibrationChoice,
    pub window: TrainingWindow,
    pub data_fingerprint: String,
}

/// The calibrated win-probability model.
pub struct WinProbModel {
    pub booster: SharedBooster,
    pub meta: WinProbMeta,
    /// Hash of the model text and metadata: changes whenever the model does.
    pub fingerprint: String,
}

impl WinProbModel {
    pub fn load(dir: &Path) -> Result<WinProbModel, ModelError> {
        let model_path = dir.join(WIN_PROB_MODEL);
        let meta_path = dir.join(WIN_PROB_META);
        let (booster, model_text) = SharedBooster::load(&model_path)?;
        let (meta, meta_text): (WinProbMeta, String) = read_meta(&meta_path)?;
        check_features(&meta_path, &meta.features)?;
        let fingerprint = fingerprint(&[model_text.as_bytes(), meta_text.as_bytes()]);
        Ok(WinProbModel {
            booster,
            meta,
            fingerprint,
        })
    }

    /// Calibrated P(won) for each row of a feature matrix.
    pub fn probabilities(&self, matrix: &[f64]) -> Result<Vec<f64>, ModelError> {
        Ok(self
            .booster
            .raw(matrix)?
            .into_iter()
            .map(|m| self.meta.calibration.apply(m))
            .collect())
    }
}

/// Metadata of the time-to-close quantile models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeToCloseMeta {
    pub format: u32,
    pub features: Vec<(String, FeatureKind)>,
    pub encodings: Encodings,
    pub quantiles: Vec<f64>,
    /// Conformal widening of the P10–P90 band, in days, fitted on the
    /// calibration slice so the band covers about 80% of held-out closes
    /// (conformalized quantile regression).
    pub interval_adjustment_days: f64,
    pub window: TrainingWindow,
    pub data_fingerprint: String,
}

/// Days from the cut-off to close, at P10, P50 and P90.
pub struct TimeToCloseModel {
    pub boosters: Vec<SharedBooster>,
    pub meta: TimeToCloseMeta,
    pub fingerprint: String,
}

impl TimeToCloseModel {
    pub fn load(dir: &Path) -> Result<TimeToCloseModel, ModelError> {
        let meta_path = dir.join(TIME_TO_CLOSE_META);
        let mut parts = Vec::new();
        let mut boosters = Vec::new();
        for alpha in QUANTILES {
            let (booster, text) = SharedBooster::load(&dir.join(time_to_close_model(alpha)))?;
            boosters.push(booster);
            parts.push(text);
        }
        let (meta, meta_text): (TimeToCloseMeta, String) = read_meta(&meta_path)?;
        check_features(&meta_path, &meta.features)?;
        let mut all: Vec<&[u8]> = parts.iter().map(String::as_bytes).collect();
        all.push(meta_text.as_bytes());
        Ok(TimeToCloseModel {
            boosters,
            meta,
            fingerprint: fingerprint(&all),
        })
    }

    /// P10, P50, P90 days to close per row (see [`quantile_band`]).
    pub fn predict(&self, matrix: &[f64]) -> Result<Vec<[f64; 3]>, ModelError> {
        let preds: Vec<Vec<f64>> = self
            .boosters
            .iter()
            .map(|b| b.raw(matrix))
            .collect::<Result<_, _>>()?;
        let rows = matrix.len() / N_FEATURES;
        Ok((0..rows)
            .map(|i| {
                quantile_band(
                    [preds[0][i], preds[1][i], preds[2][i]],
                    self.meta.interval_adjustment_days,
                )
            })
            .collect())
    }
}

/// Turns raw P10/P50/P90 predictions into the reported band: the outer
/// quantiles are widened by the conformal adjustment, nothing is below zero
/// days, and the three are sorted so quantiles never cross (monotone
/// rearrangement).
pub fn quantile_band(raw: [f64; 3], adjustment: f64) -> [f64; 3] {
    let mut q = [
        (raw[0] - adjustment).max(0.0),
        raw[1].max(0.0),
        (raw[2] + adjustment).max(0.0),
    ];
    q.sort_by(f64::total_cmp);
    q
}

fn read_meta<T: serde::de::DeserializeOwned>(path: &Path) -> Result<(T, String), ModelError> {
    let text = read_model_file(path)?;
    let meta = serde_json::from_str(&text).map_err(|e| ModelError::Corrupt {
        path: path.to_path_buf(),
        message: format!("not valid model metadata: {e}"),
    })?;
    Ok((meta, text))
}

fn check_features(path: &Path, features: &[(String, FeatureKind)]) -> Result<(), ModelError> {
    let ours: Vec<(String, FeatureKind)> = MODEL_FEATURES
        .iter()
        .map(|(n, k)| (n.to_string(), *k))
        .collect();
    if features != ours.as_slice() {
        return Err(ModelError::FeatureMismatch {
            path: path.to_path_buf(),
            expected: feature_names().join(", "),
            found: features
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(())
}

/// A stable 128-bit hash of some byte strings, as hex.
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    format!("{:032x}", hasher.digest128())
}

/// Writes `bytes` to `path` atomically: a uniquely named temp file in the
/// same folder, synced, then renamed over the target; on failure the temp
/// file is removed. (The reports crate has the same rule for its outputs.)
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        path.file_name()
            .map_or("out".into(), |n| n.to_string_lossy()),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}
