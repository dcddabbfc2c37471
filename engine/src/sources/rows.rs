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

use super::history::{self, Interval};
use super::mapping::{Blank, CanonicalStage, Derivation, FieldRule, FieldSource, Mapping, Outcome};
use super::report::{FileLoad, RejectedRow};
use super::values::{DateFormat, NumberFormat};
use super::{ColumnType, Entity, SourceError};
use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use udfs::time::date_to_days;

/// What a row may need besides its own fields.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadContext<'c> {
    /// For `if_blank = "as_of"`.
    pub as_of: Option<NaiveDate>,
    /// Product id → list price, for `derive = "product_list_price"`.
    pub list_prices: Option<&'c HashMap<String, f64>>,
}

/// A validated cell, borrowed from the record or the plan until appended.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Null,
    Text(&'a str),
    Integer(i64),
    Number(f64),
    Date(i32),
}

impl<'a> Cell<'a> {
    fn text(&self) -> Option<&'a str> {
        match self {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }
    fn date(&self) -> Option<i32> {
        match self {
            Cell::Date(d) => Some(*d),
            _ => None,
        }
    }
    fn number(&self) -> Option<f64> {
        match self {
            Cell::Number(v) => Some(*v),
            Cell::Integer(v) => Some(*v as f64),
            _ => None,
        }
    }
}

enum ColumnBuilder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Number(Float64Builder),
    Date(Date32Builder),
}

