//! Assembles a project's five tables from its sources: the canonical folder
//! and the `[[sources.import]]` entries.
//!
//! Each entity comes from the imports that hold it (several are appended,
//! with ids unique across them), else from the folder's file, else — for
//! reps, accounts and products — from the ids deals refer to, and for stage
//! history by synthesis from deals (see [`super::derive`]). Entities are read
//! in dependency order, so deals can take their amount from products' list
//! prices. Every source, read or derived, leaves a [`FileLoad`] in the
//! report.

use super::config::{ImportKind, ImportSpec, ResolvedImport};
use super::csv_file::{load_csv, read_csv};
use super::history;
use super::hubspot::HubspotHistory;
use super::mapping::CanonicalStage;
use super::report::{FileLoad, LoadReport};
use super::table_reader::{ReadContext, TableReader};
use super::{derive, Entity, LoadedTable, SourceError};
use chrono::NaiveDate;
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a project's data comes from.
#[derive(Debug, Clone, Default)]
pub struct SourceSet {
    /// The folder the config's relative paths start from.
    pub root: PathBuf,
    /// The config file, for messages.
    pub config: PathBuf,
    /// A folder of canonical CSV files (`deals.csv`, …).
    pub folder: Option<PathBuf>,
    pub imports: Vec<ImportSpec>,
}

/// What to do when one source cannot be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Stop the whole load with the error (sessions).
    Stop,
    /// Note the failure and go on without that source (`revintel import`).
    Continue,
}

/// Everything a load produced.
#[derive(Debug)]
pub struct Assembled {
    pub tables: Vec<LoadedTable>,
    pub report: LoadReport,
    /// Sources that could not be read, with why (only with [`OnFailure::Continue`]).
    pub failures: Vec<(String, SourceError)>,
}

impl SourceSet {
    /// Every file the sources read (for watching), PostgreSQL excluded.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .imports
            .iter()
            .flat_map(|i| {
                [i.path.as_ref(), i.mapping.as_ref()]
                    .into_iter()
                    .flatten()
                    .map(|p| self.root.join(p))
            })
            .collect();
        if let Some(folder) = &self.folder {
            files.extend(Entity::ALL.iter().map(|e| folder.join(e.file_name())));
        }
        files
    }
}

