//! The trained models end to end on generated demo data: training refuses
//! too little history, SHAP contributions add up, calibration is monotone,
//! the UDFs agree with `scored_deals`, behave on empty and large batches,
//! answer what-if questions in the expected direction, and broken model
//! files are named in errors.

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::Float64Type;
use ml::encoding::{feature_columns, MODEL_FEATURES, N_FEATURES};
use ml::track_record::TrackRecord;
use ml::trained::Models;
use ml::trained::{ModelError, WinProbModel};
use revintel::project::Project;
use revintel::seed::{write_demo_data, SeedOptions};
use revintel::session::Session;
use revintel::{attach, models};
use std::path::Path;

const ARGS: &str = "stage_index, age_days, days_in_stage, stage_velocity_ratio, stage_changes, close_date_pushes, \
    days_to_close, amount, amount_vs_segment, owner_win_rate, owner_closed_deals, days_since_last_activity, \
    segment, deal_type, lead_source, product_id";

fn demo(dir: &Path, deals: usize) -> Project {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    write_demo_data(
        &dir.join("seeds"),
        &SeedOptions {
            deals,
            seed: 42,
            as_of,
        },
    )
    .unwrap();
    Project::demo(dir)
}

async fn floats(session: &Session, sql: &str) -> Vec<Option<f64>> {
    let batches = session.ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches
        .iter()
        .flat_map(|b| {
            let a = datafusion::arrow::compute::cast(
                b.column(0),
                &datafusion::arrow::datatypes::DataType::Float64,
            )
            .unwrap();
            let a = a.as_primitive::<Float64Type>().clone();
            (0..a.len())
                .map(move |i| (!a.is_null(i)).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn too_little_history_is_refused_with_counts() {
    let dir = tempfile::tempdir().unwrap();
    let project = demo(dir.path(), 600);
    let session = Session::open(&project).await.unwrap();
    let err = models::train(&session, &project, &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("won") && err.contains("lost") && err.contains("at least 200"),
        "{err}"
    );
    assert!(!project.models_dir.join("win_prob.txt").exists());
}

#[tokio::test]
async fn trained_models_behave() {
    let dir = tempfile::tempdir().unwrap();
    let project = demo(dir.path(), 5000);
    let mut session = Session::open(&project).await.unwrap();
    attach::ensure(&mut session, &project, &|| {}, &|_| {})
        .await
        .unwrap();
    let m = session.models.clone().unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.models_dir.join("metrics.json")).unwrap())
            .unwrap();
    let auc = report["win_prob"]["auc"].as_f64().unwrap();
    let baseline = report["stage_only_baseline"]["auc"].as_f64().unwrap();
    assert!(
        auc > baseline,
        "the model beats the stage-only baseline: {auc} vs {baseline}"
    );

    // Calibration is a monotone map.
    assert!(m.win_prob.meta.calibration.is_monotone());

    // SHAP additivity for every open deal: contributions + bias = raw margin.
    let df = session
        .ctx
        .sql("SELECT * FROM deal_features")
        .await
        .unwrap();
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let features = concat_batches(&schema, &df.collect().await.unwrap()).unwrap();
    let matrix = m
        .win_prob
        .meta
        .encodings
        .matrix(&feature_columns(&features).unwrap())
        .unwrap();
    let margins = m.win_prob.booster.raw(&matrix).unwrap();
    let contrib = m.win_prob.booster.contributions(&matrix).unwrap();
    assert!(margins.len() > 300);
    for (i, margin) in margins.iter().enumerate() {
        let sum: f64 = contrib[i * (N_FEATURES + 1)..(i + 1) * (N_FEATURES + 1)]
            .iter()
            .sum();
        assert!(
            (sum - margin).abs() < 1e-9,
            "deal {i}: contributions sum to {sum}, margin {margin}"
        );
    }

    // The UDF agrees with the precomputed scores, deal by deal.
    let udf = floats(
        &session,
        &format!("SELECT win_prob({ARGS}) FROM deal_features ORDER BY deal_id"),
    )
    .await;
    let stored = floats(
        &session,
        "SELECT win_prob FROM scored_deals ORDER BY deal_id",
    )
    .await;
    assert_eq!(udf.len(), stored.len());
    for (a, b) in udf.iter().zip(&stored) {
        assert!((a.unwrap() - b.unwrap()).abs() < 1e-12);
        // A calibrated score never claims certainty.
        assert!(a.unwrap() > 0.0 && a.unwrap() < 1.0, "{a:?}");
    }
    // shap_top through SQL: k drivers each, ordered by magnitude.
    let sizes = floats(
        &session,
        &format!("SELECT array_length(shap_top({ARGS}, 3)) FROM deal_features"),
    )
    .await;
    assert!(sizes.iter().all(|s| *s == Some(3.0)));

    // Empty batch and a million rows.
    assert!(floats(
        &session,
        &format!("SELECT win_prob({ARGS}) FROM deal_features WHERE false")
    )
    .await
    .is_empty());
    let big = floats(
        &session,
        &format!(
            "SELECT count(win_prob({ARGS})) FROM deal_features CROSS JOIN generate_series(1, {})",
            1_000_000 / stored.len() + 1
        ),
    )
    .await;
    assert!(big[0].unwrap() >= 1_000_000.0, "{big:?}");

    // What-if on a crafted deal: an active, advanced deal beats the same deal
    // gone quiet, and beats it earlier in the funnel.
    let crafted = |stage: u32, idle: u32| {
        format!(
            "SELECT win_prob({stage}, 60, 20, 1.0, {stage}, 0, 30, 50000.0, 1.0, 0.3, 40, {idle}, 'Mid-Market', 'New Business', 'Inbound', 'P02')"
        )
    };
    let active = floats(&session, &crafted(3, 2)).await[0].unwrap();
    let quiet = floats(&session, &crafted(3, 60)).await[0].unwrap();
    let early = floats(&session, &crafted(0, 2)).await[0].unwrap();
    assert!(
        quiet < active,
        "going quiet lowers the win chance: {quiet} vs {active}"
    );
    assert!(
        early < active,
        "an earlier stage lowers the win chance: {early} vs {active}"
    );
    // What-if in plain SQL over the real pipeline: halving every amount moves scores.
    let halved = floats(
        &session,
        &format!(
            "SELECT win_prob({}) FROM deal_features ORDER BY deal_id",
            ARGS.replace(
                "amount, amount_vs_segment",
                "amount / 2, amount_vs_segment / 2"
            )
        ),
    )
    .await;
    assert!(halved.iter().zip(&udf).any(|(h, u)| h != u));

    saved_model_splits_categories_natively(&project.models_dir);
    missing_values_are_scored_as_documented(&session, &project.models_dir).await;
    let quality = floats(
        &session,
        "SELECT auc FROM model_quality WHERE verdict = 'ok' AND leak_features = ''",
    )
    .await;
    assert_eq!(
        quality,
        [report["win_prob"]["auc"].as_f64()],
        "model_quality holds the saved metrics, and the demo model is ok"
    );

    // Scores and forecasts are cached per (data, models): reopening reuses
    // the files as they are.
    let cache = project.models_dir.join(".cache");
    let files = |d: &Path| -> Vec<_> {
        let mut f: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        f.sort();
        f
    };
    // forecast_by_group is made (and cached) on first read.
    let by_group_cached = |files: &[std::path::PathBuf]| {
        files.iter().any(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("forecast_by_group-")
        })
    };
    assert!(
        !by_group_cached(&files(&cache)),
        "not made before it is read"
    );
    floats(&session, "SELECT count(*) FROM forecast_by_group").await;
    let cached = files(&cache);
    let kinds: Vec<String> = cached
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .split('-')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["deal_scores", "forecast", "forecast_by_group"]);
    let modified: Vec<_> = cached
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    let mut again = Session::open(&project).await.unwrap();
    attach::attach(
        &mut again,
        &project,
        Models::load(&project.models_dir).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(files(&cache), cached);
    let again_modified: Vec<_> = cached
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    assert_eq!(again_modified, modified);

    forecast_tables_agree(&session).await;
    forecast_shows_its_parts(&session).await;
    the_band_learns_its_swing_from_the_saved_backtest(&session, &project).await;
    incremental_scoring_equals_full(&project, &m).await;
    broken_models_are_named(&project.models_dir);
    model_files_are_one_unit(&project.models_dir);
}

/// The splits of every tree in `path` as (feature, decision_type) pairs.
fn splits(path: &Path) -> Vec<(usize, u32)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut features: Vec<usize> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("split_feature=") {
            features = v.split(' ').map(|x| x.parse().unwrap()).collect();
        } else if let Some(v) = line.strip_prefix("decision_type=") {
            let types: Vec<u32> = v.split(' ').map(|x| x.parse().unwrap()).collect();
            assert_eq!(types.len(), features.len());
            out.extend(features.iter().copied().zip(types));
        }
    }
    out
}

