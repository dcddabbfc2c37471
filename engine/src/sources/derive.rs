//! Tables made from deals when no source holds them.
//!
//! A CRM export is usually one file of deals. What the engine needs beside
//! it is made from it, minimally and visibly (each appears in the load
//! report as "derived from deals"): reps, accounts and products as the
//! distinct ids deals refer to, and — when there is no stage history — a
//! synthesized one. The synthesized history is honest about what it does not
//! know: an open deal sits in its current stage since its created date; a
//! closed deal sits in the mapping's `created_stage` (default: the first open
//! stage) from creation until it closed, then in its closing stage. Its
//! expected close date during that time is unknown, so it is left NULL:
//! copying the actual close date back would let features see the outcome.

use super::history;
use super::mapping::CanonicalStage;
use super::report::FileLoad;
use super::Entity;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{Date32Type, Float64Type};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> &'a StringArray {
    batch
        .column_by_name(name)
        .expect("canonical tables have their columns")
        .as_string::<i32>()
}

fn dates<'a>(batch: &'a RecordBatch, name: &str) -> &'a Date32Array {
    batch
        .column_by_name(name)
        .expect("canonical tables have their columns")
        .as_primitive::<Date32Type>()
}

fn derived_load(entity: Entity, from: &str, read: u64, note: String) -> FileLoad {
    FileLoad {
        source: String::new(),
        table: entity.table().to_string(),
        file: PathBuf::from(format!("derived from {from}")),
        rows_read: read,
        rows_loaded: read,
        rejected: Vec::new(),
        fingerprint: ml::trained::fingerprint(&[entity.table().as_bytes(), note.as_bytes()]),
        notes: vec![note],
    }
}

/// A reference table (reps, accounts or products) of the distinct ids in a
/// deals column, named by `names` where known and else by the id.
pub fn reference_from_deals(
    entity: Entity,
    deals: &RecordBatch,
    names: &rustc_hash::FxHashMap<String, String>,
) -> (RecordBatch, FileLoad) {
    let column = match entity {
        Entity::Reps => "owner_id",
        Entity::Accounts => "account_id",
        Entity::Products => "product_id",
        _ => unreachable!("only reference entities are derived from deals"),
    };
    let distinct: rustc_hash::FxHashSet<&str> = strings(deals, column).iter().flatten().collect();
    let mut ids: Vec<&str> = distinct.into_iter().collect();
    ids.sort_unstable();
    let schema = entity.schema();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| -> ArrayRef {
            match i {
                0 => Arc::new(StringArray::from_iter_values(ids.iter().copied())),
                1 => Arc::new(StringArray::from_iter_values(
                    ids.iter()
                        .map(|id| names.get(*id).map_or(*id, String::as_str)),
                )),
                _ => datafusion::arrow::array::new_null_array(f.data_type(), ids.len()),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema, columns).expect("derived columns match the schema");
    let load = derived_load(
        entity,
        "deals",
        ids.len() as u64,
        format!(
            "no source holds {}: {} made from the distinct deals.{column} values",
            entity.table(),
            ids.len()
        ),
    );
    (batch, load)
}

/// Product id → list price.
pub fn list_prices(products: &RecordBatch) -> HashMap<String, f64> {
    let ids = strings(products, "product_id");
    let prices = products
        .column_by_name("list_price")
        .expect("products have list_price")
        .as_primitive::<Float64Type>();
    (0..products.num_rows())
        .filter(|&i| ids.is_valid(i) && prices.is_valid(i))
        .map(|i| (ids.value(i).to_string(), prices.value(i)))
        .collect()
}

/// A minimal stage history from the deals alone (see the module notes).
pub fn history_from_deals(
    deals: &RecordBatch,
    created_stage: CanonicalStage,
) -> (RecordBatch, FileLoad) {
    let ids = strings(deals, "deal_id");
    let stages = strings(deals, "stage");
    let fcs = strings(deals, "forecast_category");
    let created = dates(deals, "created_date");
    let closed = dates(deals, "closed_date");
    let close = dates(deals, "close_date");
    let amounts = deals
        .column_by_name("amount")
        .expect("deals have amount")
        .as_primitive::<Float64Type>();
    let all = CanonicalStage::all();
    let mut rows = history::HistoryBuilder::with_capacity(deals.num_rows() * 2);
    let mut count = 0u64;
    let value = |a: &Float64Array, i: usize| a.is_valid(i).then(|| a.value(i));
    let date = |a: &Date32Array, i: usize| a.is_valid(i).then(|| a.value(i));
    for i in 0..deals.num_rows() {
        let Some(stage) = all.iter().find(|s| s.name == stages.value(i)) else {
            continue;
        };
        let (id, c) = (ids.value(i), created.value(i));
        let amount = value(amounts, i);
        let fc = fcs.is_valid(i).then(|| fcs.value(i));
        match date(closed, i) {
            Some(x) if stage.order.is_none() => {
                if x > c {
                    rows.push(
                        id,
                        created_stage.name,
                        c,
                        Some(x),
                        amount,
                        None,
                        Some(created_stage.forecast_category()),
                    );
                    count += 1;
                }
                rows.push(id, stage.name, x, None, amount, Some(x), fc);
            }
            _ => rows.push(id, stage.name, c, None, amount, date(close, i), fc),
        }
        count += 1;
    }
    let batch = rows.finish();
    let load = derived_load(
        Entity::StageHistory,
        "deals",
        count,
        format!(
            "no source holds stage history: synthesized {} rows from {} deals' created and closed dates (closed deals in {} until they closed)",
            count,
            deals.num_rows(),
            created_stage.name
        ),
    );
    (batch, load)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::csv_file::load_csv;

    #[test]
    fn history_and_references_come_from_deals() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("deals.csv");
        std::fs::write(
            &p,
            "deal_id,owner_id,product_id,account_id,amount,stage,created_date,closed_date,outcome\n\
             D1,R1,P1,A1,10,Closed Won,2025-01-01,2025-02-01,won\n\
             D2,R2,P1,,20,Qualification,2025-01-05,,open\n\
             D3,R1,P2,A1,30,Closed Lost,2025-01-07,2025-01-07,lost\n",
        )
        .unwrap();
        let (deals, load) = load_csv(&p, Entity::Deals).unwrap();
        assert_eq!(load.rows_loaded, 3, "{:?}", load.rejected);
        let qual = CanonicalStage::all()[1];
        let (h, hl) = history_from_deals(&deals, qual);
        assert_eq!(hl.rows_loaded, 4);
        let stage = strings(&h, "stage");
        let got: Vec<_> = (0..h.num_rows()).map(|i| stage.value(i)).collect();
        assert_eq!(
            got,
            [
                "Qualification",
                "Closed Won",
                "Qualification",
                "Closed Lost"
            ]
        );
        assert!(
            h.column_by_name("close_date").unwrap().is_null(0),
            "no expected close date leaks"
        );
        let (reps, _) = reference_from_deals(Entity::Reps, &deals, &Default::default());
        assert_eq!(reps.num_rows(), 2);
        let names = rustc_hash::FxHashMap::from_iter([("A1".to_string(), "Acme".to_string())]);
        let (acc, _) = reference_from_deals(Entity::Accounts, &deals, &names);
        assert_eq!(strings(&acc, "name").value(0), "Acme");
    }
}
