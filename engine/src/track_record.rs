//! The saved backtest read back as the forecast's track record: how far
//! each past cut-off's forecast missed, which sets the band's quarter-wide
//! swing (see `ml::track_record`). Below both [`crate::backtest`], which
//! writes the file, and [`crate::forecast_tables`], which reads it.

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Date32Type, Float64Type, UInt32Type};
use ml::track_record::{Miss, TrackRecord};
use std::path::Path;

/// File under the models folder holding the last backtest, as Arrow IPC.
pub const BACKTEST_FILE: &str = "backtest.arrow";

/// The misses of the backtest saved under `models_dir`; empty when none was
/// run or the file is not one this revintel wrote (then the band is the
/// simulation's own until a backtest runs).
pub fn saved(models_dir: &Path) -> TrackRecord {
    crate::caches::read_arrow(&models_dir.join(BACKTEST_FILE))
        .and_then(|batch| misses(&batch))
        .map(TrackRecord::new)
        .unwrap_or_default()
}

/// Each cut-off's miss in a saved backtest table; `None` when a column is
/// missing or of another type.
fn misses(batch: &RecordBatch) -> Option<Vec<Miss>> {
    let money = |name: &str| {
        batch
            .column_by_name(name)?
            .as_primitive_opt::<Float64Type>()
            .cloned()
    };
    let start = batch
        .column_by_name("period_start")?
        .as_primitive_opt::<Date32Type>()?
        .clone();
    let week = batch
        .column_by_name("weeks_into_quarter")?
        .as_primitive_opt::<UInt32Type>()?
        .clone();
    let (won, existing, new, own_sd, actual) = (
        money("won_to_date")?,
        money("existing_pipeline")?,
        money("new_pipeline")?,
        money("own_sd")?,
        money("actual")?,
    );
    Some(
        (0..batch.num_rows())
            .filter(|&i| !start.is_null(i) && !week.is_null(i))
            .filter_map(|i| {
                let period_start: NaiveDate = ml::time::days_to_date(start.value(i));
                Miss::of(
                    period_start,
                    week.value(i),
                    won.value(i),
                    existing.value(i) + new.value(i),
                    own_sd.value(i),
                    actual.value(i),
                )
            })
            .collect(),
    )
}