/// The saved model files, read as LightGBM wrote them: the four categorical
/// features are split as categories (decision_type bit 0), never as
/// numbers; numeric features sometimes missing in training have a learned
/// branch for missing values (missing type NaN, bits 2–3 = 2).
fn saved_model_splits_categories_natively(models: &Path) {
    let categorical: Vec<usize> = MODEL_FEATURES
        .iter()
        .enumerate()
        .filter(|(_, (_, k))| *k == ml::encoding::FeatureKind::Categorical)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(categorical.len(), 4);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("win_prob.json")).unwrap()).unwrap();
    let fills = meta["encodings"]["fills"].as_array().unwrap();
    for file in [
        "win_prob.txt",
        "time_to_close_p10.txt",
        "time_to_close_p50.txt",
        "time_to_close_p90.txt",
    ] {
        let all = splits(&models.join(file));
        let on_categories: Vec<_> = all
            .iter()
            .filter(|(f, _)| categorical.contains(f))
            .collect();
        assert!(
            !on_categories.is_empty(),
            "{file}: some split uses a category"
        );
        assert!(
            on_categories.iter().all(|(_, t)| t & 1 == 1),
            "{file}: every split on a category is categorical: {on_categories:?}"
        );
        let text = std::fs::read_to_string(models.join(file)).unwrap();
        let trees_with_categories = text
            .lines()
            .filter(|l| l.starts_with("num_cat=") && *l != "num_cat=0")
            .count();
        assert!(trees_with_categories > 0, "{file}");
        if file == "win_prob.txt" {
            for (f, t) in &all {
                if !categorical.contains(f) && fills[*f].is_null() {
                    assert_eq!(
                        (t >> 2) & 3,
                        2,
                        "{} was missing in training: its splits have a NaN branch",
                        MODEL_FEATURES[*f].0
                    );
                }
            }
        }
    }
}

