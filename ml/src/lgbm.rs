//! Training LightGBM through its C API.
//!
//! The `lightgbm3` crate builds a training set with no parameters at all,
//! and LightGBM fixes a set's bins — and which features are categorical —
//! when the set is built: a `categorical_feature` given later, to the
//! booster, is ignored. So every tree split the category codes as if they
//! were numbers (`num_cat=0` in every model file). Here the training set is
//! built with its parameters (the categorical features, how missing values
//! are treated), and trained with early stopping on the validation set; the
//! model text then loads through `lightgbm3` for prediction as before.

use lightgbm3_sys::{BoosterHandle, DatasetHandle};
use std::ffi::{c_char, c_void, CStr, CString};

/// A LightGBM call that failed, with LightGBM's own message.
#[derive(Debug, thiserror::Error)]
#[error("LightGBM: {0}")]
pub struct LgbmError(pub String);

/// LightGBM's last error message.
fn last_error() -> LgbmError {
    // SAFETY: LGBM_GetLastError returns a pointer to a NUL-terminated
    // thread-local buffer that stays valid until the next LightGBM call.
    let message = unsafe { CStr::from_ptr(lightgbm3_sys::LGBM_GetLastError()) };
    LgbmError(message.to_string_lossy().into_owned())
}

fn check(code: i32) -> Result<(), LgbmError> {
    if code == 0 {
        Ok(())
    } else {
        Err(last_error())
    }
}

fn cstring(text: &str) -> Result<CString, LgbmError> {
    CString::new(text).map_err(|_| LgbmError(format!("a NUL byte in {text:?}")))
}

/// A training or validation set, freed when dropped.
pub struct TrainingSet {
    handle: DatasetHandle,
    rows: usize,
}

impl Drop for TrainingSet {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_DatasetCreateFromMat and is freed once.
        unsafe { lightgbm3_sys::LGBM_DatasetFree(self.handle) };
    }
}

impl TrainingSet {
    /// A set of `labels.len()` rows of the row-major `matrix`, binned with
    /// `params` (e.g. `categorical_feature=12,13`) — or like `reference`'s,
    /// for a validation set — with the feature `names`.
    pub fn new(
        matrix: &[f64],
        labels: &[f32],
        names: &[String],
        params: &str,
        reference: Option<&TrainingSet>,
    ) -> Result<TrainingSet, LgbmError> {
        let (rows, cols) = (labels.len(), names.len());
        if rows == 0 || cols == 0 || matrix.len() != rows * cols {
            return Err(LgbmError(format!(
                "a {rows} × {cols} set cannot hold {} values",
                matrix.len()
            )));
        }
        let (rows_i32, cols_i32) = (
            i32::try_from(rows).map_err(|_| LgbmError(format!("{rows} rows are too many")))?,
            i32::try_from(cols).map_err(|_| LgbmError(format!("{cols} columns are too many")))?,
        );
        let params = cstring(params)?;
        let mut handle: DatasetHandle = std::ptr::null_mut();
        // SAFETY: `matrix` holds rows × cols f64 values in row-major order,
        // `params` is NUL-terminated, `reference` (if any) is a live set, and
        // `handle` receives the new set's handle.
        check(unsafe {
            lightgbm3_sys::LGBM_DatasetCreateFromMat(
                matrix.as_ptr() as *const c_void,
                lightgbm3_sys::C_API_DTYPE_FLOAT64 as i32,
                rows_i32,
                cols_i32,
                1,
                params.as_ptr(),
                reference.map_or(std::ptr::null_mut(), |r| r.handle),
                &mut handle,
            )
        })?;
        let set = TrainingSet { handle, rows };
        let field = cstring("label")?;
        // SAFETY: `labels` holds one f32 per row of the set.
        check(unsafe {
            lightgbm3_sys::LGBM_DatasetSetField(
                set.handle,
                field.as_ptr(),
                labels.as_ptr() as *const c_void,
                rows_i32,
                lightgbm3_sys::C_API_DTYPE_FLOAT32 as i32,
            )
        })?;
        let names: Vec<CString> = names.iter().map(|n| cstring(n)).collect::<Result<_, _>>()?;
        let mut pointers: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        // SAFETY: `pointers` holds one NUL-terminated name per column, alive
        // for the call (LightGBM copies them).
        check(unsafe {
            lightgbm3_sys::LGBM_DatasetSetFeatureNames(set.handle, pointers.as_mut_ptr(), cols_i32)
        })?;
        Ok(set)
    }

