//! Stage-history rows built in memory: from change events (Salesforce's
//! OpportunityHistory), from HubSpot's per-stage date columns, or
//! synthesized from deals when no history exists.
//!
//! The canonical table holds intervals (`entered_at` inclusive, `exited_at`
//! exclusive, NULL for the current row) with at most one row per deal and
//! day, so the order of a deal's rows is never ambiguous. Sources that record
//! several changes on one day keep the day's last state; that is counted,
//! and said in the load report, never hidden.

use super::Entity;
use datafusion::arrow::array::{ArrayRef, Date32Builder, Float64Builder, StringBuilder};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// One stage-history row.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub deal_id: String,
    pub stage: &'static str,
    /// Days since 1970-01-01.
    pub entered: i32,
    pub exited: Option<i32>,
    pub amount: Option<f64>,
    pub close_date: Option<i32>,
    pub forecast_category: Option<String>,
}

/// Turns change events (each the state from its day on) into intervals:
/// per deal in order of day and then of `seq` (the source's own order), the
/// day's last event stands and each row ends where the next begins. Returns
/// the intervals and how many events a later one on the same day replaced.
pub fn events_to_intervals(mut events: Vec<(Interval, u64)>) -> (Vec<Interval>, u64) {
    events.sort_by(|(a, sa), (b, sb)| {
        (a.deal_id.as_str(), a.entered, sa).cmp(&(b.deal_id.as_str(), b.entered, sb))
    });
    let mut out: Vec<Interval> = Vec::with_capacity(events.len());
    let mut folded = 0;
    for (event, _) in events {
        match out.last_mut() {
            Some(last) if last.deal_id == event.deal_id && last.entered == event.entered => {
                *last = event;
                folded += 1;
            }
            Some(last) if last.deal_id == event.deal_id => {
                last.exited = Some(event.entered);
                out.push(event);
            }
            _ => out.push(event),
        }
    }
    (out, folded)
}

/// Appends stage-history rows straight into Arrow arrays.
pub struct HistoryBuilder {
    deal_id: StringBuilder,
    stage: StringBuilder,
    entered: Date32Builder,
    exited: Date32Builder,
    amount: Float64Builder,
    close_date: Date32Builder,
    forecast_category: StringBuilder,
}

impl HistoryBuilder {
    pub fn with_capacity(rows: usize) -> HistoryBuilder {
        HistoryBuilder {
            deal_id: StringBuilder::with_capacity(rows, rows * 8),
            stage: StringBuilder::with_capacity(rows, rows * 11),
            entered: Date32Builder::with_capacity(rows),
            exited: Date32Builder::with_capacity(rows),
            amount: Float64Builder::with_capacity(rows),
            close_date: Date32Builder::with_capacity(rows),
            forecast_category: StringBuilder::with_capacity(rows, rows * 8),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        deal_id: &str,
        stage: &str,
        entered: i32,
        exited: Option<i32>,
        amount: Option<f64>,
        close_date: Option<i32>,
        forecast_category: Option<&str>,
    ) {
        self.deal_id.append_value(deal_id);
        self.stage.append_value(stage);
        self.entered.append_value(entered);
        self.exited.append_option(exited);
        self.amount.append_option(amount);
        self.close_date.append_option(close_date);
        self.forecast_category.append_option(forecast_category);
    }

    pub fn finish(mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.deal_id.finish()),
            Arc::new(self.stage.finish()),
            Arc::new(self.entered.finish()),
            Arc::new(self.exited.finish()),
            Arc::new(self.amount.finish()),
            Arc::new(self.close_date.finish()),
            Arc::new(self.forecast_category.finish()),
        ];
        RecordBatch::try_new(Entity::StageHistory.schema(), columns)
            .expect("stage_history columns match the canonical schema")
    }
}

/// The `stage_history` batch of `rows`, in the canonical schema.
pub fn to_batch(rows: &[Interval]) -> RecordBatch {
    let mut b = HistoryBuilder::with_capacity(rows.len());
    for r in rows {
        b.push(
            &r.deal_id,
            r.stage,
            r.entered,
            r.exited,
            r.amount,
            r.close_date,
            r.forecast_category.as_deref(),
        );
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(deal: &str, stage: &'static str, day: i32) -> Interval {
        Interval {
            deal_id: deal.into(),
            stage,
            entered: day,
            exited: None,
            amount: None,
            close_date: None,
            forecast_category: None,
        }
    }

    #[test]
    fn events_become_intervals_and_same_day_changes_fold() {
        let (rows, folded) = events_to_intervals(vec![
            (ev("D2", "Prospecting", 5), 1),
            (ev("D1", "Proposal", 20), 4),
            (ev("D1", "Prospecting", 10), 2),
            (ev("D1", "Qualification", 10), 3),
        ]);
        assert_eq!(folded, 1);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.deal_id.as_str(), r.stage, r.entered, r.exited))
            .collect();
        assert_eq!(
            got,
            vec![
                ("D1", "Qualification", 10, Some(20)),
                ("D1", "Proposal", 20, None),
                ("D2", "Prospecting", 5, None),
            ]
        );
        assert_eq!(to_batch(&rows).num_rows(), 3);
    }
}