/// NULL is never read as 0: a numeric feature that was never missing in
/// training is scored as its training median (saved in win_prob.json), and
/// the driver says so; an unseen category scores exactly like NULL, which
/// is not the alphabetically first category.
async fn missing_values_are_scored_as_documented(session: &Session, models: &Path) {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("win_prob.json")).unwrap()).unwrap();
    let amount = MODEL_FEATURES
        .iter()
        .position(|(n, _)| *n == "amount")
        .unwrap();
    let fill = meta["encodings"]["fills"][amount]
        .as_f64()
        .expect("amount is never missing in the demo's training rows, so it has a fill");
    // The model's arguments with `feature` replaced by `value`.
    let args_with = |feature: &str, value: &str| {
        ARGS.split(',')
            .map(|a| if a.trim() == feature { value } else { a.trim() })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let scores = |feature: &str, value: &str| {
        format!(
            "SELECT win_prob({}) FROM deal_features ORDER BY deal_id LIMIT 200",
            args_with(feature, value)
        )
    };
    let null = floats(session, &scores("amount", "CAST(NULL AS DOUBLE)")).await;
    let median = floats(session, &scores("amount", &format!("{fill:?}"))).await;
    let zero = floats(session, &scores("amount", "0.0")).await;
    assert_eq!(
        null, median,
        "a missing amount is scored as the median, {fill}"
    );
    assert!(null.iter().zip(&zero).any(|(n, z)| n != z), "and not as 0");
    let phrases = format!(
        "SELECT shap_top({}, 16) FROM deal_features LIMIT 1",
        args_with("amount", "CAST(NULL AS DOUBLE)")
    );
    let batches = session
        .ctx
        .sql(&phrases)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let said = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(
        said.contains("amount not known; scored as the typical value (amount $"),
        "{said}"
    );

    let categories: Vec<String> = meta["encodings"]["categorical"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["feature"].as_str().unwrap().to_string())
        .collect();
    let mut differs_from_first = 0;
    for feature in &categories {
        let first = meta["encodings"]["categorical"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["feature"] == feature.as_str())
            .unwrap()["categories"][0]
            .as_str()
            .unwrap()
            .to_string();
        let with = |v: &str| scores(feature, v);
        let unseen = floats(session, &with("'Never Seen Before'")).await;
        let null = floats(session, &with("CAST(NULL AS VARCHAR)")).await;
        let as_first = floats(session, &with(&format!("'{first}'"))).await;
        assert_eq!(unseen, null, "{feature}: unseen scores as NULL");
        if null != as_first {
            differs_from_first += 1;
        }
    }
    assert!(
        differs_from_first > 0,
        "NULL is not the alphabetically first category"
    );
}