    /// Rows in the set.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// A booster being trained, freed when dropped.
struct Training(BoosterHandle);

impl Drop for Training {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_BoosterCreate and is freed once.
        unsafe { lightgbm3_sys::LGBM_BoosterFree(self.0) };
    }
}

/// How a booster is trained.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// LightGBM's parameters, `key=value` separated by spaces.
    pub params: String,
    /// The most boosting rounds.
    pub iterations: usize,
    /// Stop when the validation metric has not improved for this many rounds.
    pub early_stopping: usize,
    /// Whether a higher validation metric is better (AUC) or a lower (loss).
    pub higher_is_better: bool,
}

/// Trains on `train`, stopping early on `valid`'s first metric, and returns
/// the model text of the best round.
pub fn train(
    train: &TrainingSet,
    valid: &TrainingSet,
    schedule: &Schedule,
) -> Result<String, LgbmError> {
    let params = cstring(&schedule.params)?;
    let mut handle: BoosterHandle = std::ptr::null_mut();
    // SAFETY: `train` is a live set and `params` NUL-terminated.
    check(unsafe {
        lightgbm3_sys::LGBM_BoosterCreate(train.handle, params.as_ptr(), &mut handle)
    })?;
    let booster = Training(handle);
    // SAFETY: both handles are live; the booster keeps its own reference.
    check(unsafe { lightgbm3_sys::LGBM_BoosterAddValidData(booster.0, valid.handle) })?;
    let mut best: Option<f64> = None;
    let mut since_best = 0;
    for _ in 0..schedule.iterations {
        let mut finished = 0;
        // SAFETY: a live booster; `finished` receives a flag.
        check(unsafe { lightgbm3_sys::LGBM_BoosterUpdateOneIter(booster.0, &mut finished) })?;
        if finished != 0 {
            break;
        }
        let score = first_eval(&booster)?;
        let better = match (best, score) {
            (None, _) => true,
            (Some(b), s) if schedule.higher_is_better => s > b,
            (Some(b), s) => s < b,
        };
        if better {
            best = Some(score);
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= schedule.early_stopping {
                for _ in 0..since_best {
                    // SAFETY: a live booster with more rounds than rolled back.
                    check(unsafe { lightgbm3_sys::LGBM_BoosterRollbackOneIter(booster.0) })?;
                }
                break;
            }
        }
    }
    model_text(&booster)
}

/// The first metric on the validation set (data index 1).
fn first_eval(booster: &Training) -> Result<f64, LgbmError> {
    let mut count = 0;
    // SAFETY: a live booster; `count` receives the number of metrics.
    check(unsafe { lightgbm3_sys::LGBM_BoosterGetEvalCounts(booster.0, &mut count) })?;
    let mut results = vec![0.0f64; count.max(1) as usize];
    let mut written = 0;
    // SAFETY: `results` has room for every metric.
    check(unsafe {
        lightgbm3_sys::LGBM_BoosterGetEval(booster.0, 1, &mut written, results.as_mut_ptr())
    })?;
    results
        .first()
        .copied()
        .filter(|_| written > 0)
        .ok_or_else(|| LgbmError("the validation set has no metric".into()))
}

/// The booster's model text, every round it kept.
fn model_text(booster: &Training) -> Result<String, LgbmError> {
    let mut size: i64 = 0;
    // SAFETY: a live booster; a zero-length buffer asks for the size.
    check(unsafe {
        lightgbm3_sys::LGBM_BoosterSaveModelToString(
            booster.0,
            0,
            -1,
            0,
            0,
            &mut size,
            std::ptr::null_mut(),
        )
    })?;
    let mut buffer = vec![0u8; usize::try_from(size).unwrap_or(0).max(1)];
    // SAFETY: `buffer` holds `size` bytes, the text and its NUL.
    check(unsafe {
        lightgbm3_sys::LGBM_BoosterSaveModelToString(
            booster.0,
            0,
            -1,
            0,
            buffer.len() as i64,
            &mut size,
            buffer.as_mut_ptr() as *mut c_char,
        )
    })?;
    let text = CStr::from_bytes_until_nul(&buffer)
        .map_err(|_| LgbmError("the model text has no end".into()))?;
    Ok(text.to_string_lossy().into_owned())
}
