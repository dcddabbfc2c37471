//! The leak guard on exports that give the outcome away, built here the way
//! real CRMs produce them: the Maven data with `close_value` as the amount
//! (a lost deal's is 0, an open deal's blank), and demo data whose won
//! deals had their lead source stamped by a workflow at close. Each is
//! caught, named with its cause and fix, withheld from every reader, and
//! published only when accepted by name — with a warning on every report.

use crate::common::*;
use scraper::{Html, Selector};
use std::path::Path;

fn sql_fails(dir: &Path, q: &str) -> String {
    let o = revintel(dir, &["sql", "-c", q]);
    assert!(!o.status.success(), "{q} was answered: {}", stdout(&o));
    stderr(&o)
}

fn csv(dir: &Path, q: &str) -> String {
    stdout(&revintel_ok(dir, &["sql", "--format", "csv", "-c", q]))
}

/// The first paragraph of a built report's body (after its header).
fn first_paragraph(path: &Path) -> String {
    let doc = Html::parse_document(&std::fs::read_to_string(path).unwrap());
    doc.select(&Selector::parse("main > p").unwrap())
        .next()
        .map(|p| p.text().collect::<String>())
        .unwrap_or_default()
}

fn pdf_text(path: &Path) -> String {
    let o = std::process::Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn amounts_finalised_at_close_are_caught_withheld_and_accepted_by_name() {
    let dir = maven_project(|mapping| {
        let edited = mapping.replace(
            "amount = { derive = \"product_list_price\" }",
            "amount = \"close_value\"",
        );
        assert_ne!(edited, mapping, "the mapping names the amount");
        edited
    });
    let p = dir.path();

    // Detect and explain: train fails, naming the feature, cause and fix.
    let o = revintel(p, &["train"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("scores are withheld"), "{err}");
    assert!(
        err.contains("`amount`") && err.contains("AUC 1.000"),
        "{err}"
    );
    assert!(err.contains("finalised at close"), "the cause: {err}");
    assert!(
        err.contains("derive = \"product_list_price\""),
        "the fix: {err}"
    );
    assert!(err.contains("--accept-leak amount"), "how to accept: {err}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("models/metrics.json")).unwrap())
            .unwrap();
    let flagged: Vec<&str> = metrics["leaks"]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert!(flagged.contains(&"amount"), "{flagged:?}");

    // Withhold: every reader of the scores is refused with the reason.
    for q in [
        "SELECT count(*) FROM scored_deals",
        "SELECT * FROM deal_scores LIMIT 1",
        "SELECT * FROM at_risk_deals",
        "SELECT p50 FROM forecast",
        "SELECT forecast_quantile(0.5)",
        "SELECT win_prob(1, 30, 10, 1.0, 1, 0, 30, 1000.0, 1.0, 0.5, 10, 3, 'SMB', 'New Business', 'Inbound', 'GTX Pro')",
    ] {
        let err = sql_fails(p, q);
        assert!(
            err.contains("scores withheld") && err.contains("`amount`"),
            "{q}: {err}"
        );
    }
    // What does not come from the model still answers, and says why.
    assert_eq!(csv(p, "SELECT count(*) AS n FROM deals"), "n\n8800\n");
    let quality = csv(p, "SELECT verdict, leak_features FROM model_quality");
    assert!(
        quality.starts_with("verdict,leak_features\nwithheld,"),
        "{quality}"
    );
    assert!(quality.contains("amount"), "{quality}");
    let o = revintel(p, &["build", "weekly_briefing"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("scores withheld"), "{}", stderr(&o));
    assert!(!p.join("out/weekly_briefing.html").exists());

    // A name the guard cannot flag is refused, not silently accepted.
    let o = revintel(p, &["train", "--accept-leak", "amuont"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("`amuont` is not a feature"),
        "{}",
        stderr(&o)
    );

    // Accept by name: published, and every report says so.
    let accept: Vec<&str> = flagged.iter().flat_map(|f| ["--accept-leak", f]).collect();
    let o = revintel_ok(p, &[&["train"], accept.as_slice()].concat());
    assert!(stderr(&o).contains("warning: accepted"), "{}", stderr(&o));
    assert_eq!(
        csv(p, "SELECT count(win_prob) AS n FROM scored_deals"),
        "n\n2089\n"
    );
    assert!(csv(p, "SELECT verdict FROM model_quality").contains("accepted"));
    revintel_ok(p, &["build", "weekly_briefing", "risk_dashboard"]);
    for name in ["weekly_briefing", "risk_dashboard"] {
        let first = first_paragraph(&p.join(format!("out/{name}.html")));
        assert!(
            first.starts_with("Warning: these scores may read the outcome off data set at close")
                && first.contains("amount"),
            "{name}: {first}"
        );
        let pdf = pdf_text(&p.join(format!("out/{name}.pdf")));
        assert!(
            pdf.contains("Warning: these scores may read the outcome"),
            "{name}: {pdf}"
        );
    }
}

#[test]
fn a_field_stamped_on_wins_is_caught_and_accepted_in_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    revintel_ok(p, &["seed", "--deals", "3000"]);
    // A CRM workflow sets the lead source of every won deal to "Customer".
    let deals = p.join("seeds/deals.csv");
    let text = std::fs::read_to_string(&deals).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (outcome, source) = (col("outcome"), col("lead_source"));
    let mut out = vec![header.join(",")];
    let mut stamped = 0;
    for line in lines {
        let mut f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), header.len(), "no commas inside fields: {line}");
        if f[outcome] == "won" {
            f[source] = "Customer";
            stamped += 1;
        }
        out.push(f.join(","));
    }
    assert!(stamped >= 200, "{stamped} won deals");
    std::fs::write(&deals, out.join("\n") + "\n").unwrap();

    let o = revintel(p, &["train"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("`lead_source` alone separates won from lost deals"),
        "{err}"
    );
    assert!(err.contains("only when a deal closes"), "the cause: {err}");
    assert!(
        !err.contains("`amount`") && !err.contains("`segment`"),
        "only the stamped field is named: {err}"
    );
    assert!(sql_fails(p, "SELECT count(*) FROM scored_deals").contains("`lead_source`"));

    // Accepted in revintel.toml, by name: the flags in the error, exactly.
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("models/metrics.json")).unwrap())
            .unwrap();
    let names: Vec<String> = metrics["leaks"]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("\"{}\"", f["feature"].as_str().unwrap()))
        .collect();
    std::fs::write(
        p.join("revintel.toml"),
        format!(
            "[sources]\nfolder = \"seeds\"\n\n[paths]\ntemplates = \"{}\"\n\n[models]\naccept_leaks = [{}]\n",
            repo().join("templates").display(),
            names.join(", ")
        ),
    )
    .unwrap();
    let n = csv(p, "SELECT count(*) AS n FROM scored_deals");
    assert!(n.starts_with("n\n") && n != "n\n0\n", "{n}");
    revintel_ok(p, &["build", "forecast"]);
    let first = first_paragraph(&p.join("out/forecast.html"));
    assert!(first.contains("lead_source"), "{first}");
}
