//! End-to-end checks of `write_demo_data`: determinism, the invariants the
//! engine relies on, and rough realism of the default data set.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::*;

const FILES: [&str; 6] = [
    "reps.csv",
    "accounts.csv",
    "products.csv",
    "deals.csv",
    "stage_history.csv",
    "manifest.json",
];

/// A fresh folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("revintel-seed-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn read_table(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("bad date {s:?}: {e}"))
}

#[test]
fn same_options_give_identical_bytes() {
    let (a, b) = (TempDir::new("det-a"), TempDir::new("det-b"));
    let opts = SeedOptions {
        deals: 9_000,
        ..SeedOptions::default()
    };
    let sa = write_demo_data(&a.0, &opts).unwrap();
    let sb = write_demo_data(&b.0, &opts).unwrap();
    assert_eq!(sa, sb);
    for name in FILES {
        assert_eq!(
            fs::read(a.0.join(name)).unwrap(),
            fs::read(b.0.join(name)).unwrap(),
            "{name} differs"
        );
    }
    // Rewriting into an existing folder replaces the files and leaves no temporaries.
    write_demo_data(
        &a.0,
        &SeedOptions {
            seed: 7,
            ..opts.clone()
        },
    )
    .unwrap();
    assert_ne!(
        fs::read(a.0.join("deals.csv")).unwrap(),
        fs::read(b.0.join("deals.csv")).unwrap()
    );
    assert_eq!(fs::read_dir(&a.0).unwrap().count(), FILES.len());
}

#[test]
fn output_does_not_depend_on_the_number_of_threads() {
    let (a, b) = (TempDir::new("threads-1"), TempDir::new("threads-3"));
    let opts = SeedOptions {
        deals: 3 * CHUNK_DEALS + 17,
        seed: 5,
        ..SeedOptions::default()
    };
    write_with_threads(&a.0, &opts, 1).unwrap();
    write_with_threads(&b.0, &opts, 3).unwrap();
    for name in FILES {
        assert_eq!(
            fs::read(a.0.join(name)).unwrap(),
            fs::read(b.0.join(name)).unwrap(),
            "{name} differs"
        );
    }
}

#[test]
fn zero_deals_are_rejected() {
    let dir = TempDir::new("zero");
    let err = write_demo_data(
        &dir.0,
        &SeedOptions {
            deals: 0,
            ..SeedOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, SeedError::InvalidOptions(_)));
    assert!(err.to_string().contains("deals"), "{err}");
    assert!(!dir.0.exists());
}