/// Editing one open deal rescores it alone, with exactly the scores a full
/// rescoring gives; editing data the scores do not read keeps the cache key.
/// The forecast of a session given the previous session's book (as live
/// rebuilds do) equals one simulated from scratch.
async fn incremental_scoring_equals_full(project: &Project, m: &Models) {
    use revintel::scoring;
    let mut before_session = Session::open(project).await.unwrap();
    attach::attach(&mut before_session, project, m.clone())
        .await
        .unwrap();
    let quarter = ml::simulation::Period::quarter_of(before_session.as_of);
    // The forecast table came from the disk cache: run the simulation.
    let before_forecast = before_session.forecast.clone().unwrap();
    let periods = [quarter, quarter.next_quarter()];
    let before_simulations: Vec<_> = periods
        .iter()
        .map(|p| before_forecast.simulation(*p))
        .collect();
    let before = scoring::score(&before_session, m).await.unwrap();
    let key_before = scoring::cache_key(&before_session, m);

    // A rep's name is not a scoring input.
    let reps = project.data_dir.join("reps.csv");
    let text = std::fs::read_to_string(&reps).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[1] = lines[1].replacen(',', ",Renamed ", 1);
    std::fs::write(&reps, lines.join("\n") + "\n").unwrap();
    let mut renamed = Session::open(project).await.unwrap();
    assert_eq!(scoring::cache_key(&renamed, m), key_before);
    // But forecast_by_group groups by reps' names: it is made again, not
    // read from the cache made before the rename.
    attach::attach(&mut renamed, project, m.clone())
        .await
        .unwrap();
    let renamed_groups = floats(
        &renamed,
        "SELECT CAST(count(*) AS DOUBLE) FROM forecast_by_group WHERE group_name LIKE 'Renamed %'",
    )
    .await;
    assert_eq!(renamed_groups, [Some(1.0)]);

    // Double the current amount of the first open deal in stage history.
    let history = project.data_dir.join("stage_history.csv");
    let text = std::fs::read_to_string(&history).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let (i, edited_deal) = lines
        .iter()
        .enumerate()
        .skip(1)
        .find_map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            (f[3].is_empty() && !f[1].starts_with("Closed")).then(|| (i, f[0].to_string()))
        })
        .unwrap();
    let mut f: Vec<String> = lines[i].split(',').map(str::to_string).collect();
    f[4] = format!("{:.2}", f[4].parse::<f64>().unwrap() * 2.0);
    lines[i] = f.join(",");
    std::fs::write(&history, lines.join("\n") + "\n").unwrap();
    let after_session = Session::open(project).await.unwrap();
    assert_ne!(scoring::cache_key(&after_session, m), key_before);

    let full = scoring::score(&after_session, m).await.unwrap();
    let reused = scoring::score_reusing(&after_session, m, Some(&before))
        .await
        .unwrap();
    assert_eq!(
        reused, full,
        "reusing unchanged deals' scores changes nothing"
    );
    // Not vacuous: the edited deal's scores moved.
    let ids = full.column_by_name("deal_id").unwrap().as_string::<i32>();
    let row = (0..ids.len())
        .find(|&r| ids.value(r) == edited_deal)
        .unwrap();
    let risk = |b: &datafusion::arrow::record_batch::RecordBatch| {
        b.column_by_name("risk_x_value")
            .unwrap()
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .value(row)
    };
    assert_ne!(risk(&full), risk(&before), "{edited_deal} was rescored");

    let mut after_attached = Session::open(project).await.unwrap();
    after_attached.continue_from(&before_session);
    attach::attach(&mut after_attached, project, m.clone())
        .await
        .unwrap();
    // Scores carried over in memory, updated for the edit, equal a full rescoring.
    assert_eq!(
        after_attached.scores.as_ref().unwrap().columns(),
        full.columns()
    );
    let book = after_attached.forecast.clone().unwrap();
    let scratch = ml::book::ForecastBook::new(
        book.as_of,
        book.deals.clone(),
        book.won.clone(),
        book.simulations,
        book.seed,
        book.key.clone(),
    )
    .with_new_pipeline(book.new_pipeline.clone());
    for p in periods {
        assert_eq!(*book.simulation(p), *scratch.simulation(p), "{p:?}");
    }
    // Not vacuous: the edited deal moved some period's runs.
    assert!(periods
        .iter()
        .zip(&before_simulations)
        .any(|(p, before)| book.simulation(*p).samples != before.samples));
    let updated = book.simulation(quarter);
    // The forecast table shows the same simulation.
    let p50 = floats(
        &after_attached,
        &format!(
            "SELECT p50 FROM forecast WHERE period_start = DATE '{}'",
            quarter.start
        ),
    )
    .await;
    assert_eq!(p50, [Some(updated.quantile(0.5))]);
}

