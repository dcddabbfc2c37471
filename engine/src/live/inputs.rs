//! What each report depends on: the tables its SQL fences read, followed
//! through views down to source tables, and the models when a fence reads a
//! model-backed table or calls a model function. A change rebuilds only the
//! reports whose inputs it touched.

use crate::session::Session;
use crate::sources::Entity;
use reports::template::Template;
use std::collections::{BTreeMap, BTreeSet};

/// Something a report depends on besides its template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Input {
    /// A source table (`deals`, `stage_history`, …).
    Table(String),
    /// The trained models (and what is computed from them).
    Models,
}

/// What each table and view of the session reads, down to source tables.
/// Model-backed tables read the models and the data the scores come from.
pub async fn table_inputs(
    session: &Session,
) -> Result<BTreeMap<String, BTreeSet<Input>>, datafusion::error::DataFusionError> {
    let names: Vec<String> = {
        let batches = session
            .ctx
            .sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            .await?
            .collect()
            .await?;
        batches
            .iter()
            .flat_map(|b| {
                let c = datafusion::arrow::array::AsArray::as_string::<i32>(b.column(0));
                c.iter().flatten().map(str::to_string).collect::<Vec<_>>()
            })
            .collect()
    };
    let mut reads: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in &names {
        let provider = session.ctx.table_provider(name.as_str()).await?;
        let sql = provider.get_table_definition().map(str::to_string);
        let relations = sql
            .and_then(|sql| crate::query::parse(&sql).ok())
            .map(|s| s.iter().flat_map(crate::query::relations).collect())
            .unwrap_or_default();
        reads.insert(name.clone(), relations);
    }
    let all_sources: BTreeSet<Input> = Entity::ALL
        .iter()
        .map(|e| Input::Table(e.table().to_string()))
        .collect();
    let scoring: BTreeSet<Input> = crate::scoring::scoring_tables()
        .into_iter()
        .map(Input::Table)
        .chain([Input::Models])
        .collect();
    let mut inputs = BTreeMap::new();
    for name in &names {
        let mut seen = BTreeSet::new();
        let set = expand(name, &reads, &all_sources, &scoring, &mut seen);
        inputs.insert(name.clone(), set);
    }
    Ok(inputs)
}

fn expand(
    name: &str,
    reads: &BTreeMap<String, Vec<String>>,
    all_sources: &BTreeSet<Input>,
    scoring: &BTreeSet<Input>,
    seen: &mut BTreeSet<String>,
) -> BTreeSet<Input> {
    if !seen.insert(name.to_string()) {
        return BTreeSet::new();
    }
    if Entity::from_table(name).is_some() {
        return [Input::Table(name.to_string())].into();
    }
    match name {
        "load_report" | "load_rejects" => return all_sources.clone(),
        "deal_scores" | "forecast" => return scoring.clone(),
        "forecast_by_group" => {
            let groups = crate::forecast_tables::GROUP_TABLES.map(|t| Input::Table(t.to_string()));
            return scoring.iter().cloned().chain(groups).collect();
        }
        "backtest" | "model_quality" => return [Input::Models].into(),
        _ => {}
    }
    let mut set = BTreeSet::new();
    for inner in reads.get(name).into_iter().flatten() {
        set.extend(expand(inner, reads, all_sources, scoring, seen));
    }
    set
}

/// The inputs a template reads: its fences' tables, followed through views,
/// plus the models when a fence calls a model function.
pub fn template_inputs(
    template: &Template,
    tables: &BTreeMap<String, BTreeSet<Input>>,
) -> BTreeSet<Input> {
    let mut inputs = BTreeSet::new();
    for statements in crate::build::fence_statements(template) {
        if crate::query::uses_models(&statements) {
            inputs.insert(Input::Models);
        }
        for statement in &statements {
            for relation in crate::query::relations(statement) {
                if let Some(set) = tables.get(&relation) {
                    inputs.extend(set.iter().cloned());
                }
            }
        }
    }
    inputs
}

/// "stage_history, models changed": the reason given in a rebuild's log line.
pub fn describe(inputs: &BTreeSet<Input>) -> String {
    // Tables first, then the models (`Input::Models` sorts last).
    let parts: Vec<&str> = inputs
        .iter()
        .map(|i| match i {
            Input::Table(t) => t.as_str(),
            Input::Models => "models",
        })
        .collect();
    format!("{} changed", parts.join(", "))
}
