//! The rules a row must keep beyond its fields' formats: a known stage whose
//! outcome agrees with the deal, a closed deal with its close date and an
//! open one without, no negative amounts, no close before creation, no
//! history row that exits before it enters.

use super::fields::Cell;
use super::mapping::{CanonicalStage, Mapping, Outcome};
use super::Entity;

/// Positions of the fields the entity rules look at.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Roles {
    pub(super) id: Option<usize>,
    pub(super) deal_id: Option<usize>,
    pub(super) stage: Option<usize>,
    pub(super) outcome: Option<usize>,
    pub(super) forecast_category: Option<usize>,
    pub(super) amount: Option<usize>,
    pub(super) currency: Option<usize>,
    pub(super) created: Option<usize>,
    pub(super) close_date: Option<usize>,
    pub(super) closed_date: Option<usize>,
    pub(super) employees: Option<usize>,
    pub(super) account_id: Option<usize>,
    pub(super) list_price: Option<usize>,
    pub(super) quota: Option<usize>,
    pub(super) entered: Option<usize>,
    pub(super) exited: Option<usize>,
}

pub(super) type RuleError = (Option<&'static str>, String);

/// Stage names already resolved, with their pipeline: exports repeat a
/// handful of names a million times, and resolving one allocates.
pub(super) type StageMemo = Vec<(Box<str>, Option<Box<str>>, Option<CanonicalStage>)>;

fn resolve_stage(
    memo: &mut StageMemo,
    mapping: &Mapping,
    raw: &str,
    pipeline: Option<&str>,
) -> Option<CanonicalStage> {
    if let Some((_, _, s)) = memo
        .iter()
        .find(|(r, p, _)| **r == *raw && p.as_deref() == pipeline)
    {
        return *s;
    }
    let s = mapping.stages.resolve(raw, pipeline);
    if memo.len() < 256 {
        memo.push((raw.into(), pipeline.map(Into::into), s));
    }
    s
}

/// The entity's own rules; returns the canonical stage for deals and history.
/// The largest amount a deal (or a list price, quota, head count) may have:
/// a quadrillion in any currency. Larger is a data error (an id typed into
/// the amount), and would make every total meaningless.
pub const MAX_AMOUNT: f64 = 1e15;

pub(super) fn apply_rules<'a>(
    entity: Entity,
    r: &Roles,
    mapping: &'a Mapping,
    memo: &mut StageMemo,
    cells: &mut [Cell<'a>],
    pipeline: Option<&str>,
) -> Result<Option<CanonicalStage>, RuleError> {
    let negative =
        |i: Option<usize>, cells: &[Cell<'_>], what: &'static str| -> Result<(), RuleError> {
            match i.and_then(|i| cells[i].number()) {
                Some(v) if v < 0.0 => Err((Some(what), format!("negative {what} {v}"))),
                Some(v) if v > MAX_AMOUNT => Err((
                    Some(what),
                    format!("{what} {v} is implausibly large (above {MAX_AMOUNT:e})"),
                )),
                _ => Ok(()),
            }
        };
    match entity {
        Entity::Deals | Entity::StageHistory => {
            let si = r.stage.expect("deals and history have a stage");
            let raw = cells[si].text().unwrap_or_default();
            let stage = resolve_stage(memo, mapping, raw, pipeline).ok_or_else(|| {
                (
                    Some("stage"),
                    format!(
                        "unknown stage `{raw}`; the mapping knows: {}",
                        mapping.stages.known()
                    ),
                )
            })?;
            cells[si] = Cell::Text(stage.name);
            if let Some(fc) = r.forecast_category {
                cells[fc] = match cells[fc].text() {
                    None => Cell::Text(stage.forecast_category()),
                    Some(t) => Cell::Text(match t {
                        "BestCase" => "Best Case",
                        "Forecast" => "Commit",
                        "MostLikely" => "Most Likely",
                        other => other,
                    }),
                };
            }
            negative(r.amount, cells, "amount")?;
            if entity == Entity::StageHistory {
                let (entered, exited) = (
                    r.entered.and_then(|i| cells[i].date()),
                    r.exited.and_then(|i| cells[i].date()),
                );
                if let (Some(a), Some(b)) = (entered, exited) {
                    if b < a {
                        return Err((Some("exited_at"), "exited before it was entered".into()));
                    }
                }
                return Ok(Some(stage));
            }
            if let Some(oi) = r.outcome {
                match cells[oi].text() {
                    None => cells[oi] = Cell::Text(stage.outcome.as_str()),
                    Some(t) => match Outcome::parse(t) {
                        Some(o) if o == stage.outcome => cells[oi] = Cell::Text(o.as_str()),
                        Some(o) => {
                            return Err((
                                Some("outcome"),
                                format!(
                                    "outcome `{}` contradicts stage `{raw}` ({})",
                                    o.as_str(),
                                    stage.outcome.as_str()
                                ),
                            ))
                        }
                        None => {
                            return Err((
                                Some("outcome"),
                                format!("outcome `{t}` must be open, won or lost"),
                            ))
                        }
                    },
                }
            }
            if let Some(ci) = r.currency {
                if matches!(cells[ci], Cell::Null) {
                    if let Some(c) = &mapping.formats.currency {
                        cells[ci] = Cell::Text(c.as_str());
                    }
                }
            }
            let (cd, xd) = (r.close_date.expect("deals"), r.closed_date.expect("deals"));
            if stage.outcome == Outcome::Open {
                if let Some(d) = cells[xd].date() {
                    return Err((
                        Some("closed_date"),
                        format!(
                            "an open deal cannot have closed on {}",
                            ml::time::days_to_date(d)
                        ),
                    ));
                }
            } else {
                // A closed deal's close date is when it closed.
                match (cells[cd].date(), cells[xd].date()) {
                    (Some(d), None) => cells[xd] = Cell::Date(d),
                    (None, Some(d)) => cells[cd] = Cell::Date(d),
                    (None, None) => {
                        return Err((
                            Some("closed_date"),
                            format!("a {} deal needs the date it closed", stage.outcome.as_str()),
                        ))
                    }
                    _ => {}
                }
            }
            let created = r.created.and_then(|i| cells[i].date());
            for (i, name) in [(xd, "closed_date"), (cd, "close_date")] {
                if let (Some(c), Some(d)) = (created, cells[i].date()) {
                    if d < c {
                        return Err((
                            Some(name),
                            format!(
                                "{} {} is before the created date {}",
                                if name == "closed_date" {
                                    "closed on"
                                } else {
                                    "close date"
                                },
                                ml::time::days_to_date(d),
                                ml::time::days_to_date(c)
                            ),
                        ));
                    }
                }
            }
            Ok(Some(stage))
        }
        Entity::Products => negative(r.list_price, cells, "list_price").map(|_| None),
        Entity::Reps => negative(r.quota, cells, "quota").map(|_| None),
        Entity::Accounts => negative(r.employees, cells, "employees").map(|_| None),
    }
}
