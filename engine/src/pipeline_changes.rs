//! What changed in the pipeline over the last week, read from stage history:
//! the `report_dates` and `pipeline_changes` views.
//!
//! Stage history holds one row per state of a deal (stage, amount, expected
//! close date) with the days it held. A deal's state on day `t` is the row
//! entered on or before `t` and not yet exited, so comparing the states at
//! the start and the end of the week gives every change without any
//! snapshot having been taken at the time.

use ml::stages::{LOST, WON};

/// Days in the change window: the week ending on the as-of date.
pub const WINDOW_DAYS: i64 = 7;

/// One row of dates reports need in SQL: the as-of date, the start of the
/// change window (exclusive) and the as-of quarter.
pub fn report_dates_sql(as_of: chrono::NaiveDate) -> String {
    let period = ml::simulation::Period::quarter_of(as_of);
    let since = as_of - chrono::Duration::days(WINDOW_DAYS);
    format!(
        "SELECT DATE '{as_of}' AS as_of, DATE '{since}' AS week_start, \
         DATE '{}' AS quarter_start, DATE '{}' AS quarter_end, DATE '{}' AS next_quarter_end",
        period.start,
        period.end,
        period.next_quarter().end
    )
}

/// One row per change of a deal in the window, of kinds `added`, `won`,
/// `lost`, `slipped` (expected close moved later), `pulled_in` (moved
/// earlier), `amount_up`, `amount_down` and `stage_moved` (to another open
/// stage); `left_quarter` marks a slip out of the as-of quarter. A deal can have several (e.g.
/// added and won in the same week). Moves and amount changes count only
/// for deals open at both ends of the week.
pub fn pipeline_changes_sql(as_of: chrono::NaiveDate) -> String {
    let since = as_of - chrono::Duration::days(WINDOW_DAYS);
    let period = ml::simulation::Period::quarter_of(as_of);
    let state = |t: &str| {
        format!(
            "SELECT deal_id, stage, amount, close_date FROM stage_history
             WHERE entered_at <= DATE '{t}' AND (exited_at IS NULL OR exited_at > DATE '{t}')"
        )
    };
    let open = |s: &str| format!("{s} NOT IN ('{WON}', '{LOST}')");
    format!(
        "WITH before AS ({before}),
now_state AS ({now}),
joined AS (
    SELECT n.deal_id,
           b.stage AS stage_before, n.stage AS stage_after,
           b.amount AS amount_before, n.amount AS amount_after,
           b.close_date AS close_before, n.close_date AS close_after,
           b.deal_id IS NOT NULL AS existed,
           b.deal_id IS NOT NULL AND {open_b} AND {open_n} AS open_both
    FROM now_state n LEFT JOIN before b ON b.deal_id = n.deal_id
),
flagged AS (
    -- One pass over the deals; each change kind a deal shows is one array element.
    SELECT unnest(make_array(
        CASE WHEN NOT existed THEN 'added' END,
        CASE WHEN stage_after = '{WON}' AND (stage_before IS NULL OR stage_before <> '{WON}') THEN 'won' END,
        CASE WHEN stage_after = '{LOST}' AND (stage_before IS NULL OR stage_before <> '{LOST}') THEN 'lost' END,
        CASE WHEN open_both AND close_after > close_before THEN 'slipped' END,
        CASE WHEN open_both AND close_after < close_before THEN 'pulled_in' END,
        CASE WHEN open_both AND amount_after > amount_before THEN 'amount_up' END,
        CASE WHEN open_both AND amount_after < amount_before THEN 'amount_down' END,
        CASE WHEN open_both AND stage_after <> stage_before THEN 'stage_moved' END
    )) AS change,
    deal_id, stage_before, stage_after, amount_before, amount_after, close_before, close_after
    FROM joined
),
kinds AS (SELECT * FROM flagged WHERE change IS NOT NULL)
SELECT k.change, k.deal_id, d.name AS deal_name, a.name AS account_name, r.name AS owner_name,
       k.stage_before, k.stage_after, k.amount_before, k.amount_after,
       k.amount_after - COALESCE(k.amount_before, 0) AS amount_change,
       k.close_before, k.close_after,
       CAST(k.close_after - k.close_before AS BIGINT) AS days_moved,
       k.change = 'slipped' AND k.close_before <= DATE '{q_end}' AND k.close_after > DATE '{q_end}'
           AS left_quarter
FROM kinds k
JOIN deals d ON d.deal_id = k.deal_id
LEFT JOIN accounts a ON a.account_id = d.account_id
LEFT JOIN reps r ON r.rep_id = d.owner_id",
        before = state(&since.to_string()),
        now = state(&as_of.to_string()),
        open_b = open("b.stage"),
        open_n = open("n.stage"),
        q_end = period.end,
    )
}