impl ColumnBuilder {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Text => ColumnBuilder::Text(StringBuilder::new()),
            ColumnType::Integer => ColumnBuilder::Integer(Int64Builder::new()),
            ColumnType::Number => ColumnBuilder::Number(Float64Builder::new()),
            ColumnType::Date => ColumnBuilder::Date(Date32Builder::new()),
        }
    }

    fn append(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (ColumnBuilder::Text(b), Cell::Text(v)) => b.append_value(v),
            (ColumnBuilder::Integer(b), Cell::Integer(v)) => b.append_value(*v),
            (ColumnBuilder::Number(b), Cell::Number(v)) => b.append_value(*v),
            (ColumnBuilder::Date(b), Cell::Date(v)) => b.append_value(*v),
            (ColumnBuilder::Text(b), _) => b.append_null(),
            (ColumnBuilder::Integer(b), _) => b.append_null(),
            (ColumnBuilder::Number(b), _) => b.append_null(),
            (ColumnBuilder::Date(b), _) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Integer(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Number(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Date(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Where one field's value comes from in the current file.
#[derive(Debug, Clone)]
enum Src {
    /// 0-based position in the record, and the header as written.
    Column(usize, String),
    Value(String),
    Derived(Derivation),
    Absent,
}

#[derive(Debug, Clone)]
struct FieldPlan {
    name: &'static str,
    ty: ColumnType,
    required: bool,
    src: Src,
    rule: FieldRule,
    date: DateFormat,
    number: NumberFormat,
}

/// Positions of the fields the entity rules look at.
#[derive(Debug, Default, Clone, Copy)]
struct Roles {
    id: Option<usize>,
    deal_id: Option<usize>,
    stage: Option<usize>,
    outcome: Option<usize>,
    forecast_category: Option<usize>,
    amount: Option<usize>,
    currency: Option<usize>,
    created: Option<usize>,
    close_date: Option<usize>,
    closed_date: Option<usize>,
    employees: Option<usize>,
    account_id: Option<usize>,
    list_price: Option<usize>,
    quota: Option<usize>,
    entered: Option<usize>,
    exited: Option<usize>,
}

fn normalize_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

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

/// Reads one entity from one or more sources into one table.
pub struct TableReader<'m> {
    entity: Entity,
    /// The current source's mapping.
    mapping: Option<&'m Mapping>,
    plans: Vec<FieldPlan>,
    side: HashMap<&'static str, FieldPlan>,
    roles: Roles,
    header_len: usize,
    builders: Vec<ColumnBuilder>,
    /// Ids loaded so far → where (file, line), across every source of the entity.
    seen: HashMap<Box<str>, (Arc<str>, u64)>,
    /// (deal, day) pairs loaded so far, for interval history.
    seen_days: HashSet<(Box<str>, i32)>,
    /// Change events, when the history source has no `exited_at`.
    events: Vec<(Interval, u64)>,
    events_mode: bool,
    load: Option<FileLoad>,
    file_label: Arc<str>,
    /// Account id → name, from deals' `account_name`.
    pub account_names: HashMap<String, String>,
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
            side: HashMap::new(),
            roles: Roles::default(),
            header_len: 0,
            builders: entity
                .columns()
                .iter()
                .map(|c| ColumnBuilder::new(c.ty))
                .collect(),
            seen: HashMap::new(),
            seen_days: HashSet::new(),
            events: Vec::new(),
            events_mode: false,
            load: None,
            file_label: Arc::from(""),
            account_names: HashMap::new(),
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
                _ => match wanted
                    .iter()
                    .find_map(|w| normalized.iter().position(|h| *h == normalize_header(w)))
                {
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
        for c in self.entity.columns() {
            // A deal's outcome follows from its stage when not given.
            let derivable = self.entity == Entity::Deals && c.name == "outcome";
            plans.push(plan_field(c.name, c.ty, c.required && !derivable)?);
        }
        let mut side = HashMap::new();
        for name in super::mapping::side_fields(self.entity) {
            let p = plan_field(name, ColumnType::Text, false)?;
            if !matches!(p.src, Src::Absent) {
                side.insert(*name, p);
            }
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
        self.file_label = Arc::from(path.display().to_string());
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
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(self.plans.len());
        for plan in &self.plans {
            match read_field(plan, record, ctx) {
                Ok(cell) => cells.push(cell),
                Err((value, reason)) => {
                    load.rejected.push(reject(Some(plan.name), value, reason));
                    return false;
                }
            }
        }
        let mut side: [Option<&str>; 2] = [None, None];
        for (slot, name) in ["account_name", "pipeline"].iter().enumerate() {
            if let Some(plan) = self.side.get(name) {
                match read_field(plan, record, ctx) {
                    Ok(cell) => side[slot] = cell.text(),
                    Err((value, reason)) => {
                        load.rejected.push(reject(Some(plan.name), value, reason));
                        return false;
                    }
                }
            }
        }
        if let Err((field, reason)) = derive(&self.plans, &mut cells, ctx) {
            load.rejected.push(reject(Some(field), None, reason));
            return false;
        }
        let mapping = self.mapping.expect("begin() was called");
        let stage = match apply_rules(
            self.entity,
            &self.roles,
            mapping,
            &mut self.stage_memo,
            &mut cells,
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
        if let Some(i) = self.roles.id {
            let id = cells[i].text().unwrap_or_default();
            if let Some((file, first)) = self.seen.get(id) {
                let at = if **file == *self.file_label {
                    format!("line {first}")
                } else {
                    format!("{file}:{first}")
                };
                let r = reject(
                    Some(self.plans[i].name),
                    Some(id.as_bytes()),
                    format!(
                        "duplicate {} `{id}`: already loaded from {at}",
                        self.plans[i].name
                    ),
                );
                load.rejected.push(r);
                return false;
            }
            self.seen
                .insert(Box::from(id), (self.file_label.clone(), line));
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
                        udfs::time::days_to_date(entered)
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
                self.account_names
                    .entry(acc.to_string())
                    .or_insert_with(|| name.to_string());
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
        for (builder, cell) in self.builders.iter_mut().zip(&cells) {
            builder.append(cell);
        }
        load.rows_loaded += 1;
        true
    }

    /// Ends the current source and returns its report.
    pub fn end(&mut self) -> FileLoad {
        self.load.take().expect("begin() was called")
    }

    /// The table of every source read, and how many same-day change events
    /// a later one replaced (history read from events only).
    pub fn finish(mut self) -> Result<(RecordBatch, u64), SourceError> {
        if self.events_mode || !self.events.is_empty() {
            let (rows, folded) = history::events_to_intervals(std::mem::take(&mut self.events));
            return Ok((history::to_batch(&rows), folded));
        }
        let arrays: Vec<ArrayRef> = self
            .builders
            .into_iter()
            .map(ColumnBuilder::finish)
            .collect();
        let batch = RecordBatch::try_new(self.entity.schema(), arrays).map_err(|source| {
            SourceError::Arrow {
                table: self.entity.table().to_string(),
                source,
            }
        })?;
        Ok((batch, 0))
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

type FieldError<'a> = (Option<&'a [u8]>, String);

/// Reads, cleans and parses one field.
fn read_field<'a>(
    plan: &'a FieldPlan,
    record: &'a csv::ByteRecord,
    ctx: &ReadContext<'_>,
) -> Result<Cell<'a>, FieldError<'a>> {
    let (raw, col): (&'a [u8], Option<(usize, &'a str)>) = match &plan.src {
        Src::Column(i, header) => (record.get(*i).unwrap_or(b""), Some((*i, header.as_str()))),
        Src::Value(v) => (v.as_bytes(), None),
        Src::Derived(_) => return Ok(Cell::Null),
        Src::Absent => (b"", None),
    };
    let text = match std::str::from_utf8(raw) {
        Ok(t) => t.trim(),
        Err(e) => {
            return Err((
                Some(raw),
                format!(
                    "not valid UTF-8 (byte {} of the field)",
                    e.valid_up_to() + 1
                ),
            ))
        }
    };
    let text = match plan.rule.replace.get(text) {
        Some(to) => to.as_str(),
        None => text,
    };
    if text.is_empty() {
        return match &plan.rule.if_blank {
            Some(Blank::AsOf) => match (plan.ty, ctx.as_of) {
                (ColumnType::Date, Some(d)) => Ok(Cell::Date(date_to_days(d))),
                (ColumnType::Text, Some(_)) => Ok(Cell::Null),
                _ => Err((
                    None,
                    "blank, and `if_blank = \"as_of\"` needs an as-of date (set `as_of` in revintel.toml)".into(),
                )),
            },
            Some(Blank::Value(v)) => parse_cell(plan, v).map_err(|reason| (None, reason)),
            None if plan.required => Err((None, "required value is empty".into())),
            None => Ok(Cell::Null),
        };
    }
    parse_cell(plan, text).map_err(|reason| {
        let at = match col {
            Some((i, h)) if h != plan.name => {
                format!("column {} (`{h}`): ", i + 1)
            }
            Some((i, _)) => format!("column {}: ", i + 1),
            None => String::new(),
        };
        (Some(raw), format!("{at}{reason}"))
    })
}

fn parse_cell<'a>(plan: &FieldPlan, text: &'a str) -> Result<Cell<'a>, String> {
    let scale = plan.rule.scale.unwrap_or(1.0);
    match plan.ty {
        ColumnType::Text => Ok(Cell::Text(text)),
        ColumnType::Integer => {
            if let Ok(v) = text.parse::<i64>() {
                return Ok(Cell::Integer(v));
            }
            match plan.number.parse(text).map(|v| v * scale) {
                Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Cell::Integer(v as i64)),
                _ => Err(format!("expected a whole number, found `{text}`")),
            }
        }
        ColumnType::Number => plan
            .number
            .parse(text)
            .map(|v| Cell::Number(v * scale))
            .ok_or_else(|| format!("expected {}, found `{text}`", plan.number.describe())),
        ColumnType::Date => plan
            .date
            .parse(text)
            .map(|d| Cell::Date(date_to_days(d)))
            .ok_or_else(|| format!("expected {}, found `{text}`", plan.date.describe())),
    }
}

/// Fills derived fields.
fn derive<'a>(
    plans: &[FieldPlan],
    cells: &mut [Cell<'a>],
    ctx: &ReadContext<'_>,
) -> Result<(), (&'static str, String)> {
    for (i, plan) in plans.iter().enumerate() {
        let Src::Derived(d) = &plan.src else { continue };
        let find = |name: &str| plans.iter().position(|p| p.name == name);
        cells[i] = match d {
            Derivation::ProductListPrice => {
                let product = find("product_id").and_then(|j| cells[j].text());
                let Some(product) = product else {
                    return Err((
                        plan.name,
                        "derived from the product's list price, but the deal has no product".into(),
                    ));
                };
                match ctx.list_prices.and_then(|m| m.get(product)) {
                    Some(p) => Cell::Number(*p),
                    None => {
                        return Err((
                            plan.name,
                            format!("derived from the product's list price, but product `{product}` has none (not in products)"),
                        ))
                    }
                }
            }
            Derivation::SegmentFromEmployees => {
                match find("employees").and_then(|j| cells[j].number()) {
                    Some(n) if n < 200.0 => Cell::Text("SMB"),
                    Some(n) if n < 2000.0 => Cell::Text("Mid-Market"),
                    Some(_) => Cell::Text("Enterprise"),
                    None => Cell::Null,
                }
            }
        };
    }
    Ok(())
}

type RuleError = (Option<&'static str>, String);

/// The entity's own rules; returns the canonical stage for deals and history.
/// Stage names already resolved, with their pipeline: exports repeat a
/// handful of names a million times, and resolving one allocates.
type StageMemo = Vec<(Box<str>, Option<Box<str>>, Option<CanonicalStage>)>;

fn resolve_stage(
    memo: &mut StageMemo,
    mapping: &Mapping,
    raw: &str,
    pipeline: Option<&str>,
) -> Option<CanonicalStage> {
    if let Some((_, _, s)) = memo
        .iter()
        .find(|(r, p, _)| **r == *raw && p.as_deref() == pipeline)
    {
        return *s;
    }
    let s = mapping.stages.resolve(raw, pipeline);
    if memo.len() < 256 {
        memo.push((raw.into(), pipeline.map(Into::into), s));
    }
    s
}

fn apply_rules<'a>(
    entity: Entity,
    r: &Roles,
    mapping: &'a Mapping,
    memo: &mut StageMemo,
    cells: &mut [Cell<'a>],
    pipeline: Option<&str>,
) -> Result<Option<CanonicalStage>, RuleError> {
    let negative =
        |i: Option<usize>, cells: &[Cell<'_>], what: &'static str| -> Result<(), RuleError> {
            match i.and_then(|i| cells[i].number()) {
                Some(v) if v < 0.0 => Err((Some(what), format!("negative {what} {v}"))),
                _ => Ok(()),
            }
        };
    match entity {
        Entity::Deals | Entity::StageHistory => {
            let si = r.stage.expect("deals and history have a stage");
            let raw = cells[si].text().unwrap_or_default();
            let stage = resolve_stage(memo, mapping, raw, pipeline).ok_or_else(|| {
                (
                    Some("stage"),
                    format!(
                        "unknown stage `{raw}`; the mapping knows: {}",
                        mapping.stages.known()
                    ),
                )
            })?;
            cells[si] = Cell::Text(stage.name);
            if let Some(fc) = r.forecast_category {
                cells[fc] = match cells[fc].text() {
                    None => Cell::Text(stage.forecast_category()),
                    Some(t) => Cell::Text(match t {
                        "BestCase" => "Best Case",
                        "Forecast" => "Commit",
                        "MostLikely" => "Most Likely",
                        other => other,
                    }),
                };
            }
            negative(r.amount, cells, "amount")?;
            if entity == Entity::StageHistory {
                let (entered, exited) = (
                    r.entered.and_then(|i| cells[i].date()),
                    r.exited.and_then(|i| cells[i].date()),
                );
                if let (Some(a), Some(b)) = (entered, exited) {
                    if b < a {
                        return Err((Some("exited_at"), "exited before it was entered".into()));
                    }
                }
                return Ok(Some(stage));
            }
            if let Some(oi) = r.outcome {
                match cells[oi].text() {
                    None => cells[oi] = Cell::Text(stage.outcome.as_str()),
                    Some(t) => match Outcome::parse(t) {
                        Some(o) if o == stage.outcome => cells[oi] = Cell::Text(o.as_str()),
                        Some(o) => {
                            return Err((
                                Some("outcome"),
                                format!(
                                    "outcome `{}` contradicts stage `{raw}` ({})",
                                    o.as_str(),
                                    stage.outcome.as_str()
                                ),
                            ))
                        }
                        None => {
                            return Err((
                                Some("outcome"),
                                format!("outcome `{t}` must be open, won or lost"),
                            ))
                        }
                    },
                }
            }
            if let Some(ci) = r.currency {
                if matches!(cells[ci], Cell::Null) {
                    if let Some(c) = &mapping.formats.currency {
                        cells[ci] = Cell::Text(c.as_str());
                    }
                }
            }
            let (cd, xd) = (r.close_date.expect("deals"), r.closed_date.expect("deals"));
            if stage.outcome == Outcome::Open {
                if let Some(d) = cells[xd].date() {
                    return Err((
                        Some("closed_date"),
                        format!(
                            "an open deal cannot have closed on {}",
                            udfs::time::days_to_date(d)
                        ),
                    ));
                }
            } else {
                // A closed deal's close date is when it closed.
                match (cells[cd].date(), cells[xd].date()) {
                    (Some(d), None) => cells[xd] = Cell::Date(d),
                    (None, Some(d)) => cells[cd] = Cell::Date(d),
                    (None, None) => {
                        return Err((
                            Some("closed_date"),
                            format!("a {} deal needs the date it closed", stage.outcome.as_str()),
                        ))
                    }
                    _ => {}
                }
            }
            let created = r.created.and_then(|i| cells[i].date());
            for (i, name) in [(xd, "closed_date"), (cd, "close_date")] {
                if let (Some(c), Some(d)) = (created, cells[i].date()) {
                    if d < c {
                        return Err((
                            Some(name),
                            format!(
                                "{} {} is before the created date {}",
                                if name == "closed_date" {
                                    "closed on"
                                } else {
                                    "close date"
                                },
                                udfs::time::days_to_date(d),
                                udfs::time::days_to_date(c)
                            ),
                        ));
                    }
                }
            }
            Ok(Some(stage))
        }
        Entity::Products => negative(r.list_price, cells, "list_price").map(|_| None),
        Entity::Reps => negative(r.quota, cells, "quota").map(|_| None),
        Entity::Accounts => negative(r.employees, cells, "employees").map(|_| None),
    }
}