async fn forecast_tables_agree(session: &Session) {
    let q = floats(session, "SELECT p10 FROM forecast UNION ALL SELECT p50 FROM forecast UNION ALL SELECT p90 FROM forecast").await;
    // Two periods: this quarter and the next; quantiles ordered in each.
    assert_eq!(q.len(), 6);
    for i in 0..2 {
        assert!(
            q[i].unwrap() <= q[2 + i].unwrap() && q[2 + i].unwrap() <= q[4 + i].unwrap(),
            "{q:?}"
        );
    }
    let this_quarter = "period_start = DATE '2026-10-01'";
    let p50 = floats(
        session,
        &format!("SELECT p50 FROM forecast WHERE {this_quarter}"),
    )
    .await[0];
    assert_eq!(
        floats(session, "SELECT forecast_quantile(0.5)").await[0],
        p50
    );
    let explicit = floats(
        session,
        "SELECT forecast_quantile(0.5, DATE '2026-10-01', DATE '2026-12-31')",
    )
    .await[0];
    assert_eq!(explicit, p50);
    // Closed-won to date is what the deals table says.
    let won = floats(
        session,
        "SELECT sum(amount) FROM deals WHERE outcome = 'won' AND closed_date BETWEEN DATE '2026-10-01' AND DATE '2026-11-23'",
    )
    .await[0];
    let table = floats(
        session,
        &format!("SELECT closed_won_to_date FROM forecast WHERE {this_quarter}"),
    )
    .await[0];
    assert!((won.unwrap() - table.unwrap()).abs() < 1e-6);
    // Expectations add up across any grouping.
    let total = floats(
        session,
        &format!("SELECT expected FROM forecast WHERE {this_quarter}"),
    )
    .await[0]
        .unwrap();
    for dim in ["owner", "team", "segment"] {
        let sum = floats(
            session,
            &format!("SELECT sum(expected) FROM forecast_by_group WHERE dimension = '{dim}'"),
        )
        .await[0]
            .unwrap();
        assert!(
            (sum - total).abs() < 1e-6 * total,
            "{dim}: {sum} vs {total}"
        );
    }
}

#[tokio::test]
async fn backtest_forecasts_every_week_against_what_was_won_and_both_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let project = demo(dir.path(), 5000);
    let session = Session::open(&project).await.unwrap();
    let result = revintel::backtest::run(&session, &project, 2, &|_, _, _| {})
        .await
        .unwrap();
    assert!(result.skipped.is_empty(), "{:?}", result.skipped);
    let rows = &result.rows;
    // Every week of the last two complete quarters: 13 cut-offs each.
    assert_eq!(rows.len(), 26);
    assert_eq!(rows[0].cutoff.to_string(), "2026-04-01");
    assert_eq!(rows[13].cutoff.to_string(), "2026-07-01");
    assert_eq!(rows[12].cutoff.to_string(), "2026-06-24");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.week as usize, i % 13);
        assert!(r.p10 <= r.p50 && r.p50 <= r.p90, "{r:?}");
        let sql = |from: chrono::NaiveDate, to: chrono::NaiveDate| {
            format!(
                "SELECT coalesce(sum(amount), 0) FROM deals WHERE outcome = 'won' AND closed_date BETWEEN DATE '{from}' AND DATE '{to}'"
            )
        };
        let actual = floats(&session, &sql(r.period.start, r.period.end)).await[0].unwrap();
        assert!((actual - r.actual).abs() < 1e-6);
        // Won to date is what had been won by the cut-off, nothing later.
        let won = floats(&session, &sql(r.period.start, r.cutoff)).await[0].unwrap();
        assert!((won - r.won_to_date).abs() < 1e-6, "{r:?}");
        assert!(r.existing_pipeline >= 0.0 && r.new_pipeline >= 0.0);
        // The baselines: (a) a point, (b) Commit under Best Case, both on top of won to date.
        assert!(r.stage_weighted >= r.won_to_date);
        assert!(r.won_to_date <= r.crm_p50 && r.crm_p50 <= r.crm_p90);
    }
    // The band's swing is known-then: the first quarter had no earlier
    // one to learn from; the second learned from the first's misses alone.
    assert!(rows[..13]
        .iter()
        .all(|r| r.swing_sd == 0.0 && r.own_sd > 0.0));
    let first = TrackRecord::new(rows[..13].iter().filter_map(|r| r.miss()).collect());
    assert_eq!(first.len(), 13);
    for r in &rows[13..] {
        assert_eq!(r.swing_sd, first.swing_at_week(r.week).sd(), "{r:?}");
    }
    // New pipeline is expected early in a quarter and runs out by its end.
    assert!(rows[0].new_pipeline > 0.0);
    assert!(rows[0].new_pipeline > rows[12].new_pipeline);
    let batch = revintel::backtest::to_batch(rows);
    assert_eq!(batch.num_rows(), 26);
    // Saved, it stands for this data and as-of date only: other data (here
    // a later as-of date) has the build run it again.
    assert!(!revintel::backtest::is_current(&project, &session));
    revintel::backtest::save(&project, &result).unwrap();
    assert!(revintel::backtest::is_current(&project, &session));
    let mut later = project.clone();
    later.as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 30);
    let later_session = Session::open(&later).await.unwrap();
    assert!(!revintel::backtest::is_current(&later, &later_session));
}

