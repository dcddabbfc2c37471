//! HubSpot's stage history: the `Date entered "<stage> (<pipeline>)"` and
//! `Date exited …` columns of a deals export (or `hs_date_entered_<stage id>`
//! in API-named exports).
//!
//! Each deal's entered dates become its stage intervals, in date order, each
//! lasting until the next stage was entered; the deal's current stage is
//! always its last row. Columns of another pipeline than the deal's are
//! ignored, as are stages the mapping does not know (said in the report).
//! HubSpot keeps no history of amounts or close dates, so past rows carry
//! the current amount and no expected close date. A date that cannot be read
//! rejects the deal's whole record, naming the column.

use super::csv_file::RecordHook;
use super::history::{self, Interval};
use super::mapping::{CanonicalStage, Mapping};
use super::report::FileLoad;
use super::table_reader::AcceptedDeal;
use super::values::DateFormat;
use super::{Entity, SourceError};
use ml::time::date_to_days;
use std::path::PathBuf;

/// One stage's entered column.
struct StageColumn {
    index: usize,
    header: String,
    stage: CanonicalStage,
    pipeline: Option<String>,
}

/// Collects stage history while the deals of a HubSpot export are read.
pub struct HubspotHistory<'m> {
    mapping: &'m Mapping,
    date: DateFormat,
    file: PathBuf,
    columns: Vec<StageColumn>,
    /// Entered dates of the record being read, by column.
    pending: Vec<(usize, i32)>,
    rows: Vec<Interval>,
    deals: u64,
    ignored: Vec<String>,
    folded: u64,
    /// Implausible stage dates, read as no date.
    blanked: super::values::DatesReadAsEmpty,
}

/// `Date entered "Stage (Pipeline)"` → ("Stage", Some("Pipeline")).
fn entered_label(header: &str) -> Option<(String, Option<String>)> {
    let h = header.trim();
    // ASCII lower-casing keeps byte offsets, so `lower`'s slices index `h`.
    let lower = h.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("hs_date_entered_") {
        return Some((h[h.len() - rest.len()..].to_string(), None));
    }
    if !lower.starts_with("date entered") {
        return None;
    }
    let label = h["date entered".len()..]
        .trim()
        .trim_matches(|c| c == '"' || c == '\u{201c}' || c == '\u{201d}');
    match label.rsplit_once(" (") {
        Some((stage, pipeline)) if pipeline.ends_with(')') => Some((
            stage.trim().to_string(),
            Some(pipeline.trim_end_matches(')').trim().to_string()),
        )),
        _ => Some((label.to_string(), None)),
    }
}

impl<'m> HubspotHistory<'m> {
    pub fn new(mapping: &'m Mapping, file: PathBuf) -> HubspotHistory<'m> {
        HubspotHistory {
            mapping,
            date: mapping.formats.date.clone(),
            file,
            columns: Vec::new(),
            pending: Vec::new(),
            rows: Vec::new(),
            deals: 0,
            ignored: Vec::new(),
            folded: 0,
            blanked: Default::default(),
        }
    }

    /// Whether the export has any stage-date column revintel can use.
    pub fn has_history(&self) -> bool {
        !self.columns.is_empty()
    }

    /// The history rows and their report.
    pub fn finish(self, fingerprint: String) -> (Vec<Interval>, FileLoad) {
        let mut notes = vec![format!(
            "from the `Date entered` columns of {} stage(s) for {} loaded deals: {} rows",
            self.columns.len(),
            self.deals,
            self.rows.len()
        )];
        if !self.ignored.is_empty() {
            notes.push(format!(
                "stage columns not used (stage unknown to the mapping): {}",
                self.ignored.join(", ")
            ));
        }
        if self.folded > 0 {
            notes.push(format!(
                "{} same-day stage changes kept as the day's last stage",
                self.folded
            ));
        }
        notes.extend(self.blanked.note());
        let load = FileLoad {
            source: String::new(),
            table: Entity::StageHistory.table().to_string(),
            file: self.file,
            rows_read: self.deals,
            rows_loaded: self.deals,
            rejected: Vec::new(),
            fingerprint,
            notes,
        };
        (self.rows, load)
    }
}

impl RecordHook for HubspotHistory<'_> {
    fn header(&mut self, header: &[String]) -> Result<(), SourceError> {
        for (index, h) in header.iter().enumerate() {
            let Some((stage, pipeline)) = entered_label(h) else {
                continue;
            };
            match self.mapping.stages.resolve(&stage, pipeline.as_deref()) {
                Some(s) => self.columns.push(StageColumn {
                    index,
                    header: h.trim().to_string(),
                    stage: s,
                    pipeline,
                }),
                None => self.ignored.push(h.trim().to_string()),
            }
        }
        Ok(())
    }

