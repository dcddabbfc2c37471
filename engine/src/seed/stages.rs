//! A deal's walk through the stages, its close-date pushes and its activity.
//!
//! At each open stage the deal's fate there is drawn first (advance or lose,
//! from its quality `q` minus a penalty per close-date push so far), then how
//! long the stage takes: the usual time × the deal's pace × noise; losing
//! stages drag on a little longer. Most losses and some advances are
//! preceded by a stall — an idle spell with no activity — that ends in a
//! pipeline scrub (closed lost, often at a month end) or a revival.
//!
//! Close dates are the rep's belief, not the truth: set at creation from the
//! usual remaining cycle × the rep's optimism, and pushed a few days after
//! they pass while the deal is still open (while idle, only sometimes, and
//! then just past the next month end). So slow, weak deals collect pushes,
//! stalled ones keep stale dates or get kicked down the road, and fast ones
//! occasionally get their date pulled in on reaching Negotiation.
//!
//! Activity is not stored as events: the last activity before a day is
//! recent (exponential gap) while a stage is active and frozen at the start
//! of an idle spell, which is all `deals.csv`'s `last_activity_date` needs.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, StandardNormal};

use super::calendar::{month_end, quarter_end, working_day, Day};
use super::lifecycle::{HistoryRow, Stage, Timeline};
use super::params::round_amount;
use super::params::*;

/// What drives a deal's walk.
pub(crate) struct DealPace {
    /// Hidden quality `q`, a logit.
    pub(crate) quality: f64,
    /// Multiplies every stage time; > 1 is slower than usual.
    pub(crate) pace: f64,
    /// Usual days in each open stage for this deal's segment, product and type.
    pub(crate) usual_days: [f64; 4],
    /// The owner's factor on close-date estimates.
    pub(crate) optimism: f64,
}

/// How a walk ended: closed (when) or still open at the as-of date.
pub(crate) struct WalkEnd {
    pub(crate) closed: Option<Day>,
    pub(crate) last_activity: Day,
}

/// The time plan of one stage: `[entry, active_end)` active, then idle until
/// `idle_end`, then (for a revived deal) active again until `exit`.
struct StagePlan {
    entry: Day,
    active_end: Day,
    idle_end: Day,
    exit: Day,
    advance: bool,
    stalled: bool,
}

impl StagePlan {
    fn is_idle(&self, day: Day) -> bool {
        day >= self.active_end && day < self.idle_end
    }
}