/// The forecast's band widens by the quarter-wide swing its saved backtest
/// shows, learned from the weeks near today's, around the same expectation;
/// the tables, `forecast_quantile` and the cache follow the saved record.
async fn the_band_learns_its_swing_from_the_saved_backtest(session: &Session, project: &Project) {
    let this = "FROM forecast WHERE period_start = DATE '2026-10-01'";
    let next = "FROM forecast WHERE period_start = DATE '2027-01-01'";
    async fn read(session: &Session, what: &str, from: &str) -> f64 {
        floats(session, &format!("SELECT {what} {from}")).await[0].unwrap()
    }
    assert_eq!(
        read(session, "swing_cutoffs", this).await,
        0.0,
        "no backtest yet"
    );
    assert_eq!(read(session, "swing_sd", this).await, 0.0);
    async fn band(session: &Session, from: &str) -> f64 {
        read(session, "p90", from).await - read(session, "p10", from).await
    }
    let before = (
        read(session, "expected", this).await,
        band(session, this).await,
    );
    let next_before = read(session, "p90", next).await;

    // Past forecasts, three quarters at weeks 4 to 10, that missed by half
    // either way (their own band allowed ±10%).
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let mut rows = Vec::new();
    for (q, start) in ["2026-01-01", "2026-04-01", "2026-07-01"]
        .iter()
        .enumerate()
    {
        for week in 4..=10u32 {
            let period = ml::simulation::Period::quarter_of(day(start));
            let up = (q + week as usize).is_multiple_of(2);
            rows.push(revintel::backtest::BacktestRow {
                cutoff: period.start + chrono::Duration::days(7 * week as i64),
                period,
                week,
                won_to_date: 1e6,
                existing_pipeline: 3e6,
                new_pipeline: 1e6,
                own_sd: 4e5,
                swing_sd: 0.0,
                p10: 4.5e6,
                p50: 5e6,
                p90: 5.5e6,
                actual: if up { 7e6 } else { 3e6 },
                stage_weighted: 5e6,
                crm_p50: 4e6,
                crm_p90: 6e6,
            });
        }
    }
    let record = TrackRecord::new(rows.iter().filter_map(|r| r.miss()).collect());
    let backtest = revintel::backtest::Backtest {
        rows,
        ..Default::default()
    };
    revintel::backtest::save(project, &backtest).unwrap();
    let mut after = Session::open(project).await.unwrap();
    attach::attach(
        &mut after,
        project,
        Models::load(&project.models_dir).unwrap(),
    )
    .await
    .unwrap();
    // 23 Nov is week 7 of its quarter: the cut-offs of weeks 5 to 9 count.
    let swing = record.swing_at_week(7);
    assert_eq!(swing.cutoffs, 15);
    assert_eq!(read(&after, "swing_cutoffs", this).await, 15.0);
    assert_eq!(read(&after, "swing_sd", this).await, swing.sd());
    assert!(
        swing.sd() > 0.4,
        "misses of ±50% against ±10%: {}",
        swing.sd()
    );
    let (expected, wider) = (
        read(&after, "expected", this).await,
        band(&after, this).await,
    );
    assert_eq!(expected, before.0, "the swing moves no expectation");
    assert!(wider > 1.5 * before.1, "{wider} vs {}", before.1);
    assert_eq!(
        floats(&after, "SELECT forecast_quantile(0.9)").await[0].unwrap(),
        read(&after, "p90", this).await
    );
    // The next quarter, forecast from before it starts, is its week 0:
    // no cut-off of weeks 0 to 2 in this record, so no swing.
    assert_eq!(read(&after, "swing_cutoffs", next).await, 0.0);
    assert_eq!(read(&after, "p90", next).await, next_before);
    for file in [
        revintel::backtest::BACKTEST_FILE,
        revintel::backtest::SKIPPED_FILE,
    ] {
        std::fs::remove_file(project.models_dir.join(file)).unwrap();
    }
}

