//! Per-deal features as of a cut-off date, defined once, in SQL.
//!
//! The same definition serves the `deal_features` view (cut-off = the
//! project's as-of date) and, later, training snapshots at past cut-offs, so
//! a model is trained on exactly what it is scored on. Every input is read
//! from `stage_history` rows that had begun by the cut-off, or from deal
//! attributes fixed at creation, so no feature can see the outcome:
//!
//! * win rates count only deals whose closing row began *before* the cut-off;
//! * the typical deal size of a segment uses deals' amounts at creation;
//! * `deals.last_activity_date` is a value as of the data's as-of date, so it
//!   is used only when the cut-off is that date; at earlier cut-offs the last
//!   recorded change stands in for the last activity (see [`ActivitySource`]).

use crate::stages::{LOST, OPEN_STAGES, WON};
use chrono::NaiveDate;

/// Prior strength (in deals) pulling a rep's win rate towards the overall
/// rate, so a new rep with two wins in two deals does not look perfect.
pub const WIN_RATE_PRIOR_DEALS: u32 = 10;

/// Where "days since last activity" comes from at a cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivitySource {
    /// The cut-off is the data's as-of date: use `deals.last_activity_date`
    /// together with the last recorded change.
    AsOfSnapshot,
    /// A past cut-off: only changes recorded in `stage_history` by then.
    HistoryOnly,
}

/// The feature columns, in order, with a one-line meaning each. The one place
/// that lists them; the SQL below produces exactly these.
pub const FEATURE_COLUMNS: [(&str, &str); 24] = [
    ("deal_id", "the deal"),
    ("as_of", "cut-off date the features describe"),
    ("owner_id", "owning rep"),
    ("account_id", "account"),
    ("product_id", "product"),
    (
        "segment",
        "account segment (SMB, Mid-Market, Enterprise; Unknown without account)",
    ),
    ("deal_type", "new business, expansion or renewal"),
    ("lead_source", "where the deal came from"),
    ("stage", "stage at the cut-off"),
    (
        "stage_index",
        "funnel position of the stage, 0 = Prospecting",
    ),
    ("age_days", "days since the deal was created"),
    ("days_in_stage", "days since the current stage was entered"),
    (
        "stage_usual_days",
        "median days deals spent in this stage, over stage visits ended before the cut-off",
    ),
    (
        "stage_velocity_ratio",
        "days in stage / the stage's usual days (> 1 = slower than usual)",
    ),
    ("stage_changes", "number of stage moves so far"),
    (
        "close_date_pushes",
        "number of times the expected close date moved later",
    ),
    (
        "days_to_close",
        "expected close date minus cut-off (negative = overdue)",
    ),
    ("amount", "amount at the cut-off"),
    (
        "amount_vs_segment",
        "amount / median initial amount of the segment's deals",
    ),
    (
        "owner_win_rate",
        "owner's smoothed win rate over deals closed before the cut-off",
    ),
    (
        "owner_closed_deals",
        "deals the owner closed before the cut-off",
    ),
    (
        "days_since_last_activity",
        "days since the last activity or recorded change",
    ),
    ("forecast_category", "forecast category at the cut-off"),
    ("expected_close_date", "expected close date at the cut-off"),
];

fn date_lit(d: NaiveDate) -> String {
    format!("DATE '{}'", d.format("%Y-%m-%d"))
}

/// Whole days from `from` to `to`, both SQL date expressions.
fn days_between(from: &str, to: &str) -> String {
    format!("(CAST({to} AS INT) - CAST({from} AS INT))")
}