struct Walker<'a> {
    rng: &'a mut ChaCha8Rng,
    deal: &'a DealPace,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Walker<'_> {
    fn normal(&mut self) -> f64 {
        self.rng.sample(StandardNormal)
    }

    fn exp(&mut self) -> f64 {
        self.rng.sample(Exp1)
    }

    /// The rep's expected close date, estimated on `day` with `fraction_left`
    /// of stage `s` still to go (their optimism, not the deal's real pace).
    fn close_estimate(&mut self, day: Day, s: usize, fraction_left: f64) -> Day {
        let usual = &self.deal.usual_days;
        let left = fraction_left * usual[s] + usual[s + 1..].iter().sum::<f64>();
        let noise = (ESTIMATE_NOISE * self.normal()).exp();
        let close = day
            + (left * self.deal.optimism * noise)
                .round()
                .max(MIN_ESTIMATE_DAYS) as Day;
        if self.rng.random_bool(MONTH_END_CLOSE) {
            month_end(close)
        } else {
            close
        }
    }

    /// `day` moved off a weekend most of the time.
    fn working_day(&mut self, day: Day) -> Day {
        if self.rng.random_bool(WORKING_DAY_SHARE) {
            working_day(day, self.rng.random_range(0..5))
        } else {
            day
        }
    }

    fn plan(&mut self, s: usize, entry: Day, pushes: u32) -> StagePlan {
        let penalty = PUSH_PENALTY * f64::from(pushes.min(MAX_PENALISED_PUSHES));
        let advance = self
            .rng
            .random_bool(sigmoid(STAGE_LOGIT[s] + self.deal.quality - penalty));
        let stalled = self.rng.random_bool(if advance {
            STALL_IF_ADVANCING
        } else {
            STALL_IF_LOSING
        });
        let linger = if advance { 0.0 } else { LOSER_LINGER };
        let usual = self.deal.usual_days[s] * self.deal.pace;
        let active = (usual * (linger + STAGE_TIME_NOISE * self.normal()).exp())
            .round()
            .max(1.0);
        let active_end = entry + active as Day;
        let (idle_end, exit) = match (stalled, advance) {
            (false, _) => (active_end, active_end),
            (true, false) => {
                let idle = SCRUB_IDLE_MIN + SCRUB_IDLE_MEAN * self.exp();
                let scrub = active_end + idle as Day;
                let exit = if self.rng.random_bool(SCRUB_AT_MONTH_END) {
                    month_end(scrub)
                } else {
                    scrub
                };
                (exit, exit)
            }
            (true, true) => {
                let idle_end =
                    active_end + (REVIVAL_IDLE_MIN + REVIVAL_IDLE_MEAN * self.exp()) as Day;
                let again = (usual * (REVIVAL_TIME_LOG_MEAN + 0.4 * self.normal()).exp()).round();
                (idle_end, idle_end + again.max(1.0) as Day)
            }
        };
        let mut exit = self.working_day(exit);
        if s == 3
            && advance
            && quarter_end(exit) - exit <= 10
            && self.rng.random_bool(QUARTER_END_WIN)
        {
            exit = quarter_end(exit);
        }
        let exit = exit.max(entry + 1);
        // A scrubbed deal stays idle until the day it is closed.
        let idle_end = if stalled && !advance {
            exit
        } else {
            idle_end.min(exit)
        };
        StagePlan {
            entry,
            active_end,
            idle_end,
            exit,
            advance,
            stalled,
        }
    }

    /// The last activity on or before `day`, in `plan`'s stage.
    fn activity_before(&mut self, plan: &StagePlan, day: Day) -> Day {
        if plan.is_idle(day) {
            return self.activity_before_idle(plan);
        }
        let gap = (ACTIVITY_GAP_DAYS * self.deal.pace.min(4.0) * self.exp()) as Day;
        let active_since = if plan.stalled && day >= plan.idle_end {
            plan.idle_end
        } else {
            plan.entry
        };
        (day - gap).max(active_since)
    }

    /// The last activity before a stall began.
    fn activity_before_idle(&mut self, plan: &StagePlan) -> Day {
        (plan.active_end - 1 - (2.0 * self.exp()) as Day).max(plan.entry)
    }

    fn discounted(&mut self, amount: i64) -> i64 {
        round_amount(amount as f64 / 100.0 * self.rng.random_range(DISCOUNT_FACTOR))
    }
}