/// The quarter's forecast in its parts (won, open deals, deals not created
/// yet), each part's band, and `forecast_quantile` over them.
async fn forecast_shows_its_parts(session: &Session) {
    let one = |sql: String| async move { floats(session, &sql).await[0].unwrap() };
    let this = "FROM forecast WHERE period_start = DATE '2026-10-01'";
    let next = "FROM forecast WHERE period_start = DATE '2027-01-01'";
    let won = one(format!("SELECT closed_won_to_date {this}")).await;
    let existing = one(format!("SELECT existing_pipeline {this}")).await;
    let new = one(format!("SELECT new_pipeline {this}")).await;
    let expected = one(format!("SELECT expected {this}")).await;
    assert!((won + existing + new - expected).abs() < 1e-6 * expected);
    assert!(new > 0.0, "this quarter expects deals not created yet");
    let next_new = one(format!("SELECT new_pipeline {next}")).await;
    assert!(
        next_new > new,
        "a whole quarter ahead expects more: {next_new} vs {new}"
    );
    let (p10, p90) = (
        one(format!("SELECT p10 {this}")).await,
        one(format!("SELECT p90 {this}")).await,
    );
    let (e10, e90) = (
        one(format!("SELECT existing_p10 {this}")).await,
        one(format!("SELECT existing_p90 {this}")).await,
    );
    let (n10, n90) = (
        one(format!("SELECT new_p10 {this}")).await,
        one(format!("SELECT new_p90 {this}")).await,
    );
    assert!(n10 <= new && new <= n90, "{n10} {new} {n90}");
    // The total's band is the existing band moved up by the new deals.
    assert!(p10 >= e10 && p90 > e90, "{p10} {p90} vs {e10} {e90}");
    assert_eq!(
        one("SELECT forecast_quantile(0.9, 'new')".into()).await,
        n90
    );
    assert_eq!(
        one("SELECT forecast_quantile(0.1, 'existing')".into()).await,
        e10
    );
    assert_eq!(
        one("SELECT forecast_quantile(0.9, 'total')".into()).await,
        p90
    );
    let err = session
        .ctx
        .sql("SELECT forecast_quantile(0.5, 'newest')")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("'total', 'existing' or 'new'"), "{err}");
    // A period that is not a quarter gets no new pipeline.
    let month_total =
        one("SELECT forecast_quantile(0.5, DATE '2026-12-01', DATE '2026-12-31')".into()).await;
    let month_existing = one(
        "SELECT forecast_quantile(0.5, DATE '2026-12-01', DATE '2026-12-31', 'existing')".into(),
    )
    .await;
    assert_eq!(month_total, month_existing);
}

/// The saved files are one set: any file that is not the one its manifest
/// lists (another run's, or one left by an interrupted run) makes the set
/// refused by name — never a booster paired with another run's calibration.
fn model_files_are_one_unit(models: &Path) {
    let copy = tempfile::tempdir().unwrap();
    let dir = copy.path();
    for entry in std::fs::read_dir(models).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<&str> = manifest["files"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for name in [
        "win_prob.txt",
        "win_prob.json",
        "time_to_close_p10.txt",
        "time_to_close_p50.txt",
        "time_to_close_p90.txt",
        "time_to_close.json",
        "metrics.json",
    ] {
        assert!(listed.contains(&name), "{name} in {listed:?}");
    }
    assert!(Models::load(dir).is_ok());

    // Another run's calibration beside this run's booster.
    let meta_path = dir.join("win_prob.json");
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    let other: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let mut other = other;
    other["data_fingerprint"] = serde_json::Value::String("another run".into());
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&other).unwrap()).unwrap();
    let err = Models::load(dir).err().expect("a mixed set is refused");
    assert!(
        matches!(err, ModelError::Inconsistent { .. })
            && err.to_string().contains("win_prob.json")
            && err.to_string().contains("revintel train"),
        "{err}"
    );
    std::fs::write(&meta_path, &meta).unwrap();
    assert!(Models::load(dir).is_ok());

    // A listed file gone, and no manifest at all.
    std::fs::remove_file(dir.join("time_to_close_p50.txt")).unwrap();
    let err = Models::load(dir).err().unwrap();
    assert!(err.to_string().contains("time_to_close_p50.txt"), "{err}");
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    assert!(matches!(
        Models::load(dir).err().unwrap(),
        ModelError::Missing { .. }
    ));
}

