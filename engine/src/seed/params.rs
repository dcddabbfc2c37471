//! The knobs of the generating process, in one place.
//!
//! These values were tuned together against one target: a gradient-boosted
//! model on snapshot features of open deals (stage, time in stage, age, stage
//! changes, pushes, relative size, owner's past win rate, days since the last
//! change, segment, type, source, product), trained on older monthly
//! snapshots, should reach a test AUC of roughly 0.8–0.88 on later ones, with
//! an overall win rate of 25–30 % among closed deals. Changing one knob moves
//! both; re-check them together (and bump `GENERATOR` in `mod.rs`, since
//! the same seed then gives different data).

/// Deal types, and how often each is created.
pub(crate) const DEAL_TYPES: [&str; 3] = ["New Business", "Expansion", "Renewal"];
pub(crate) const DEAL_TYPE_SHARE: [f64; 3] = [0.60, 0.25, 0.15];

/// Lead sources. Expansions and renewals come from Customer Success with
/// `EXISTING_CUSTOMER_FROM_CS`; otherwise sources follow `NEW_LEAD_SHARE`.
pub(crate) const LEAD_SOURCES: [&str; 6] = [
    "Inbound",
    "Outbound",
    "Partner",
    "Event",
    "Referral",
    "Customer Success",
];
pub(crate) const NEW_LEAD_SHARE: [f64; 5] = [0.3, 0.3, 0.2, 0.1, 0.1];
pub(crate) const EXISTING_CUSTOMER_FROM_CS: f64 = 0.6;

/// Chance that a deal is created already in Qualification (skipping
/// Prospecting): renewals, warm inbound/referral leads, everything else.
pub(crate) const START_QUALIFIED: [f64; 3] = [0.6, 0.3, 0.1];
/// Chance that a deal's owner is from the account's regional office.
pub(crate) const OWNER_IN_REGION: f64 = 0.9;

/// Log-normal spread of a deal's first amount around segment median × product factor.
pub(crate) const AMOUNT_SPREAD: f64 = 0.5;
/// Bigger companies within a segment buy a little more: amount ∝ (employees / ref)^e.
pub(crate) const HEADCOUNT_ELASTICITY: f64 = 0.12;
pub(crate) const SEGMENT_HEADCOUNT_REF: [f64; 3] = [45.0, 630.0, 6_000.0];

/// Reps: spread of the latent skill (logit), share hired inside the window,
/// and close-date optimism (log-normal factor on their estimates; mean < 0
/// means reps expect deals to close sooner than they do).
pub(crate) const REP_SKILL_SD: f64 = 0.55;
pub(crate) const NEW_HIRE_SHARE: f64 = 0.28;
pub(crate) const REP_OPTIMISM_LOG_MEAN: f64 = -0.25;
pub(crate) const REP_OPTIMISM_LOG_SD: f64 = 0.2;
/// New hires lose `RAMP_PENALTY` logit on their first day, fading linearly to
/// zero over `RAMP_DAYS`.
pub(crate) const RAMP_PENALTY: f64 = 0.7;
pub(crate) const RAMP_DAYS: f64 = 180.0;

/// The hidden quality `q` of a deal (a logit): intercept + rep skill + ramp +
/// type + source + product + segment − `SIZE_EFFECT`·ln(amount / segment
/// median) + `QUALITY_NOISE`·N(0, 1).
pub(crate) const QUALITY_INTERCEPT: f64 = -0.15;
pub(crate) const QUALITY_NOISE: f64 = 1.1;
pub(crate) const SIZE_EFFECT: f64 = 0.5;
pub(crate) const SEGMENT_WIN: [f64; 3] = [0.1, 0.0, -0.2];
pub(crate) const DEAL_TYPE_WIN: [f64; 3] = [0.0, 0.45, 1.3];
/// In `LEAD_SOURCES` order.
pub(crate) const LEAD_SOURCE_WIN: [f64; 6] = [0.2, -0.35, 0.1, -0.15, 0.45, 0.25];

/// A deal leaves open stage `s` forward with probability
/// `sigmoid(STAGE_LOGIT[s] + q − PUSH_PENALTY·min(pushes, MAX_PENALISED_PUSHES))`
/// and is lost otherwise; leaving Negotiation forward means winning.
pub(crate) const STAGE_LOGIT: [f64; 4] = [0.0, 0.1, 0.4, 0.8];
/// Repeated slips mean the buyer's priority is fading.
pub(crate) const PUSH_PENALTY: f64 = 0.35;
pub(crate) const MAX_PENALISED_PUSHES: u32 = 4;

