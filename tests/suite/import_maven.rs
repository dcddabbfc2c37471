//! The Maven CRM data set end to end through `examples/maven/`: import →
//! train → score → weekly briefing, with its quirks handled: `GTXPro`,
//! `technolgy`, lost deals' `close_value = 0` kept out of the amounts,
//! open deals without close dates, Prospecting deals without any date,
//! blank accounts and CRLF line ends.

use crate::common::*;

use std::path::Path;

fn sql(dir: &Path, q: &str) -> String {
    let o = revintel_ok(dir, &["sql", "--format", "csv", "-c", q]);
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn maven_crm_imports_trains_scores_and_briefs() {
    let data = std::fs::read(repo().join("examples/maven/data/sales_pipeline.csv")).unwrap();
    assert!(
        data.windows(2).any(|w| w == b"\r\n"),
        "the checked-in data keeps its CRLF line ends"
    );
    let dir = maven_project(str::to_string);
    let p = dir.path();

    let o = revintel_ok(p, &["import"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("sales_pipeline") && out.contains("8,800      8,800          0"),
        "{out}"
    );
    assert!(
        out.contains("24,438 rows read = 24,438 loaded + 0 rejected"),
        "{out}"
    );
    assert!(
        out.contains("not used: close_value"),
        "close_value is deliberately unread: {out}"
    );
    assert!(!p.join("out").exists(), "import writes nothing");

    assert_eq!(
        sql(
            p,
            "SELECT outcome, count(*) AS n FROM deals GROUP BY outcome ORDER BY outcome"
        ),
        "outcome,n\nlost,2473\nopen,2089\nwon,4238\n"
    );
    // GTXPro resolves to GTX Pro: every deal's product exists.
    assert_eq!(
        sql(p, "SELECT count(*) AS n FROM deals d LEFT JOIN products p ON p.product_id = d.product_id WHERE p.product_id IS NULL"),
        "n\n0\n"
    );
    // No amount tells the outcome: every deal is sized by its list price.
    assert_eq!(
        sql(p, "SELECT count(*) AS n FROM deals d JOIN products p ON p.product_id = d.product_id WHERE d.amount IS DISTINCT FROM p.list_price"),
        "n\n0\n"
    );
    assert_eq!(
        sql(
            p,
            "SELECT count(*) AS n FROM accounts WHERE sector = 'technolgy'"
        ),
        "n\n0\n"
    );
    assert_eq!(
        sql(
            p,
            "SELECT count(*) AS n FROM deals WHERE outcome = 'open' AND account_id IS NULL"
        ),
        "n\n1425\n"
    );
    // Prospecting deals are dated at the export (the as-of date); open
    // deals carry no close date.
    assert_eq!(
        sql(p, "SELECT min(created_date) AS lo, max(created_date) AS hi, count(close_date) AS closes FROM deals WHERE stage = 'Prospecting'"),
        "lo,hi,closes\n2017-12-31,2017-12-31,0\n"
    );
    // Synthesized history: one row per open deal, two per closed one.
    assert_eq!(
        sql(p, "SELECT count(*) AS n FROM stage_history"),
        "n\n15511\n"
    );
    assert_eq!(
        sql(p, "SELECT count(*) AS n FROM deal_features"),
        "n\n2089\n"
    );

    revintel_ok(p, &["train"]);
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("models/metrics.json")).unwrap())
            .unwrap();
    let auc = metrics["win_prob"]["auc"].as_f64().unwrap();
    assert!(
        auc > 0.5,
        "the model ranks better than chance on the held-out slice: {auc}"
    );
    // The mapping keeps close_value out, so the leak guard has nothing to say.
    assert_eq!(metrics["leaks"]["flags"], serde_json::json!([]));
    // Few deals in the held-out slice were won, so the model's quality
    // cannot be vouched for: the verdict says so, and so does the briefing.
    assert_eq!(
        sql(p, "SELECT verdict FROM model_quality"),
        "verdict\nweak\n"
    );
    assert_eq!(
        sql(
            p,
            "SELECT count(*) AS n, count(win_prob) AS scored FROM scored_deals"
        ),
        "n,scored\n2089,2089\n"
    );

    revintel_ok(p, &["build", "weekly_briefing"]);
    let html = std::fs::read_to_string(p.join("out/weekly_briefing.html")).unwrap();
    assert!(
        html.contains("2,089"),
        "the briefing shows the open pipeline"
    );
    assert!(
        html.contains("The scores are weak: only"),
        "the briefing says the scores are weak"
    );
    assert!(p.join("out/weekly_briefing.pdf").is_file());

    // The backtest ran as far as the data allows and says what it could not
    // do: only 2017-Q3 has enough closed deals before it to train on.
    assert_eq!(
        sql(
            p,
            "SELECT count(DISTINCT period_start) AS q, count(*) AS weeks FROM backtest"
        ),
        "q,weeks\n1,13\n"
    );
    assert_eq!(
        sql(
            p,
            "SELECT count(*) AS n FROM backtest_skipped WHERE reason LIKE 'not enough history%'"
        ),
        "n\n7\n"
    );
    let flat = html.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("7 earlier quarters could not be tested (too little history before them)"),
        "the briefing says what the backtest could not do"
    );
}