fn broken_models_are_named(models: &Path) {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(models).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, copy.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    let dir = copy.path();
    assert!(WinProbModel::load(dir).is_ok());

    // Feature mismatch: metadata listing other features.
    let meta_path = dir.join("win_prob.json");
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    std::fs::write(
        &meta_path,
        meta.replace("\"days_in_stage\"", "\"days_in_limbo\""),
    )
    .unwrap();
    let err = WinProbModel::load(dir).unwrap_err();
    assert!(matches!(err, ModelError::FeatureMismatch { .. }), "{err}");
    assert!(err.to_string().contains("win_prob.json"), "{err}");
    std::fs::write(&meta_path, &meta).unwrap();

    // Corrupt model text.
    let model_path = dir.join("win_prob.txt");
    std::fs::write(&model_path, "this is not a model").unwrap();
    let err = WinProbModel::load(dir).unwrap_err();
    assert!(
        matches!(err, ModelError::Corrupt { .. }) && err.to_string().contains("win_prob.txt"),
        "{err}"
    );

    // Missing.
    std::fs::remove_file(&model_path).unwrap();
    let err = WinProbModel::load(dir).unwrap_err();
    assert!(
        matches!(err, ModelError::Missing { .. }) && err.to_string().contains("win_prob.txt"),
        "{err}"
    );
    assert_eq!(MODEL_FEATURES.len(), N_FEATURES);
}

/// A placeholder date (0001-01-01) is rejected at load with its row, and a
/// deal from decades ago cannot stretch training: snapshots cover at most
/// the last five years before the last cut-off.
#[tokio::test]
async fn implausible_dates_are_rejected_and_training_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let project = demo(dir.path(), 1_500);
    let deals = project.data_dir.join("deals.csv");
    let mut text = std::fs::read_to_string(&deals).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let first = text.lines().nth(1).unwrap().to_string();
    let cells: Vec<&str> = first.split(',').collect();
    let row = |id: &str, created: &str, close: &str| -> String {
        header
            .split(',')
            .zip(&cells)
            .map(|(name, value)| match name {
                "deal_id" => id.to_string(),
                "created_date" => created.to_string(),
                "close_date" | "closed_date" => close.to_string(),
                "stage" => "Closed Lost".to_string(),
                "outcome" => "lost".to_string(),
                "forecast_category" => "Omitted".to_string(),
                _ => value.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    text.push_str(&row("ZERO", "0001-01-01", "0001-03-01"));
    text.push('\n');
    text.push_str(&row("OLD", "1975-01-06", "1975-06-02"));
    text.push('\n');
    std::fs::write(&deals, text).unwrap();

    let session = Session::open(&project).await.unwrap();
    let rejected = session
        .ctx
        .sql("SELECT reason FROM load_rejects WHERE table_name = 'deals'")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let reasons: Vec<String> = rejected
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains("0001-01-01") && reasons[0].contains("1970-01-01 to 2099-12-31"),
        "{reasons:?}"
    );
    let file = &session
        .load
        .files
        .iter()
        .find(|f| f.table == "deals")
        .unwrap();
    assert_eq!(file.rows_read, file.rows_loaded + file.rows_rejected());

    models::train(&session, &project, &|_| {}).await.unwrap();
    // What was built: the saved model's own record of its window.
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.models_dir.join("win_prob.json")).unwrap(),
    )
    .unwrap();
    let window = &meta["window"];
    let first_cutoff =
        NaiveDate::parse_from_str(window["first_cutoff"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let last_cutoff =
        NaiveDate::parse_from_str(window["last_cutoff"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    assert!(
        (last_cutoff - first_cutoff).num_days() <= 5 * 365,
        "{first_cutoff}..{last_cutoff}"
    );
    assert!(
        window["cutoffs"].as_u64().unwrap() <= 5 * 365 / 14 + 1,
        "{window}"
    );
}
