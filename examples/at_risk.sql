-- The ten open deals where attention pays most: ranked by risk × value, with
-- the calibrated win probability, the top driver and the first suggested
-- action. Run: revintel sql -f examples/at_risk.sql (trains the models first
-- if there are none).
SELECT deal_id,
       deal_name,
       owner_name,
       stage,
       round(amount)              AS amount,
       round(win_prob * 100, 1)   AS win_pct,
       round(risk_score, 1)       AS risk,
       round(risk_x_value)        AS risk_x_value,
       drivers[1]['phrase']       AS top_driver,
       actions[1]                 AS next_action,
       close_p50                  AS likely_close
FROM scored_deals
ORDER BY risk_x_value DESC
LIMIT 10;
