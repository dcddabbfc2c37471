-- The open pipeline as of the data's as-of date, by stage: how many deals,
-- how much money, how old, how stuck. Run: revintel sql -f examples/pipeline_summary.sql
SELECT stage,
       count(*)                          AS deals,
       round(sum(amount))                AS amount,
       round(avg(age_days))              AS avg_age_days,
       round(avg(days_in_stage))         AS avg_days_in_stage,
       sum(CASE WHEN close_date_pushes > 0 THEN 1 ELSE 0 END) AS slipped,
       sum(CASE WHEN days_to_close < 0 THEN 1 ELSE 0 END)     AS overdue
FROM deal_features
GROUP BY stage, stage_index
ORDER BY stage_index;