    fn check(&mut self, record: &csv::ByteRecord) -> Result<(), (String, Option<String>, String)> {
        self.pending.clear();
        for (k, col) in self.columns.iter().enumerate() {
            let raw = record.get(col.index).unwrap_or_default();
            let text = String::from_utf8_lossy(raw);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let parsed = self
                .date
                .parse(text)
                .ok_or_else(|| format!("expected {}, found `{text}`", self.date.describe()));
            match parsed {
                // A stage's date is optional: an implausible one is no date.
                Ok(d) if super::values::plausible_date(d).is_err() => {
                    self.blanked.add(&col.header, text);
                }
                Ok(d) => self.pending.push((k, date_to_days(d))),
                Err(reason) => {
                    return Err((
                        col.header.clone(),
                        Some(text.to_string()),
                        format!("column {} (`{}`): {reason}", col.index + 1, col.header),
                    ))
                }
            }
        }
        Ok(())
    }

    fn accepted(&mut self, deal: &AcceptedDeal) {
        self.deals += 1;
        let mut events: Vec<(Interval, u64)> = Vec::new();
        for &(k, day) in &self.pending {
            let col = &self.columns[k];
            let other_pipeline = match (&col.pipeline, &deal.pipeline) {
                (Some(a), Some(b)) => !a.eq_ignore_ascii_case(b.trim()),
                _ => false,
            };
            if other_pipeline {
                continue;
            }
            let order = col.stage.order.unwrap_or(usize::MAX) as u64;
            events.push((self.interval(deal, col.stage, day), order));
        }
        events.sort_by_key(|(e, order)| (e.entered, *order));
        let last_day = events.last().map(|(e, _)| e.entered);
        if events.last().map(|(e, _)| e.stage) != Some(deal.stage.name) {
            // The current stage has no entered date: it began no earlier
            // than the last recorded change (or its close, or creation).
            let day = deal
                .closed
                .filter(|_| deal.stage.order.is_none())
                .or(last_day)
                .unwrap_or(deal.created)
                .max(last_day.unwrap_or(i32::MIN));
            events.push((self.interval(deal, deal.stage, day), u64::MAX));
        }
        let (mut rows, folded) = history::events_to_intervals(events);
        self.folded += folded;
        if let Some(last) = rows.last_mut() {
            if deal.stage.order.is_some() {
                last.close_date = deal.close_date;
            } else {
                last.close_date = deal.closed;
            }
        }
        self.rows.append(&mut rows);
    }
}

impl HubspotHistory<'_> {
    fn interval(&self, deal: &AcceptedDeal, stage: CanonicalStage, day: i32) -> Interval {
        Interval {
            deal_id: deal.deal_id.clone(),
            stage: stage.name,
            entered: day,
            exited: None,
            amount: deal.amount,
            close_date: None,
            forecast_category: Some(stage.forecast_category().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_columns_are_recognised() {
        assert_eq!(
            entered_label("Date entered \"Contract Sent (Sales Pipeline)\""),
            Some(("Contract Sent".into(), Some("Sales Pipeline".into())))
        );
        assert_eq!(
            entered_label("hs_date_entered_closedwon"),
            Some(("closedwon".into(), None))
        );
        assert_eq!(
            entered_label("Date exited \"Contract Sent (Sales Pipeline)\""),
            None
        );
        assert_eq!(entered_label("Deal Stage"), None);
        // Letters whose lower case is longer in UTF-8 keep the label whole.
        assert_eq!(
            entered_label("hs_date_entered_İzmir"),
            Some(("İzmir".into(), None))
        );
        assert_eq!(
            entered_label("Date entered \"İzmir (EMEA)\""),
            Some(("İzmir".into(), Some("EMEA".into())))
        );
    }
}