#[test]
fn io_errors_name_the_path() {
    let dir = TempDir::new("blocked");
    fs::write(&dir.0, b"a file where the folder should be").unwrap();
    let target = dir.0.join("out");
    let err = write_demo_data(
        &target,
        &SeedOptions {
            deals: 10,
            ..SeedOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(&*target.to_string_lossy()),
        "{err}"
    );
    fs::remove_file(&dir.0).unwrap();
}

#[test]
fn a_single_deal_is_fine() {
    let dir = TempDir::new("one");
    let summary = write_demo_data(
        &dir.0,
        &SeedOptions {
            deals: 1,
            ..SeedOptions::default()
        },
    )
    .unwrap();
    assert_eq!(summary.deals, 1);
    assert_eq!((summary.reps, summary.accounts), (12, 50));
}

#[test]
fn default_data_set_is_consistent_and_plausible() {
    let dir = TempDir::new("default");
    let opts = SeedOptions::default();
    let summary = write_demo_data(&dir.0, &opts).unwrap();
    let as_of = opts.as_of;

    assert_eq!(summary.deals, DEFAULT_DEALS);
    assert_eq!(summary.won + summary.lost + summary.open, summary.deals);
    let win_rate = summary.won as f64 / (summary.won + summary.lost) as f64;
    assert!(
        (0.20..0.35).contains(&win_rate),
        "win rate {win_rate:.3} in {summary:?}"
    );
    assert!((250..1_200).contains(&summary.open), "{summary:?}");
    assert_eq!(
        (summary.reps, summary.accounts, summary.products),
        (40, 1_250, 8)
    );

    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.0.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["generator"], "revintel-seed/1");
    assert_eq!(manifest["as_of"], "2026-11-23");
    assert_eq!(
        manifest["files"]["stage_history.csv"],
        summary.stage_history_rows
    );

    let reps = read_table(&dir.0.join("reps.csv"));
    assert!(reps.iter().all(|r| date(&r["start_date"]) <= as_of));
    let deals = read_table(&dir.0.join("deals.csv"));
    let history = read_table(&dir.0.join("stage_history.csv"));
    assert_eq!(deals.len(), summary.deals);
    assert_eq!(history.len(), summary.stage_history_rows);

    let mut rows_by_deal: Vec<(String, Vec<&HashMap<String, String>>)> = Vec::new();
    for row in &history {
        match rows_by_deal.last_mut() {
            Some((id, rows)) if *id == row["deal_id"] => rows.push(row),
            _ => rows_by_deal.push((row["deal_id"].clone(), vec![row])),
        }
    }
    assert_eq!(
        rows_by_deal.len(),
        deals.len(),
        "each deal's rows are contiguous"
    );

    let mut pushes = 0;
    for (deal, (id, rows)) in deals.iter().zip(&rows_by_deal) {
        assert_eq!(&deal["deal_id"], id);
        let created = date(&deal["created_date"]);
        assert!(created <= as_of);
        assert!(date(&deal["last_activity_date"]) >= created);
        assert!(date(&deal["last_activity_date"]) <= as_of);
        assert_eq!(date(&rows[0]["entered_at"]), created);
        for pair in rows.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert_eq!(a["exited_at"], b["entered_at"], "{id}");
            assert!(date(&b["entered_at"]) > date(&a["entered_at"]), "{id}");
            assert!(
                a["stage"] != b["stage"]
                    || a["amount"] != b["amount"]
                    || a["close_date"] != b["close_date"],
                "{id}: a row without a change"
            );
            if a["stage"] == b["stage"] && date(&b["close_date"]) > date(&a["close_date"]) {
                pushes += 1;
            }
        }
        let last = rows.last().unwrap();
        assert_eq!(last["exited_at"], "");
        assert!(date(&last["entered_at"]) <= as_of);
        assert_eq!(last["stage"], deal["stage"]);
        assert_eq!(last["amount"], deal["amount"]);
        assert_eq!(last["close_date"], deal["close_date"]);
        assert_eq!(last["forecast_category"], deal["forecast_category"]);
        match deal["outcome"].as_str() {
            "open" => assert_eq!(deal["closed_date"], "", "{id}"),
            outcome => {
                let closed = date(&deal["closed_date"]);
                assert!(closed >= created && closed <= as_of, "{id}");
                assert_eq!(deal["close_date"], deal["closed_date"]);
                assert_eq!(date(&last["entered_at"]), closed);
                let stage = if outcome == "won" {
                    "Closed Won"
                } else {
                    "Closed Lost"
                };
                assert_eq!(last["stage"], stage);
            }
        }
    }
    assert!(pushes > deals.len() / 10, "only {pushes} close-date pushes");

    // Deals are lost at every open stage.
    let mut lost_from: HashMap<&str, usize> = HashMap::new();
    for (_, rows) in &rows_by_deal {
        if rows.len() >= 2 && rows[rows.len() - 1]["stage"] == "Closed Lost" {
            *lost_from
                .entry(rows[rows.len() - 2]["stage"].as_str())
                .or_default() += 1;
        }
    }
    for stage in ["Prospecting", "Qualification", "Proposal", "Negotiation"] {
        assert!(
            lost_from.get(stage).copied().unwrap_or(0) > 50,
            "few losses in {stage}: {lost_from:?}"
        );
    }

    // Renewals win more often than new business.
    let rate = |kind: &str| {
        let closed: Vec<_> = deals
            .iter()
            .filter(|d| d["deal_type"] == kind && d["outcome"] != "open")
            .collect();
        closed.iter().filter(|d| d["outcome"] == "won").count() as f64 / closed.len() as f64
    };
    assert!(rate("Renewal") > rate("New Business") + 0.15);
}
