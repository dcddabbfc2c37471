-- The ten deals with the most at stake this quarter and next: deals that
-- matter to the number (closing by the end of next quarter, or forecast as
-- Commit or Best Case) and can still be saved, ranked by amount × the
-- chance of losing them, with the top driver and the first suggested
-- action. Run: revintel sql -f examples/at_risk.sql (trains the models
-- first if there are none). The close-out candidates: pipeline_hygiene.
SELECT deal_id,
       deal_name,
       owner_name,
       stage,
       forecast_category,
       round(amount)              AS amount,
       round(win_prob * 100, 1)   AS win_pct,
       round(value_at_stake)      AS at_stake,
       drivers[1]['phrase']       AS top_driver,
       actions[1]                 AS next_action,
       close_p50                  AS likely_close
FROM at_risk_deals
ORDER BY value_at_stake DESC, deal_id
LIMIT 10;
