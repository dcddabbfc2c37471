//! Reads records into one canonical table through a [`Mapping`], keeping
//! every row accounted for.
//!
//! Each record is read whole before any of it is appended: every field is
//! located by header, cleaned (trimmed, replaced, defaulted when blank),
//! parsed in the declared format and then checked against the entity's rules
//! — a known stage whose outcome agrees with the deal, no negative amount, no
//! close before creation, no second row with an id already loaded. A record
//! that fails is rejected whole, with its line, field and reason; one that
//! passes is appended. So `rows_read == rows_loaded + rows_rejected` holds by
//! construction. The reader is source-neutral: CSV files, Parquet and
//! PostgreSQL all arrive here as a header and string records.

pub use super::fields::ReadContext;
use super::fields::{derive, read_field, Cell, ColumnBuilder, FieldPlan, Src};
use super::history::{self, Interval};
use super::ids::{IdRegistry, SeenId};
use super::mapping::{CanonicalStage, FieldSource, Mapping};
use super::report::{FileLoad, RejectedRow};
use super::rules::{apply_rules, Roles, StageMemo};
use super::values::{DateFormat, NumberFormat};
use super::{ColumnType, Entity, SourceError};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::record_batch::RecordBatch;
use rustc_hash::{FxHashMap, FxHashSet};

use std::path::Path;

fn normalize_header(h: &str) -> String {
    super::mapping::stage_key(h.trim_start_matches('\u{feff}'))
}

/// The most columns an entity has (deals).
const MAX_COLUMNS: usize = 16;

/// The state a just-accepted deal row leaves for importers that build more
/// from it (HubSpot's stage dates).
#[derive(Debug, Clone)]
pub struct AcceptedDeal {
    pub deal_id: String,
    pub stage: CanonicalStage,
    pub created: i32,
    pub closed: Option<i32>,
    pub close_date: Option<i32>,
    pub amount: Option<f64>,
    pub pipeline: Option<String>,
}

/// Claims `id` (of field `name`) for a row on `line` of the latest source;
/// returns why not when it was already loaded.
fn claim(
    ids: &mut IdRegistry,
    labels: &[String],
    name: &str,
    id: &str,
    line: u64,
) -> Option<String> {
    let source = labels.len().saturating_sub(1) as u32;
    let first = ids.claim(id, SeenId { source, line })?;
    let at = if first.source == source {
        format!("line {}", first.line)
    } else {
        format!("{}:{}", labels[first.source as usize], first.line)
    };
    Some(format!("duplicate {name} `{id}`: already loaded from {at}"))
}

/// Reads one entity from one or more sources into one table.
pub struct TableReader<'m> {
    entity: Entity,
    /// The current source's mapping.
    mapping: Option<&'m Mapping>,
    plans: Vec<FieldPlan>,
    /// `account_name` and `pipeline`, when mapped.
    side: [Option<FieldPlan>; 2],
    roles: Roles,
    header_len: usize,
    builders: Vec<ColumnBuilder>,
    /// Ids loaded so far → where (file, line), across every source of the entity.
    ids: IdRegistry,
    /// Whether this reader checks ids itself (a worker leaves it to its parent).
    check_ids: bool,
    /// Rows appended to `builders` so far.
    appended: usize,
    /// The line of every appended row (workers only).
    row_lines: Option<Vec<u64>>,
    /// Finished stretches of the table, in order, before what `builders` hold.
    parts: Vec<RecordBatch>,
    /// The sources read so far, for naming where an id was first seen.
    labels: Vec<String>,
    /// (deal, day) pairs loaded so far, for interval history.
    seen_days: FxHashSet<(Box<str>, i32)>,
    /// Change events, when the history source has no `exited_at`.
    events: Vec<(Interval, u64)>,
    events_mode: bool,
    load: Option<FileLoad>,
    /// Account id → name and the line it was first seen on, from deals'
    /// `account_name`.
    pub account_names: FxHashMap<String, (String, u64)>,
    /// Implausible optional dates read as empty in the current source.
    blanked: super::values::DatesReadAsEmpty,
    /// Set when every field is known to be valid UTF-8 (the whole text was
    /// checked or decoded once), so fields are not checked again one by one.
    pub trusted_utf8: bool,
    stage_memo: StageMemo,
    /// Keep the last accepted deal (see [`TableReader::last_deal`]).
    pub keep_last_deal: bool,
    last_deal: Option<AcceptedDeal>,
}

