//! Stages and the stage-history rows of one deal, with their invariants.
//!
//! `Timeline` is the only way rows are added, so the guarantees the engine's
//! as-of queries rely on hold by construction: rows are in time order with
//! strictly increasing `entered` days, a new row appears only when the stage,
//! the amount or the close date changes (two changes on one day merge into one
//! row), a closed row's close date is the day it was entered, and nothing
//! after the as-of date is kept — the first event past it freezes the deal.

use super::calendar::Day;

/// A sales stage; the first four are open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Prospecting,
    Qualification,
    Proposal,
    Negotiation,
    ClosedWon,
    ClosedLost,
}

impl Stage {
    /// The open stages in funnel order.
    pub(crate) const OPEN: [Stage; 4] = [
        Stage::Prospecting,
        Stage::Qualification,
        Stage::Proposal,
        Stage::Negotiation,
    ];

    /// The stage's name as written in the CSV files.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stage::Prospecting => "Prospecting",
            Stage::Qualification => "Qualification",
            Stage::Proposal => "Proposal",
            Stage::Negotiation => "Negotiation",
            Stage::ClosedWon => "Closed Won",
            Stage::ClosedLost => "Closed Lost",
        }
    }

    /// The forecast category a CRM derives from the stage (the one rule,
    /// in `ml::stages`).
    pub(crate) fn forecast_category(self) -> &'static str {
        ml::stages::forecast_category(self.name())
    }

    /// `open`, `won` or `lost`.
    pub(crate) fn outcome(self) -> &'static str {
        match self {
            Stage::ClosedWon => "won",
            Stage::ClosedLost => "lost",
            _ => "open",
        }
    }

    /// Whether the deal is closed in this stage.
    pub(crate) fn is_closed(self) -> bool {
        matches!(self, Stage::ClosedWon | Stage::ClosedLost)
    }
}

/// One interval of constant stage, amount and close date; it lasts until the
/// next row's `entered` (or is current if it is the last row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HistoryRow {
    pub(crate) entered: Day,
    pub(crate) stage: Stage,
    pub(crate) amount_cents: i64,
    pub(crate) close: Day,
}

/// Appends a deal's history rows up to the as-of date.
pub(crate) struct Timeline<'h> {
    rows: &'h mut Vec<HistoryRow>,
    as_of: Day,
    truncated: bool,
}

impl<'h> Timeline<'h> {
    /// Starts an empty history (clearing `rows`, which is reused between deals).
    pub(crate) fn new(rows: &'h mut Vec<HistoryRow>, as_of: Day) -> Self {
        rows.clear();
        Self {
            rows,
            as_of,
            truncated: false,
        }
    }

    /// Whether an event past the as-of date has been offered.
    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }

    /// The day of the latest row.
    pub(crate) fn last_day(&self) -> Day {
        self.rows.last().map_or(Day::MIN, |r| r.entered)
    }

    /// Records that from `day` on the deal is in `stage` with `amount_cents`
    /// and `close`; returns false (and keeps nothing) once past the as-of date.
    pub(crate) fn record(&mut self, day: Day, stage: Stage, amount_cents: i64, close: Day) -> bool {
        if self.truncated || day > self.as_of {
            self.truncated = true;
            return false;
        }
        let mut day = day;
        if let Some(last) = self.rows.last_mut() {
            debug_assert!(!last.stage.is_closed(), "a closed deal does not change");
            if day <= last.entered {
                if stage == last.stage {
                    last.amount_cents = amount_cents;
                    last.close = close;
                    return true;
                }
                // The simulation gives every stage at least one day; should a
                // change still collide, it moves to the next day rather than
                // erase the previous stage.
                debug_assert!(false, "stage change on day {day} collides with {last:?}");
                day = last.entered + 1;
                if day > self.as_of {
                    self.truncated = true;
                    return false;
                }
            } else if stage == last.stage
                && amount_cents == last.amount_cents
                && close == last.close
            {
                return true;
            }
        }
        let close = if stage.is_closed() { day } else { close };
        self.rows.push(HistoryRow {
            entered: day,
            stage,
            amount_cents,
            close,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_day_changes_merge_and_later_ones_append() {
        let mut rows = Vec::new();
        let mut tl = Timeline::new(&mut rows, 100);
        assert!(tl.record(10, Stage::Prospecting, 500, 40));
        assert!(tl.record(10, Stage::Prospecting, 500, 45));
        assert!(tl.record(20, Stage::Prospecting, 500, 45));
        assert!(tl.record(30, Stage::Qualification, 400, 45));
        assert!(tl.record(60, Stage::ClosedWon, 400, 0));
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].close, 45);
        assert_eq!(
            rows[2],
            HistoryRow {
                entered: 60,
                stage: Stage::ClosedWon,
                amount_cents: 400,
                close: 60
            }
        );
    }

    #[test]
    fn nothing_past_as_of_is_kept() {
        let mut rows = Vec::new();
        let mut tl = Timeline::new(&mut rows, 100);
        assert!(tl.record(90, Stage::Proposal, 1, 120));
        assert!(!tl.record(101, Stage::Negotiation, 1, 120));
        assert!(!tl.record(95, Stage::Proposal, 2, 130));
        assert!(tl.truncated());
        assert_eq!(rows.len(), 1);
    }
}