/// Loads every entity (see the module notes).
pub async fn load_sources(
    set: &SourceSet,
    as_of: Option<NaiveDate>,
    strict: bool,
    on_failure: OnFailure,
) -> Result<Assembled, SourceError> {
    let mut failures = Vec::new();
    let mut fail = |name: String, e: SourceError| -> Result<(), SourceError> {
        match on_failure {
            OnFailure::Stop => Err(e),
            OnFailure::Continue => {
                failures.push((name, e));
                Ok(())
            }
        }
    };
    let mut imports: Vec<ResolvedImport> = Vec::new();
    for spec in &set.imports {
        match spec.resolve(&set.root, &set.config) {
            Ok(r) => imports.push(r),
            Err(e) => fail(spec.label(), e)?,
        }
    }
    let mut tables: BTreeMap<Entity, RecordBatch> = BTreeMap::new();
    let mut report = LoadReport::default();
    let mut account_names = rustc_hash::FxHashMap::default();
    let mut hubspot_history: Option<(Vec<history::Interval>, Vec<FileLoad>)> = None;
    let mut created_stage = None;

    for entity in Entity::ALL {
        let sources: Vec<&ResolvedImport> = imports.iter().filter(|r| r.entity == entity).collect();
        if sources.is_empty() {
            if entity == Entity::StageHistory {
                if let Some((rows, loads)) = hubspot_history.take() {
                    tables.insert(entity, history::to_batch(&rows));
                    report.files.extend(loads);
                    continue;
                }
            }
            if let Some(folder) = &set.folder {
                let path = folder.join(entity.file_name());
                match load_csv(&path, entity) {
                    Ok((batch, mut load)) => {
                        load.source = "folder".into();
                        tables.insert(entity, batch);
                        report.files.push(load);
                    }
                    Err(e) => fail(entity.file_name().to_string(), e)?,
                }
            }
            continue;
        }
        let prices = tables.get(&Entity::Products).map(derive::list_prices);
        let ctx = ReadContext {
            as_of,
            list_prices: prices.as_ref(),
        };
        let mut reader = TableReader::new(entity);
        reader.keep_last_deal = sources.iter().any(|r| r.spec.kind == ImportKind::Hubspot);
        let mut loads = Vec::new();
        for import in &sources {
            created_stage = created_stage.or(import.mapping.created_stage);
            match read_import(&mut reader, import, &ctx).await {
                Ok((mut load, history)) => {
                    load.source = import.name.clone();
                    load.notes.extend(import.chosen.clone());
                    loads.push(load);
                    if let Some((rows, mut hload)) = history {
                        hload.source = import.name.clone();
                        let entry = hubspot_history.get_or_insert_with(Default::default);
                        entry.0.extend(rows);
                        entry.1.push(hload);
                    }
                }
                Err(e) => fail(import.name.clone(), e)?,
            }
        }
        account_names.extend(
            std::mem::take(&mut reader.account_names)
                .into_iter()
                .map(|(id, (name, _))| (id, name)),
        );
        let (batch, folded) = reader.finish()?;
        if folded > 0 {
            if let Some(last) = loads.last_mut() {
                last.notes.push(format!(
                    "{folded} change(s) replaced by a later change of the same deal on the same day"
                ));
            }
        }
        tables.insert(entity, batch);
        report.files.extend(loads);
    }
    // HubSpot stage dates give way to a configured stage-history import:
    // said on each HubSpot file rather than dropped unseen.
    if let Some((rows, hubspot)) = hubspot_history.take() {
        let note = format!(
            "{} stage change(s) from its stage-date columns not used: stage history comes from a stage_history import",
            rows.len()
        );
        for h in hubspot {
            let deals_load = report
                .files
                .iter_mut()
                .find(|f| f.file == h.file && f.table == Entity::Deals.table());
            if let Some(load) = deals_load {
                load.notes.push(note.clone());
            }
        }
    }

    let Some(deals) = tables.get(&Entity::Deals).cloned() else {
        let e = SourceError::NoDeals {
            path: set.config.clone(),
        };
        fail("deals".into(), e)?;
        // Continuing: report what could be read, derive nothing.
        return Ok(Assembled {
            tables: tables
                .into_iter()
                .map(|(entity, batch)| LoadedTable { entity, batch })
                .collect(),
            report,
            failures,
        });
    };
    for entity in [Entity::Reps, Entity::Accounts, Entity::Products] {
        if let std::collections::btree_map::Entry::Vacant(slot) = tables.entry(entity) {
            let names = if entity == Entity::Accounts {
                std::mem::take(&mut account_names)
            } else {
                Default::default()
            };
            let (batch, mut load) = derive::reference_from_deals(entity, &deals, &names);
            load.source = "derived".into();
            slot.insert(batch);
            report.files.push(load);
        }
    }
    if let std::collections::btree_map::Entry::Vacant(slot) = tables.entry(Entity::StageHistory) {
        let stage = created_stage.unwrap_or(CanonicalStage::all()[0]);
        let (batch, mut load) = derive::history_from_deals(&deals, stage);
        load.source = "derived".into();
        slot.insert(batch);
        report.files.push(load);
    }
    if strict {
        if let Some(file) = report.files.iter().find(|f| !f.rejected.is_empty()) {
            return Err(SourceError::Strict {
                path: file.file.clone(),
                read: file.rows_read,
                rejected: file.rows_rejected(),
                first: Box::new(file.rejected[0].clone()),
            });
        }
    }
    let tables = Entity::ALL
        .iter()
        .filter_map(|e| {
            tables
                .remove(e)
                .map(|batch| LoadedTable { entity: *e, batch })
        })
        .collect();
    Ok(Assembled {
        tables,
        report,
        failures,
    })
}

type HistoryOut = Option<(Vec<history::Interval>, FileLoad)>;

async fn read_import<'m>(
    reader: &mut TableReader<'m>,
    import: &'m ResolvedImport,
    ctx: &ReadContext<'_>,
) -> Result<(FileLoad, HistoryOut), SourceError> {
    let path = import.path.as_deref().unwrap_or(Path::new(""));
    match import.spec.kind {
        ImportKind::Postgres => Ok((
            super::postgres::read_postgres(reader, import, ctx).await?,
            None,
        )),
        ImportKind::Parquet => Ok((
            super::parquet_file::read_parquet(reader, &import.mapping, path, ctx)?,
            None,
        )),
        kind => {
            let bytes = std::fs::read(path).map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            if kind == ImportKind::Hubspot {
                let mut hook = HubspotHistory::new(&import.mapping, path.to_path_buf());
                let load = read_csv(reader, &import.mapping, path, &bytes, ctx, Some(&mut hook))?;
                let history = hook
                    .has_history()
                    .then(|| hook.finish(load.fingerprint.clone()));
                Ok((load, history))
            } else {
                Ok((
                    read_csv(reader, &import.mapping, path, &bytes, ctx, None)?,
                    None,
                ))
            }
        }
    }
}