/// A query returning one row per deal open at `cutoff`, with
/// [`FEATURE_COLUMNS`]. Reads the tables `deals`, `accounts` and
/// `stage_history`.
pub fn deal_features_sql(cutoff: NaiveDate, activity: ActivitySource) -> String {
    let t = date_lit(cutoff);
    let stage_index = OPEN_STAGES
        .iter()
        .enumerate()
        .map(|(i, s)| format!("WHEN '{s}' THEN {i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let last_activity = match activity {
        ActivitySource::AsOfSnapshot => format!(
            "CASE WHEN d.last_activity_date <= {t} AND d.last_activity_date > c.last_change_at \
             THEN d.last_activity_date ELSE c.last_change_at END"
        ),
        ActivitySource::HistoryOnly => "c.last_change_at".to_string(),
    };
    let prior = WIN_RATE_PRIOR_DEALS;
    let age = days_between("d.created_date", &t);
    let in_stage = days_between("c.stage_entered_at", &t);
    let to_close = days_between(&t, "s.close_date");
    let since_activity = days_between(&last_activity, &t);
    let run_days = days_between("started", "ended");
    // The previous row of the same deal, as `LAG(x) OVER (PARTITION BY
    // deal_id ORDER BY entered_at)` would give it, but over one window
    // ordered by (deal_id, entered_at): DataFusion evaluates a window per
    // partition, and ten thousand tiny partitions cost five times the one
    // sorted pass (77 ms against 14 ms over 35k rows here).
    let same_deal = |step: &str, column: &str| {
        format!(
            "CASE WHEN {step}(deal_id) OVER (ORDER BY deal_id, entered_at) = deal_id \
             THEN {step}({column}) OVER (ORDER BY deal_id, entered_at) END"
        )
    };
    let prev_stage = same_deal("LAG", "stage");
    let prev_close_date = same_deal("LAG", "close_date");
    let next_entered_at = same_deal("LEAD", "entered_at");
    format!(
        "WITH hist AS (
    SELECT deal_id, stage, entered_at, exited_at, amount, close_date, forecast_category,
           {prev_stage} AS prev_stage,
           {prev_close_date} AS prev_close_date
    FROM stage_history
    WHERE entered_at <= {t}
),
changes AS (
    SELECT deal_id,
           SUM(CASE WHEN prev_stage IS NOT NULL AND stage <> prev_stage THEN 1 ELSE 0 END) AS stage_changes,
           SUM(CASE WHEN prev_close_date IS NOT NULL AND close_date > prev_close_date THEN 1 ELSE 0 END) AS close_date_pushes,
           MAX(CASE WHEN prev_stage IS NULL OR stage <> prev_stage THEN entered_at END) AS stage_entered_at,
           MAX(entered_at) AS last_change_at
    FROM hist
    GROUP BY deal_id
),
current_state AS (
    SELECT deal_id, stage, amount, close_date, forecast_category
    FROM hist
    WHERE (exited_at IS NULL OR exited_at > {t})
      AND stage NOT IN ('{WON}', '{LOST}')
),
deal_segment AS (
    SELECT d.deal_id, COALESCE(a.segment, 'Unknown') AS segment
    FROM deals d LEFT JOIN accounts a ON a.account_id = d.account_id
),
segment_typical AS (
    SELECT g.segment, median(h.amount) AS typical_amount
    FROM hist h JOIN deal_segment g ON g.deal_id = h.deal_id
    WHERE h.prev_stage IS NULL AND h.amount > 0
    GROUP BY g.segment
),
stage_runs AS (
    SELECT deal_id, stage, entered_at AS started,
           {next_entered_at} AS ended
    FROM hist
    WHERE prev_stage IS NULL OR stage <> prev_stage
),
stage_usual AS (
    SELECT stage, median(CAST({run_days} AS DOUBLE)) AS usual_days
    FROM stage_runs
    WHERE ended IS NOT NULL AND stage NOT IN ('{WON}', '{LOST}')
    GROUP BY stage
),
closed AS (
    SELECT deal_id, stage = '{WON}' AS won
    FROM hist
    WHERE stage IN ('{WON}', '{LOST}') AND entered_at < {t}
),
overall AS (
    SELECT AVG(CASE WHEN won THEN 1.0 ELSE 0.0 END) AS win_rate FROM closed
),
owner_record AS (
    SELECT d.owner_id, COUNT(*) AS closed_deals, SUM(CASE WHEN c.won THEN 1 ELSE 0 END) AS won_deals
    FROM closed c JOIN deals d ON d.deal_id = c.deal_id
    GROUP BY d.owner_id
)
SELECT
    d.deal_id,
    {t} AS as_of,
    d.owner_id,
    d.account_id,
    d.product_id,
    g.segment,
    d.deal_type,
    d.lead_source,
    s.stage,
    CASE s.stage {stage_index} END AS stage_index,
    {age} AS age_days,
    {in_stage} AS days_in_stage,
    CAST(su.usual_days AS DOUBLE) AS stage_usual_days,
    {in_stage} / NULLIF(CAST(su.usual_days AS DOUBLE), 0) AS stage_velocity_ratio,
    c.stage_changes,
    c.close_date_pushes,
    {to_close} AS days_to_close,
    s.amount,
    s.amount / NULLIF(st.typical_amount, 0) AS amount_vs_segment,
    (COALESCE(o.won_deals, 0) + {prior} * ov.win_rate) / (COALESCE(o.closed_deals, 0) + {prior}) AS owner_win_rate,
    COALESCE(o.closed_deals, 0) AS owner_closed_deals,
    {since_activity} AS days_since_last_activity,
    s.forecast_category,
    s.close_date AS expected_close_date
FROM current_state s
JOIN deals d ON d.deal_id = s.deal_id
JOIN changes c ON c.deal_id = s.deal_id
JOIN deal_segment g ON g.deal_id = s.deal_id
LEFT JOIN segment_typical st ON st.segment = g.segment
LEFT JOIN stage_usual su ON su.stage = s.stage
LEFT JOIN owner_record o ON o.owner_id = d.owner_id
CROSS JOIN overall ov"
    )
}
