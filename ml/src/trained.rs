//! Trained models on disk and in memory: the calibrated win-probability
//! model and the time-to-close quantile models.
//!
//! Each model is LightGBM's own model text plus a JSON metadata file that
//! records everything needed to feed it correctly (feature names and kinds,
//! category codes, the calibration map) and where it came from (training
//! window, data fingerprint). Loading checks the two agree, so a model can
//! never be fed the wrong columns silently.
//!
//! The trained files are one unit: a booster is only right with the
//! calibration and encodings it was trained with. [`commit_set`] writes
//! them together — staged and synced first, renamed under an exclusive
//! lock, then a `manifest.json` with each file's hash, then the folder
//! synced — and [`ModelSet::read`] reads them under a shared lock and checks
//! every hash. So a reader sees the whole old set or the whole new set; a
//! set left half-renamed by a crash is refused with the reason, never mixed.

use crate::calibration::{Calibration, CalibrationChoice};
use crate::encoding::{feature_names, Encodings, FeatureKind, MODEL_FEATURES, N_FEATURES};
use lightgbm3::Booster;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the metadata layout; bumped when it changes incompatibly.
pub const META_FORMAT: u32 = 2;

pub const WIN_PROB_MODEL: &str = "win_prob.txt";
pub const WIN_PROB_META: &str = "win_prob.json";
pub const TIME_TO_CLOSE_META: &str = "time_to_close.json";
/// The training report written beside the models.
pub const METRICS: &str = "metrics.json";
/// The list of a set's files with their hashes, written last.
pub const MANIFEST: &str = "manifest.json";
/// Taken exclusively while a set is renamed into place, shared while read.
const COMMIT_LOCK: &str = ".commit.lock";
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
    /// Written by an earlier revintel, in a layout this one does not read.
    #[error("{}: written by an earlier revintel (format {found}, this one reads {META_FORMAT}); run `revintel train`", path.display())]
    Outdated { path: PathBuf, found: u32 },
    /// The files on disk are not the set the manifest lists.
    #[error("{}: {message}; run `revintel train` to write a whole set again", path.display())]
    Inconsistent { path: PathBuf, message: String },
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
    /// A booster from the model text read from `path`.
    fn parse(path: &Path, text: &str) -> Result<SharedBooster, ModelError> {
        let booster = Booster::from_string(text).map_err(|e| ModelError::Corrupt {
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
        Ok(SharedBooster(booster))
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

/// A project's trained models, as one set: the calibrated win probability
/// and the time-to-close quantiles.
#[derive(Clone)]
pub struct Models {
    pub win_prob: std::sync::Arc<WinProbModel>,
    pub time_to_close: std::sync::Arc<TimeToCloseModel>,
}

impl Models {
    /// Loads both models from `dir` as one verified set ([`ModelSet`]):
    /// never one run's booster with another's calibration.
    pub fn load(dir: &Path) -> Result<Models, ModelError> {
        let set = ModelSet::read(dir)?;
        Ok(Models {
            win_prob: std::sync::Arc::new(WinProbModel::from_set(&set)?),
            time_to_close: std::sync::Arc::new(TimeToCloseModel::from_set(&set)?),
        })
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
    /// How well it did on the evaluation slice, against the stage alone.
    #[serde(default)]
    pub metrics: QualitySummary,
    /// What the leak guard found on the evaluation slice.
    #[serde(default)]
    pub leaks: crate::leaks::LeakCheck,
    /// Flagged features the user accepted by name when training.
    #[serde(default)]
    pub accepted_leaks: Vec<String>,
}

/// The evaluation figures kept with a model, for `model_quality`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualitySummary {
    pub evaluation_rows: usize,
    /// Evaluation rows won within the horizon: with few, the figures are noise.
    #[serde(default)]
    pub evaluation_wins: usize,
    pub auc: Option<f64>,
    /// The model's own ranking before calibration: below 0.5 it ranks
    /// backwards, and only calibration turned it round.
    #[serde(default)]
    pub raw_auc: Option<f64>,
    pub log_loss: f64,
    pub brier: f64,
    pub ece: f64,
    /// The stage-only baseline: each stage's training win rate.
    pub baseline_auc: Option<f64>,
    pub baseline_brier: Option<f64>,
}

/// The calibrated win-probability model.
pub struct WinProbModel {
    pub booster: SharedBooster,
    pub meta: WinProbMeta,
    /// Hash of the model text and metadata: changes whenever the model does.
    pub fingerprint: String,
}

impl WinProbModel {
    /// Loads the model from `dir`'s files, one by one (see
    /// [`WinProbModel::from_set`] for a verified set).
    pub fn load(dir: &Path) -> Result<WinProbModel, ModelError> {
        let model_path = dir.join(WIN_PROB_MODEL);
        let meta_path = dir.join(WIN_PROB_META);
        let model_text = read_model_file(&model_path)?;
        let meta_text = read_model_file(&meta_path)?;
        Self::from_texts(&model_path, model_text, &meta_path, meta_text)
    }

    /// The model of a verified set.
    pub fn from_set(set: &ModelSet) -> Result<WinProbModel, ModelError> {
        Self::from_texts(
            &set.path(WIN_PROB_MODEL),
            set.text(WIN_PROB_MODEL)?.to_string(),
            &set.path(WIN_PROB_META),
            set.text(WIN_PROB_META)?.to_string(),
        )
    }

    fn from_texts(
        model_path: &Path,
        model_text: String,
        meta_path: &Path,
        meta_text: String,
    ) -> Result<WinProbModel, ModelError> {
        let booster = SharedBooster::parse(model_path, &model_text)?;
        let meta: WinProbMeta = parse_meta(meta_path, &meta_text)?;
        check_format(meta_path, meta.format)?;
        check_features(meta_path, &meta.features)?;
        let fingerprint = fingerprint(&[model_text.as_bytes(), meta_text.as_bytes()]);
        Ok(WinProbModel {
            booster,
            meta,
            fingerprint,
        })
    }

    /// Raw margins for each row of a feature matrix, missing values scored
    /// as the model's documented fills (see `encoding`).
    pub fn margins(&self, matrix: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.booster.raw(&self.meta.encodings.model_input(matrix))
    }

    /// TreeSHAP contributions for each row (see [`SharedBooster::contributions`]),
    /// on the same input as [`WinProbModel::margins`].
    pub fn contributions(&self, matrix: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.booster
            .contributions(&self.meta.encodings.model_input(matrix))
    }

    /// Calibrated P(won) for each row of a feature matrix.
    pub fn probabilities(&self, matrix: &[f64]) -> Result<Vec<f64>, ModelError> {
        Ok(self
            .margins(matrix)?
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
    /// Loads the models from `dir`'s files, one by one (see
    /// [`TimeToCloseModel::from_set`] for a verified set).
    pub fn load(dir: &Path) -> Result<TimeToCloseModel, ModelError> {
        let read = |name: &str| read_model_file(&dir.join(name));
        let texts = QUANTILES
            .iter()
            .map(|a| read(&time_to_close_model(*a)))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_texts(dir, texts, read(TIME_TO_CLOSE_META)?)
    }

    /// The models of a verified set.
    pub fn from_set(set: &ModelSet) -> Result<TimeToCloseModel, ModelError> {
        let texts = QUANTILES
            .iter()
            .map(|a| set.text(&time_to_close_model(*a)).map(str::to_string))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_texts(&set.dir, texts, set.text(TIME_TO_CLOSE_META)?.to_string())
    }

    fn from_texts(
        dir: &Path,
        parts: Vec<String>,
        meta_text: String,
    ) -> Result<TimeToCloseModel, ModelError> {
        let meta_path = dir.join(TIME_TO_CLOSE_META);
        let mut boosters = Vec::new();
        for (alpha, text) in QUANTILES.iter().zip(&parts) {
            boosters.push(SharedBooster::parse(
                &dir.join(time_to_close_model(*alpha)),
                text,
            )?);
        }
        let meta: TimeToCloseMeta = parse_meta(&meta_path, &meta_text)?;
        check_format(&meta_path, meta.format)?;
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
        let input = self.meta.encodings.model_input(matrix);
        let preds: Vec<Vec<f64>> = self
            .boosters
            .iter()
            .map(|b| b.raw(&input))
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

fn parse_meta<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ModelError> {
    serde_json::from_str(text).map_err(|e| ModelError::Corrupt {
        path: path.to_path_buf(),
        message: format!("not valid model metadata: {e}"),
    })
}

fn check_format(path: &Path, found: u32) -> Result<(), ModelError> {
    if found == META_FORMAT {
        Ok(())
    } else {
        Err(ModelError::Outdated {
            path: path.to_path_buf(),
            found,
        })
    }
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

/// The manifest: each file of a set with the hash of its bytes.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    files: std::collections::BTreeMap<String, String>,
}

/// The files of a trained set, read together and checked against their
/// manifest.
#[derive(Debug)]
pub struct ModelSet {
    dir: PathBuf,
    texts: std::collections::BTreeMap<String, String>,
}

impl ModelSet {
    /// Reads the set in `dir` under the shared commit lock: every file the
    /// manifest lists, each checked against its hash. No manifest is
    /// [`ModelError::Missing`] (nothing trained, or by a revintel before
    /// manifests); a file that differs is [`ModelError::Inconsistent`].
    pub fn read(dir: &Path) -> Result<ModelSet, ModelError> {
        let _lock = lock_commit(dir, false)?;
        let manifest_path = dir.join(MANIFEST);
        let manifest: Manifest = parse_meta(&manifest_path, &read_model_file(&manifest_path)?)?;
        if manifest.format != META_FORMAT {
            return Err(ModelError::Outdated {
                path: manifest_path,
                found: manifest.format,
            });
        }
        let mut texts = std::collections::BTreeMap::new();
        for (name, hash) in &manifest.files {
            let path = dir.join(name);
            let text = read_model_file(&path).map_err(|e| match e {
                ModelError::Missing { path } => ModelError::Inconsistent {
                    path,
                    message: format!("listed in {MANIFEST} but missing"),
                },
                other => other,
            })?;
            if fingerprint(&[text.as_bytes()]) != *hash {
                return Err(ModelError::Inconsistent {
                    path,
                    message: format!(
                        "does not match {MANIFEST} (written by another training run, or one that was interrupted)"
                    ),
                });
            }
            texts.insert(name.clone(), text);
        }
        Ok(ModelSet {
            dir: dir.to_path_buf(),
            texts,
        })
    }

    /// Where a file of the set lives.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A file of the set, as read.
    pub fn text(&self, name: &str) -> Result<&str, ModelError> {
        self.texts
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ModelError::Inconsistent {
                path: self.path(name),
                message: format!("not listed in {MANIFEST}"),
            })
    }
}

/// Whether `dir` holds a committed set (its manifest).
pub fn set_present(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

/// Writes `files` (name, bytes) into `dir` as one set: each staged in a
/// synced temporary file, then — under the exclusive commit lock — all
/// renamed into place, the manifest written last, and the folder synced.
/// On an error before the renames, the old set is untouched.
pub fn commit_set(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), ModelError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ModelError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let manifest = Manifest {
        format: META_FORMAT,
        files: files
            .iter()
            .map(|(name, bytes)| (name.clone(), fingerprint(&[bytes])))
            .collect(),
    };
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    manifest_bytes.push(b'\n');
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let stage_all = (|| {
        for (name, bytes) in files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .chain([(MANIFEST, manifest_bytes.as_slice())])
        {
            let path = dir.join(name);
            let temp = utils::fs::stage(&path, bytes).map_err(io(&path))?;
            staged.push((temp, path));
        }
        Ok::<_, ModelError>(())
    })();
    if let Err(e) = stage_all {
        for (temp, _) in &staged {
            let _ = std::fs::remove_file(temp);
        }
        return Err(e);
    }
    let _lock = lock_commit(dir, true)?;
    // The manifest is staged last, so it is renamed last.
    for (k, (temp, path)) in staged.iter().enumerate() {
        if let Err(e) = std::fs::rename(temp, path) {
            for (left, _) in &staged[k..] {
                let _ = std::fs::remove_file(left);
            }
            return Err(io(path)(e));
        }
    }
    utils::fs::sync_dir(dir).map_err(io(dir))
}

/// The commit lock of `dir`, exclusive or shared, held until dropped. A
/// folder that cannot hold a lock file (read-only) is read without one.
fn lock_commit(dir: &Path, exclusive: bool) -> Result<Option<std::fs::File>, ModelError> {
    let path = dir.join(COMMIT_LOCK);
    let file = if exclusive {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
    } else {
        std::fs::File::open(&path)
    };
    let file = match file {
        Ok(f) => f,
        Err(_) if !exclusive => return Ok(None),
        Err(source) => return Err(ModelError::Io { path, source }),
    };
    let locked = if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    };
    locked.map_err(|source| ModelError::Io { path, source })?;
    Ok(Some(file))
}