/// Walks a deal created on `created` in stage `start` with `amount` cents,
/// writing its history up to `as_of` into `history` (cleared first).
pub(crate) fn walk_stages(
    rng: &mut ChaCha8Rng,
    deal: &DealPace,
    created: Day,
    start: usize,
    amount: i64,
    as_of: Day,
    history: &mut Vec<HistoryRow>,
) -> WalkEnd {
    let mut w = Walker { rng, deal };
    let mut amount = amount;
    let mut close = w.close_estimate(created, start, 1.0);
    let mut tl = Timeline::new(history, as_of);
    tl.record(created, Stage::OPEN[start], amount, close);

    let mut entry = created;
    let mut pushes = 0u32;
    for s in start..4 {
        let plan = w.plan(s, entry, pushes);
        let discount_p = if plan.advance {
            DISCOUNT_IF_WINNING
        } else {
            DISCOUNT_IF_LOSING
        };
        let mut discount_day = None;
        if s == 3 && w.rng.random_bool(discount_p) {
            let d =
                entry + (f64::from(plan.active_end - entry) * w.rng.random_range(0.2..0.9)) as Day;
            discount_day = (d > entry && d < plan.exit).then_some(d);
        }

        // Close-date pushes while the stage runs (bounded: each moves the date on).
        let mut cursor = entry;
        for _ in 0..64 {
            if close >= plan.exit || tl.truncated() {
                break;
            }
            let noticed = (close + w.rng.random_range(0..=PUSH_DELAY_MAX)).max(cursor);
            let mut day = w.working_day(noticed);
            if plan.is_idle(day) && !w.rng.random_bool(IDLE_PUSH) {
                if !plan.advance {
                    break; // left stale until the scrub
                }
                day = plan.idle_end; // fixed on revival
            }
            if day >= plan.exit {
                break;
            }
            if let Some(d) = discount_day.filter(|&d| d <= day) {
                amount = w.discounted(amount);
                tl.record(d, Stage::OPEN[s], amount, close);
                discount_day = None;
            }
            close = if plan.is_idle(day) {
                month_end(day + w.rng.random_range(10..=30))
            } else {
                w.close_estimate(day, s, 0.5)
            };
            pushes += 1;
            tl.record(day, Stage::OPEN[s], amount, close);
            cursor = day;
        }
        if let Some(d) = discount_day {
            amount = w.discounted(amount);
            tl.record(d, Stage::OPEN[s], amount, close);
        }

        let exit = plan.exit;
        if !plan.advance || s == 3 {
            let stage = if plan.advance {
                Stage::ClosedWon
            } else {
                Stage::ClosedLost
            };
            if tl.record(exit, stage, amount, exit) {
                let last_activity = if plan.stalled {
                    w.activity_before_idle(&plan)
                } else {
                    tl.last_day()
                };
                return WalkEnd {
                    closed: Some(tl.last_day()),
                    last_activity,
                };
            }
        } else {
            let next = s + 1;
            if next == 2 && w.rng.random_bool(REQUOTE_AT_PROPOSAL) {
                let factor = (REQUOTE_LOG_MEAN + REQUOTE_LOG_SD * w.normal()).exp();
                amount = round_amount(amount as f64 / 100.0 * factor);
            }
            if close < exit + 3 {
                if w.rng.random_bool(FIX_AT_STAGE_CHANGE) {
                    close = w.close_estimate(exit, next, 1.0);
                    pushes += 1;
                }
            } else if next == 3
                && f64::from(close - exit) > 2.0 * deal.usual_days[3] + 30.0
                && w.rng.random_bool(PULL_IN)
            {
                close = w.close_estimate(exit, 3, 1.0).min(close);
            }
            tl.record(exit, Stage::OPEN[next], amount, close);
        }
        if tl.truncated() {
            return WalkEnd {
                closed: None,
                last_activity: w.activity_before(&plan, as_of),
            };
        }
        entry = exit;
    }
    unreachable!("Negotiation always ends in a close or in truncation")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn deal(quality: f64) -> DealPace {
        DealPace {
            quality,
            pace: 1.0,
            usual_days: [10.0, 12.0, 15.0, 12.0],
            optimism: 0.8,
        }
    }

    #[test]
    fn better_deals_win_more_and_faster() {
        let mut history = Vec::new();
        let mut wins = [0, 0];
        for (k, q) in [-1.5, 1.5].into_iter().enumerate() {
            for i in 0..2_000 {
                let mut rng = ChaCha8Rng::seed_from_u64(11);
                rng.set_stream(i);
                let end = walk_stages(
                    &mut rng,
                    &deal(q),
                    1_000,
                    0,
                    1_000_000,
                    10_000,
                    &mut history,
                );
                let closed = end
                    .closed
                    .expect("everything closes long before the as-of day");
                assert!(closed > 1_000 && end.last_activity <= closed);
                wins[k] += usize::from(history.last().unwrap().stage == Stage::ClosedWon);
            }
        }
        assert!(wins[0] < 300 && wins[1] > 900, "{wins:?}");
    }

    #[test]
    fn open_deals_stop_at_the_as_of_day() {
        let mut history = Vec::new();
        for i in 0..500 {
            let mut rng = ChaCha8Rng::seed_from_u64(12);
            rng.set_stream(i);
            let end = walk_stages(
                &mut rng,
                &deal(0.0),
                1_000,
                0,
                1_000_000,
                1_030,
                &mut history,
            );
            assert!(history.iter().all(|r| r.entered <= 1_030));
            if end.closed.is_none() {
                assert!(!history.last().unwrap().stage.is_closed());
                assert!(end.last_activity >= 1_000 && end.last_activity <= 1_030);
            }
        }
    }
}
