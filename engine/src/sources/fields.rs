//! One field of one record: where it comes from, and how it is cleaned,
//! defaulted, parsed and derived into a typed cell (see [`super::rows`]).

use super::mapping::{Blank, Derivation, FieldRule};
use super::values::{DateFormat, DatesReadAsEmpty, NumberFormat};
use super::ColumnType;
use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use ml::time::date_to_days;
use std::collections::HashMap;
use std::sync::Arc;

/// A validated cell, borrowed from the record or the plan until appended.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cell<'a> {
    Null,
    Text(&'a str),
    Integer(i64),
    Number(f64),
    Date(i32),
}

impl<'a> Cell<'a> {
    pub(super) fn text(&self) -> Option<&'a str> {
        match self {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }
    pub(super) fn date(&self) -> Option<i32> {
        match self {
            Cell::Date(d) => Some(*d),
            _ => None,
        }
    }
    pub(super) fn number(&self) -> Option<f64> {
        match self {
            Cell::Number(v) => Some(*v),
            Cell::Integer(v) => Some(*v as f64),
            _ => None,
        }
    }
}

pub(super) enum ColumnBuilder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Number(Float64Builder),
    Date(Date32Builder),
}

impl ColumnBuilder {
    pub(super) fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Text => ColumnBuilder::Text(StringBuilder::new()),
            ColumnType::Integer => ColumnBuilder::Integer(Int64Builder::new()),
            ColumnType::Number => ColumnBuilder::Number(Float64Builder::new()),
            ColumnType::Date => ColumnBuilder::Date(Date32Builder::new()),
        }
    }

    pub(super) fn append(&mut self, cell: &Cell<'_>) {
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

    pub(super) fn finish(self) -> ArrayRef {
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
pub(super) enum Src {
    /// 0-based position in the record, and the header as written.
    Column(usize, String),
    Value(String),
    Derived(Derivation),
    Absent,
}

/// What a row may need besides its own fields.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadContext<'c> {
    /// For `if_blank = "as_of"`.
    pub as_of: Option<NaiveDate>,
    /// Product id → list price, for `derive = "product_list_price"`.
    pub list_prices: Option<&'c HashMap<String, f64>>,
}

#[derive(Debug, Clone)]
pub(super) struct FieldPlan {
    pub(super) name: &'static str,
    pub(super) ty: ColumnType,
    pub(super) required: bool,
    pub(super) src: Src,
    pub(super) rule: FieldRule,
    pub(super) date: DateFormat,
    pub(super) number: NumberFormat,
}

pub(super) type FieldError<'a> = (Option<&'a [u8]>, String);

/// Reads, cleans and parses one field.
pub(super) fn read_field<'a>(
    plan: &'a FieldPlan,
    record: &'a csv::ByteRecord,
    ctx: &ReadContext<'_>,
    trusted_utf8: bool,
    blanked: &mut DatesReadAsEmpty,
) -> Result<Cell<'a>, FieldError<'a>> {
    let (raw, col): (&'a [u8], Option<(usize, &'a str)>) = match &plan.src {
        Src::Column(i, header) => (record.get(*i).unwrap_or(b""), Some((*i, header.as_str()))),
        Src::Value(v) => (v.as_bytes(), None),
        Src::Derived(_) => return Ok(Cell::Null),
        Src::Absent => (b"", None),
    };
    let checked = if trusted_utf8 {
        // SAFETY: the whole text was valid UTF-8, and a CSV reader only
        // splits it at, and removes, ASCII bytes (delimiters, quotes, line
        // ends), which never occur inside a multi-byte sequence; so every
        // field is valid UTF-8 too. Checking each again cost 6% of an import.
        Ok(unsafe { std::str::from_utf8_unchecked(raw) })
    } else {
        std::str::from_utf8(raw)
    };
    let text = match checked {
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
    // An implausible date where a date is optional (`9999-12-31` for "no
    // end") means no date; where one is required, the row is rejected.
    if plan.ty == ColumnType::Date && !plan.required {
        if let Some(d) = plan.date.parse(text) {
            if super::values::plausible_date(d).is_err() {
                blanked.add(plan.name, text);
                return Ok(Cell::Null);
            }
        }
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
            .ok_or_else(|| format!("expected {}, found `{text}`", plan.date.describe()))
            .and_then(super::values::plausible_date)
            .map(|d| Cell::Date(date_to_days(d))),
    }
}

/// Fills derived fields.
pub(super) fn derive<'a>(
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