/// Usual length of a whole cycle per segment (SMB, Mid-Market, Enterprise)
/// in days, split over the open stages by `STAGE_SHARE`, times the product's
/// cycle factor and `DEAL_TYPE_CYCLE`.
pub(crate) const CYCLE_DAYS: [f64; 3] = [60.0, 120.0, 200.0];
pub(crate) const STAGE_SHARE: [f64; 4] = [0.2, 0.25, 0.3, 0.25];
pub(crate) const DEAL_TYPE_CYCLE: [f64; 3] = [1.0, 0.85, 0.7];
/// A deal's pace multiplies all its stage times:
/// `exp(−PACE_EFFECT·(q − intercept) + PACE_NOISE·N(0, 1))`, so weak deals are slow.
pub(crate) const PACE_EFFECT: f64 = 0.3;
pub(crate) const PACE_NOISE: f64 = 0.3;
/// Active time in a stage: usual × pace × exp(`STAGE_TIME_NOISE`·N(0, 1)),
/// × exp(`LOSER_LINGER`) when the stage ends in a (non-stalled) loss.
pub(crate) const STAGE_TIME_NOISE: f64 = 0.55;
pub(crate) const LOSER_LINGER: f64 = 0.3;

/// Chance that a stage stalls (an idle spell with no activity) before it is
/// lost, or before it advances after all.
pub(crate) const STALL_IF_LOSING: f64 = 0.35;
pub(crate) const STALL_IF_ADVANCING: f64 = 0.12;
/// Idle spell before a stalled deal is scrubbed (closed lost): minimum days
/// plus an exponential with this mean; with `SCRUB_AT_MONTH_END` the scrub
/// waits for the month-end pipeline review.
pub(crate) const SCRUB_IDLE_MIN: f64 = 21.0;
pub(crate) const SCRUB_IDLE_MEAN: f64 = 50.0;
pub(crate) const SCRUB_AT_MONTH_END: f64 = 0.35;
/// Idle spell of a stalled deal that revives, and the (short) active time after it.
pub(crate) const REVIVAL_IDLE_MIN: f64 = 14.0;
pub(crate) const REVIVAL_IDLE_MEAN: f64 = 25.0;
pub(crate) const REVIVAL_TIME_LOG_MEAN: f64 = -0.6;
/// Mean days between activities of an active deal, times its pace.
pub(crate) const ACTIVITY_GAP_DAYS: f64 = 2.5;

/// Share of stage changes that fall on a weekend moved to a working day.
pub(crate) const WORKING_DAY_SHARE: f64 = 0.9;
/// Chance that a win due within 10 days of a quarter end is booked on it.
pub(crate) const QUARTER_END_WIN: f64 = 0.4;

/// Close-date estimates: what the rep expects is left of the usual cycle ×
/// optimism × exp(`ESTIMATE_NOISE`·N(0, 1)), at least `MIN_ESTIMATE_DAYS`,
/// rounded up to the month end with `MONTH_END_CLOSE`.
pub(crate) const ESTIMATE_NOISE: f64 = 0.3;
pub(crate) const MIN_ESTIMATE_DAYS: f64 = 7.0;
pub(crate) const MONTH_END_CLOSE: f64 = 0.5;
/// A passed close date is pushed 0..=`PUSH_DELAY_MAX` days later; an idle
/// deal only with `IDLE_PUSH`, and then just past the next month end.
pub(crate) const PUSH_DELAY_MAX: i32 = 10;
pub(crate) const IDLE_PUSH: f64 = 0.6;
/// Chance that a stale close date is fixed when the deal changes stage.
pub(crate) const FIX_AT_STAGE_CHANGE: f64 = 0.7;
/// Chance that a far-off close date is pulled in when a deal reaches Negotiation.
pub(crate) const PULL_IN: f64 = 0.35;

/// Amount changes: a re-quote on entering Proposal (log-normal factor), and
/// a discount partway through Negotiation, likelier when the buyer is serious.
pub(crate) const REQUOTE_AT_PROPOSAL: f64 = 0.3;
pub(crate) const REQUOTE_LOG_MEAN: f64 = -0.05;
pub(crate) const REQUOTE_LOG_SD: f64 = 0.2;
pub(crate) const DISCOUNT_IF_WINNING: f64 = 0.45;
pub(crate) const DISCOUNT_IF_LOSING: f64 = 0.2;
pub(crate) const DISCOUNT_FACTOR: std::ops::Range<f64> = 0.8..0.97;

/// Rounds a dollar amount to something a rep would type, in cents.
pub(crate) fn round_amount(dollars: f64) -> i64 {
    let step = if dollars < 10_000.0 { 10.0 } else { 100.0 };
    ((dollars / step).round().max(1.0) * step * 100.0) as i64
}