impl<'m> TableReader<'m> {
    pub fn new(entity: Entity) -> TableReader<'m> {
        TableReader {
            entity,
            mapping: None,
            plans: Vec::new(),
            side: [None, None],
            roles: Roles::default(),
            header_len: 0,
            builders: entity
                .columns()
                .iter()
                .map(|c| ColumnBuilder::new(c.ty))
                .collect(),
            ids: IdRegistry::default(),
            check_ids: true,
            appended: 0,
            row_lines: None,
            parts: Vec::new(),
            labels: Vec::new(),
            seen_days: FxHashSet::default(),
            events: Vec::new(),
            events_mode: false,
            load: None,
            account_names: FxHashMap::default(),
            blanked: Default::default(),
            trusted_utf8: false,
            stage_memo: Vec::new(),
            keep_last_deal: false,
            last_deal: None,
        }
    }

    /// Starts a source: resolves every field against `header`. A required
    /// field with no column stops the load, naming what was looked for.
    /// `typed` sources (Parquet, PostgreSQL) write ISO dates and plain
    /// numbers whatever the mapping declares for text files.
    pub fn begin(
        &mut self,
        mapping: &'m Mapping,
        path: &Path,
        header: &[String],
        fingerprint: String,
        typed: bool,
    ) -> Result<(), SourceError> {
        self.mapping = Some(mapping);
        self.stage_memo.clear();
        let normalized: Vec<String> = header.iter().map(|h| normalize_header(h)).collect();
        let formats = &mapping.formats;
        let (date, number) = if typed {
            (DateFormat::iso(), NumberFormat::export('.'))
        } else {
            (formats.date.clone(), formats.number)
        };
        let mut used = vec![false; header.len()];
        let mut plan_field = |name: &'static str, ty, required| -> Result<FieldPlan, SourceError> {
            let rule = mapping.rule(self.entity, name);
            let wanted: Vec<String> = match &rule.source {
                FieldSource::Columns(c) => c.clone(),
                FieldSource::Default => vec![name.to_string()],
                _ => Vec::new(),
            };
            let src = match &rule.source {
                FieldSource::Value(v) => Src::Value(v.clone()),
                FieldSource::Derived(d) => Src::Derived(*d),
                _ => match wanted.iter().find_map(|w| {
                    let w = normalize_header(w);
                    normalized.iter().position(|h| *h == w)
                }) {
                    Some(i) => {
                        used[i] = true;
                        Src::Column(
                            i,
                            header[i].trim_start_matches('\u{feff}').trim().to_string(),
                        )
                    }
                    None if required && rule.if_blank.is_none() => {
                        return Err(SourceError::MissingColumn {
                            path: path.to_path_buf(),
                            column: name.to_string(),
                            looked_for: if wanted.len() == 1 && wanted[0] == name {
                                String::new()
                            } else {
                                format!(" (looked for {})", wanted.join(", "))
                            },
                            found: header.join(", "),
                        });
                    }
                    None => Src::Absent,
                },
            };
            Ok(FieldPlan {
                name,
                ty,
                required,
                src,
                date: rule.date_format.clone().unwrap_or_else(|| date.clone()),
                number,
                rule,
            })
        };
        let mut plans = Vec::new();
        debug_assert!(self.entity.columns().len() <= MAX_COLUMNS);
        for c in self.entity.columns() {
            // A deal's outcome follows from its stage when not given.
            let derivable = self.entity == Entity::Deals && c.name == "outcome";
            plans.push(plan_field(c.name, c.ty, c.required && !derivable)?);
        }
        let mut side = [None, None];
        for (slot, name) in super::mapping::side_fields(self.entity).iter().enumerate() {
            let p = plan_field(name, ColumnType::Text, false)?;
            if !matches!(p.src, Src::Absent) {
                side[slot] = Some(p);
            }
        }
        // A name read from the id's own column names nothing: skip it.
        let column_of = |p: &FieldPlan| match &p.src {
            Src::Column(i, _) => Some(*i),
            _ => None,
        };
        let id_column = plans
            .iter()
            .find(|p| p.name == "account_id")
            .and_then(column_of);
        if side[0]
            .as_ref()
            .and_then(column_of)
            .is_some_and(|c| Some(c) == id_column)
        {
            side[0] = None;
        }
        let pos = |n: &str| plans.iter().position(|p: &FieldPlan| p.name == n);
        let mut roles = Roles {
            deal_id: pos("deal_id"),
            stage: pos("stage"),
            outcome: pos("outcome"),
            forecast_category: pos("forecast_category"),
            amount: pos("amount"),
            currency: pos("currency"),
            created: pos("created_date"),
            close_date: pos("close_date"),
            closed_date: pos("closed_date"),
            employees: pos("employees"),
            account_id: pos("account_id"),
            list_price: pos("list_price"),
            quota: pos("quota"),
            entered: pos("entered_at"),
            exited: pos("exited_at"),
            id: None,
        };
        roles.id = match self.entity {
            Entity::Deals => roles.deal_id,
            Entity::Accounts => pos("account_id"),
            Entity::Reps => pos("rep_id"),
            Entity::Products => pos("product_id"),
            Entity::StageHistory => None,
        };
        self.events_mode = self.entity == Entity::StageHistory
            && roles
                .exited
                .is_some_and(|i| matches!(plans[i].src, Src::Absent));
        let unused: Vec<&str> = header
            .iter()
            .zip(&used)
            .filter(|(h, u)| !**u && !h.trim().is_empty())
            .map(|(h, _)| h.trim())
            .collect();
        let mut load = FileLoad {
            source: String::new(),
            table: self.entity.table().to_string(),
            file: path.to_path_buf(),
            rows_read: 0,
            rows_loaded: 0,
            rejected: Vec::new(),
            fingerprint,
            notes: Vec::new(),
        };
        if !unused.is_empty() {
            let shown: Vec<&str> = unused.iter().take(8).copied().collect();
            load.notes.push(format!(
                "{} column(s) not used: {}{}",
                unused.len(),
                shown.join(", "),
                if unused.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            ));
        }
        self.labels.push(path.display().to_string());
        self.plans = plans;
        self.side = side;
        self.roles = roles;
        self.header_len = header.len();
        self.load = Some(load);
        Ok(())
    }

    /// The entity's columns, for messages about a file without a header.
    pub fn expected_columns(&self) -> String {
        let names: Vec<&str> = self.entity.columns().iter().map(|c| c.name).collect();
        names.join(", ")
    }

    /// The current source's report so far.
    pub fn load_mut(&mut self) -> &mut FileLoad {
        self.load.as_mut().expect("begin() was called")
    }

    /// The last deal [`read`](Self::read) accepted, when `keep_last_deal` is on.
    pub fn last_deal(&self) -> Option<&AcceptedDeal> {
        self.last_deal.as_ref()
    }

    /// Reads one record starting at `line`; returns whether it was loaded.
    pub fn read(&mut self, record: &csv::ByteRecord, line: u64, ctx: &ReadContext<'_>) -> bool {
        let load = self.load.as_mut().expect("begin() was called");
        load.rows_read += 1;
        let path = &load.file;
        let reject = |field: Option<&str>, value: Option<&[u8]>, reason: String| RejectedRow {
            file: path.clone(),
            line,
            field: field.map(str::to_string),
            value: value.map(|v| String::from_utf8_lossy(v).into_owned()),
            reason,
        };
        if record.len() != self.header_len {
            let r = reject(
                None,
                None,
                format!(
                    "expected {} fields as in the header, found {}",
                    self.header_len,
                    record.len()
                ),
            );
            load.rejected.push(r);
            return false;
        }
        // On the stack: no allocation per row.
        let mut slots = [Cell::Null; MAX_COLUMNS];
        let cells = &mut slots[..self.plans.len()];
        for (slot, plan) in cells.iter_mut().zip(&self.plans) {
            match read_field(plan, record, ctx, self.trusted_utf8, &mut self.blanked) {
                Ok(cell) => *slot = cell,
                Err((value, reason)) => {
                    load.rejected.push(reject(Some(plan.name), value, reason));
                    return false;
                }
            }
        }
        let mut side: [Option<&str>; 2] = [None, None];
        for (slot, plan) in self.side.iter().enumerate() {
            if let Some(plan) = plan {
                match read_field(plan, record, ctx, self.trusted_utf8, &mut self.blanked) {
                    Ok(cell) => side[slot] = cell.text(),
                    Err((value, reason)) => {
                        load.rejected.push(reject(Some(plan.name), value, reason));
                        return false;
                    }
                }
            }
        }
        if let Err((field, reason)) = derive(&self.plans, cells, ctx) {
            load.rejected.push(reject(Some(field), None, reason));
            return false;
        }
        let mapping = self.mapping.expect("begin() was called");
        let stage = match apply_rules(
            self.entity,
            &self.roles,
            mapping,
            &mut self.stage_memo,
            cells,
            side[1],
        ) {
            Ok(stage) => stage,
            Err((field, reason)) => {
                let value = field
                    .and_then(|f| self.plans.iter().position(|p| p.name == f))
                    .and_then(|i| match &self.plans[i].src {
                        Src::Column(c, _) => record.get(*c),
                        _ => None,
                    });
                load.rejected.push(reject(field, value, reason));
                return false;
            }
        };
        // Uniqueness last: a row that fails for another reason does not
        // claim its id.
        if let (Some(i), true) = (self.roles.id, self.check_ids) {
            let id = cells[i].text().unwrap_or_default();
            if let Some(reason) = claim(&mut self.ids, &self.labels, self.plans[i].name, id, line) {
                load.rejected.push(reject(
                    Some(self.plans[i].name),
                    Some(id.as_bytes()),
                    reason,
                ));
                return false;
            }
        }
        if self.entity == Entity::StageHistory {
            let r = self.roles;
            let deal = cells[r.deal_id.expect("history has deal_id")]
                .text()
                .unwrap_or_default();
            let entered = cells[r.entered.expect("history has entered_at")]
                .date()
                .unwrap_or_default();
            if self.events_mode {
                self.events.push((
                    Interval {
                        deal_id: deal.to_string(),
                        stage: stage.map_or("", |s| s.name),
                        entered,
                        exited: None,
                        amount: r.amount.and_then(|i| cells[i].number()),
                        close_date: r.close_date.and_then(|i| cells[i].date()),
                        forecast_category: r
                            .forecast_category
                            .and_then(|i| cells[i].text())
                            .map(str::to_string),
                    },
                    line,
                ));
                load.rows_loaded += 1;
                return true;
            }
            if !self.seen_days.insert((Box::from(deal), entered)) {
                let r = reject(
                    Some("entered_at"),
                    None,
                    format!(
                        "deal `{deal}` already has a row entered on {}; one row per deal and day",
                        ml::time::days_to_date(entered)
                    ),
                );
                load.rejected.push(r);
                return false;
            }
        }
        if self.entity == Entity::Deals {
            if let (Some(name), Some(acc)) =
                (side[0], self.roles.account_id.and_then(|i| cells[i].text()))
            {
                if !self.account_names.contains_key(acc) {
                    self.account_names
                        .insert(acc.to_string(), (name.to_string(), line));
                }
            }
            if self.keep_last_deal {
                let r = self.roles;
                self.last_deal = Some(AcceptedDeal {
                    deal_id: cells[r.deal_id.expect("deals have ids")]
                        .text()
                        .unwrap_or_default()
                        .to_string(),
                    stage: stage.expect("a loaded deal has a stage"),
                    created: cells[r.created.expect("deals have created")]
                        .date()
                        .unwrap_or_default(),
                    closed: r.closed_date.and_then(|i| cells[i].date()),
                    close_date: r.close_date.and_then(|i| cells[i].date()),
                    amount: r.amount.and_then(|i| cells[i].number()),
                    pipeline: side[1].map(str::to_string),
                });
            }
        }
        for (builder, cell) in self.builders.iter_mut().zip(cells.iter()) {
            builder.append(cell);
        }
        self.appended += 1;
        if let Some(lines) = &mut self.row_lines {
            lines.push(line);
        }
        load.rows_loaded += 1;
        true
    }

    /// Ends the current source and returns its report.
    pub fn end(&mut self) -> FileLoad {
        let mut load = self.load.take().expect("begin() was called");
        if let Some(note) = std::mem::take(&mut self.blanked).note() {
            load.notes.push(note);
        }
        load
    }

    /// The table of every source read, and how many same-day change events
    /// a later one replaced (history read from events only).
    pub fn finish(mut self) -> Result<(RecordBatch, u64), SourceError> {
        if self.events_mode || !self.events.is_empty() {
            let (rows, folded) = history::events_to_intervals(std::mem::take(&mut self.events));
            return Ok((history::to_batch(&rows), folded));
        }
        self.flush()?;
        let schema = self.entity.schema();
        let batch = match self.parts.len() {
            1 => self.parts.pop().expect("one part"),
            _ => concat_batches(&schema, &self.parts).map_err(|source| SourceError::Arrow {
                table: self.entity.table().to_string(),
                source,
            })?,
        };
        Ok((batch, 0))
    }

    /// Moves what the builders hold into `parts`.
    fn flush(&mut self) -> Result<(), SourceError> {
        if self.appended == 0 && !self.parts.is_empty() {
            return Ok(());
        }
        let builders = self
            .entity
            .columns()
            .iter()
            .map(|c| ColumnBuilder::new(c.ty))
            .collect();
        let arrays: Vec<ArrayRef> = std::mem::replace(&mut self.builders, builders)
            .into_iter()
            .map(ColumnBuilder::finish)
            .collect();
        let batch = RecordBatch::try_new(self.entity.schema(), arrays).map_err(|source| {
            SourceError::Arrow {
                table: self.entity.table().to_string(),
                source,
            }
        })?;
        self.appended = 0;
        self.parts.push(batch);
        Ok(())
    }

    /// Whether records can be read by [`worker`](Self::worker)s in parallel:
    /// not for stage history (its rows depend on each other) nor when each
    /// loaded deal is handed on in order.
    pub fn parallel_ok(&self) -> bool {
        self.entity != Entity::StageHistory && !self.keep_last_deal
    }

    /// A reader for a share of the current source's records: the same
    /// plans, its own table, ids left to this reader's [`absorb`](Self::absorb).
    pub fn worker(&self) -> TableReader<'m> {
        let mut w = TableReader::new(self.entity);
        w.mapping = self.mapping;
        w.plans = self.plans.clone();
        w.side = self.side.clone();
        w.roles = self.roles;
        w.header_len = self.header_len;
        w.labels = self.labels.clone();
        w.trusted_utf8 = self.trusted_utf8;
        w.check_ids = false;
        w.row_lines = Some(Vec::new());
        w.load = self.load.as_ref().map(|l| FileLoad {
            rows_read: 0,
            rows_loaded: 0,
            rejected: Vec::new(),
            notes: Vec::new(),
            ..l.clone()
        });
        w
    }

    /// Rows a worker has appended so far.
    pub fn appended(&self) -> usize {
        self.appended
    }

    /// Takes in what workers read of the current source: `spans` lists, in
    /// record order, which rows of which worker came from each stretch of
    /// the file. Ids are checked here, in file order, so a repeated id is
    /// rejected exactly as a single reader would.
    pub fn absorb(
        &mut self,
        workers: Vec<TableReader<'m>>,
        spans: &[(usize, usize, usize)],
    ) -> Result<(), SourceError> {
        use datafusion::arrow::array::{AsArray, BooleanArray};
        let mut outputs = Vec::with_capacity(workers.len());
        let mut rejected = Vec::new();
        let mut read = 0;
        // This source's account names, the earliest line winning; a name an
        // earlier source gave stays.
        let mut names: FxHashMap<String, (String, u64)> = FxHashMap::default();
        for mut w in workers {
            self.blanked.absorb(std::mem::take(&mut w.blanked));
            let load = w.end();
            read += load.rows_read;
            rejected.extend(load.rejected);
            for (id, (name, line)) in w.account_names.drain() {
                match names.get(&id) {
                    Some((_, first)) if *first <= line => {}
                    _ => {
                        names.insert(id, (name, line));
                    }
                }
            }
            let lines = w.row_lines.take().unwrap_or_default();
            let (batch, _) = w.finish()?;
            outputs.push((batch, lines));
        }
        for (id, entry) in names {
            self.account_names.entry(id).or_insert(entry);
        }
        self.flush()?;
        self.ids
            .reserve(outputs.iter().map(|(b, _)| b.num_rows()).sum());
        let mut loaded = 0;
        let path = self.load_mut().file.clone();
        for &(worker, start, end) in spans {
            let (batch, lines) = &outputs[worker];
            let mut part = batch.slice(start, end - start);
            if let Some(i) = self.roles.id {
                let name = self.plans[i].name;
                let ids = part.column(i).as_string::<i32>();
                let mut keep = Vec::with_capacity(part.num_rows());
                for (r, line) in lines[start..end].iter().enumerate() {
                    let id = ids.value(r);
                    match claim(&mut self.ids, &self.labels, name, id, *line) {
                        None => keep.push(true),
                        Some(reason) => {
                            keep.push(false);
                            rejected.push(RejectedRow {
                                file: path.clone(),
                                line: *line,
                                field: Some(name.to_string()),
                                value: Some(id.to_string()),
                                reason,
                            });
                        }
                    }
                }
                if keep.contains(&false) {
                    part = datafusion::arrow::compute::filter_record_batch(
                        &part,
                        &BooleanArray::from(keep),
                    )
                    .map_err(|source| SourceError::Arrow {
                        table: self.entity.table().to_string(),
                        source,
                    })?;
                }
            }
            loaded += part.num_rows() as u64;
            self.parts.push(part);
        }
        rejected.sort_by_key(|r| r.line);
        let load = self.load_mut();
        load.rows_read += read;
        load.rows_loaded += loaded;
        load.rejected.extend(rejected);
        Ok(())
    }

    /// Counts a record refused before it reached [`read`](Self::read).
    pub fn reject(
        &mut self,
        line: u64,
        field: Option<&str>,
        value: Option<String>,
        reason: String,
    ) {
        let load = self.load_mut();
        load.rows_read += 1;
        let file = load.file.clone();
        load.rejected.push(RejectedRow {
            file,
            line,
            field: field.map(str::to_string),
            value,
            reason,
        });
    }
}
