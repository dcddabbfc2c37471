//! No feature may leak the outcome: features at a past cut-off, computed from
//! the full data, must equal features computed from the data as it stood at
//! that cut-off (every later change erased). Checked on generated demo data.

use chrono::NaiveDate;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use ml::features::{deal_features_sql, ActivitySource};
use revintel::project::Project;
use revintel::seed::{write_demo_data, SeedOptions};
use revintel::session::Session;

async fn features(ctx: &SessionContext, cutoff: NaiveDate) -> String {
    let sql = format!(
        "SELECT * FROM ({}) ORDER BY deal_id",
        deal_features_sql(cutoff, ActivitySource::HistoryOnly)
    );
    let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

#[tokio::test]
async fn features_at_a_cutoff_see_nothing_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    write_demo_data(
        &dir.path().join("seeds"),
        &SeedOptions {
            deals: 1500,
            seed: 11,
            as_of,
        },
    )
    .unwrap();
    let session = Session::open(&Project::demo(dir.path())).await.unwrap();
    let full = &session.ctx;

    for cutoff in ["2025-08-01", "2026-03-15"] {
        let cutoff = NaiveDate::parse_from_str(cutoff, "%Y-%m-%d").unwrap();
        let t = format!("DATE '{cutoff}'");
        // The data as it stood at the cut-off: later deals and changes erased,
        // rows still open then reopened, deal-level as-of fields blanked.
        let past = SessionContext::new();
        for table in ["accounts", "reps", "products"] {
            past.register_table(table, full.table_provider(table).await.unwrap())
                .unwrap();
        }
        let deals = full
            .sql(&format!(
                "SELECT deal_id, name, account_id, owner_id, product_id, CAST(NULL AS DOUBLE) AS amount, currency, \
                 CAST(NULL AS VARCHAR) AS stage, CAST(NULL AS VARCHAR) AS forecast_category, created_date, \
                 CAST(NULL AS DATE) AS close_date, CAST(NULL AS DATE) AS closed_date, CAST(NULL AS VARCHAR) AS outcome, \
                 lead_source, deal_type, CAST(NULL AS DATE) AS last_activity_date \
                 FROM deals WHERE created_date <= {t}"
            ))
            .await
            .unwrap();
        past.register_table("deals", deals.into_view()).unwrap();
        let history = full
            .sql(&format!(
                "SELECT deal_id, stage, entered_at, CASE WHEN exited_at > {t} THEN NULL ELSE exited_at END AS exited_at, \
                 amount, close_date, forecast_category FROM stage_history WHERE entered_at <= {t}"
            ))
            .await
            .unwrap();
        past.register_table("stage_history", history.into_view())
            .unwrap();

        let from_full = features(full, cutoff).await;
        let from_past = features(&past, cutoff).await;
        assert!(
            from_full.lines().count() > 50,
            "a real pipeline at {cutoff}: {from_full}"
        );
        assert_eq!(
            from_full, from_past,
            "features at {cutoff} depend on later data"
        );
    }
}
