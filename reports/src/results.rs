//! Query results as plain values, ready for templates.
//!
//! The engine runs a template's SQL and hands over Arrow record batches;
//! [`QueryResult::from_batches`] turns them, a whole column at a time, into
//! rows of [`CellValue`]s: integers, floats (decimals included), text,
//! booleans, dates, timestamps, lists and structs, with NULL kept as
//! [`CellValue::Null`]. That is the one conversion from Arrow in this crate;
//! templates and components only ever see `CellValue`s (through
//! [`ResultObject`] and [`RowObject`], the minijinja views of a result).
//!
//! Deliberately not here: formatting for display (see `filters`), and any
//! notion of which query a result came from.

use std::fmt;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, OffsetSizeTrait};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float64Type, Int64Type, Schema, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use minijinja::value::{Enumerator, Object, ObjectExt, ObjectRepr};
use minijinja::Value;

/// Why batches could not be turned into a [`QueryResult`].
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// The batches do not all have the same columns.
    #[error("batch {index} has columns ({found}) but the first has ({expected})")]
    SchemaMismatch {
        index: usize,
        expected: String,
        found: String,
    },
    /// Arrow could not convert a column.
    #[error("column {column:?}: {source}")]
    Arrow {
        column: String,
        #[source]
        source: ArrowError,
    },
}

/// One value of a result cell.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    /// SQL NULL.
    Null,
    Bool(bool),
    /// Any integer type (unsigned values above `i64::MAX` become [`CellValue::Float`]).
    Int(i64),
    /// Floats and decimals.
    Float(f64),
    /// Strings of every Arrow flavour, and types without a closer match,
    /// as Arrow displays them.
    Text(String),
    Date(NaiveDate),
    /// A timestamp; with a time zone it is the UTC instant (`utc == true`).
    Timestamp {
        at: NaiveDateTime,
        utc: bool,
    },
    List(Vec<CellValue>),
    /// A struct (or map entry) with its fields in schema order.
    Struct(Vec<(String, CellValue)>),
}

/// The broad kind of a column, for alignment and chart checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Number,
    Text,
    Bool,
    Date,
    Timestamp,
    List,
    Struct,
    Other,
}

/// A query's result: column names, their kinds, and rows of values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    /// Column names in select-list order.
    pub columns: Vec<String>,
    /// The kind of each column, from the Arrow schema.
    pub kinds: Vec<ColumnKind>,
    /// The rows; each has one value per column.
    pub rows: Vec<Vec<CellValue>>,
}

impl QueryResult {
    /// Converts record batches (all with the same schema). No batches gives
    /// an empty result without columns: use [`QueryResult::from_schema_and_batches`]
    /// to keep the columns of a query that returned nothing.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<QueryResult, ResultError> {
        match batches.first() {
            Some(first) => Self::from_schema_and_batches(&first.schema(), batches),
            None => Ok(QueryResult::default()),
        }
    }

    /// Converts record batches with the given schema (which may be no batches at all).
    pub fn from_schema_and_batches(
        schema: &Schema,
        batches: &[RecordBatch],
    ) -> Result<QueryResult, ResultError> {
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let kinds = schema
            .fields()
            .iter()
            .map(|f| column_kind(f.data_type()))
            .collect();
        let mut rows: Vec<Vec<CellValue>> = Vec::new();
        for (index, batch) in batches.iter().enumerate() {
            let names: Vec<&String> = batch
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name())
                .collect();
            if names.len() != columns.len() || names.iter().zip(&columns).any(|(a, b)| *a != b) {
                return Err(ResultError::SchemaMismatch {
                    index,
                    expected: columns.join(", "),
                    found: names
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            let converted = batch
                .columns()
                .iter()
                .zip(&columns)
                .map(|(array, name)| {
                    array_values(array.as_ref()).map_err(|source| ResultError::Arrow {
                        column: name.clone(),
                        source,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let start = rows.len();
            rows.extend((0..batch.num_rows()).map(|_| Vec::with_capacity(columns.len())));
            for column in converted {
                for (row, value) in rows[start..].iter_mut().zip(column) {
                    row.push(value);
                }
            }
        }
        Ok(QueryResult {
            columns,
            kinds,
            rows,
        })
    }

    /// The position of a column, by exact name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The number of rows.
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }
}

fn column_kind(data_type: &DataType) -> ColumnKind {
    match data_type {
        t if t.is_numeric() => ColumnKind::Number,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnKind::Text,
        DataType::Boolean => ColumnKind::Bool,
        DataType::Date32 | DataType::Date64 => ColumnKind::Date,
        DataType::Timestamp(..) => ColumnKind::Timestamp,
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(..)
        | DataType::Map(..) => ColumnKind::List,
        DataType::Struct(_) => ColumnKind::Struct,
        DataType::Dictionary(_, value) => column_kind(value),
        _ => ColumnKind::Other,
    }
}

fn strict_cast(array: &dyn Array, to: &DataType) -> Result<ArrayRef, ArrowError> {
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(array, to, &options)
}

/// Converts a whole Arrow array to values, one per row.
fn array_values(array: &dyn Array) -> Result<Vec<CellValue>, ArrowError> {
    let len = array.len();
    let nulls = |values: Vec<CellValue>| -> Vec<CellValue> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| if array.is_null(i) { CellValue::Null } else { v })
            .collect()
    };
    Ok(match array.data_type() {
        DataType::Null => vec![CellValue::Null; len],
        DataType::Boolean => array
            .as_boolean()
            .iter()
            .map(|v| v.map_or(CellValue::Null, CellValue::Bool))
            .collect(),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => ints(&strict_cast(array, &DataType::Int64)?),
        // A u64 above i64::MAX does not fit: fall back to floats for the column.
        DataType::UInt64 => match strict_cast(array, &DataType::Int64) {
            Ok(ints_array) => ints(&ints_array),
            Err(_) => floats(&strict_cast(array, &DataType::Float64)?),
        },
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            floats(&strict_cast(array, &DataType::Float64)?)
        }
        DataType::Decimal32(_, scale)
        | DataType::Decimal64(_, scale)
        | DataType::Decimal128(_, scale)
        | DataType::Decimal256(_, scale) => {
            // Whole-number decimals stay exact integers when they fit.
            let as_ints = (*scale <= 0)
                .then(|| strict_cast(array, &DataType::Int64).ok())
                .flatten();
            match as_ints {
                Some(a) => ints(&a),
                None => floats(&strict_cast(array, &DataType::Float64)?),
            }
        }
        DataType::Utf8 => texts(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => texts(array.as_string::<i64>().iter()),
        DataType::Utf8View => texts(array.as_string_view().iter()),
        DataType::Date32 => array
            .as_primitive::<Date32Type>()
            .iter()
            .map(|v| {
                v.and_then(|d| {
                    datafusion::arrow::temporal_conversions::as_date::<Date32Type>(d as i64)
                })
                .map_or(CellValue::Null, CellValue::Date)
            })
            .collect(),
        DataType::Date64 => array
            .as_primitive::<Date64Type>()
            .iter()
            .map(|v| {
                v.and_then(datafusion::arrow::temporal_conversions::as_date::<Date64Type>)
                    .map_or(CellValue::Null, CellValue::Date)
            })
            .collect(),
        DataType::Timestamp(unit, tz) => {
            let utc = tz.is_some();
            let at = |v: Option<NaiveDateTime>| {
                v.map_or(CellValue::Null, |at| CellValue::Timestamp { at, utc })
            };
            use datafusion::arrow::temporal_conversions::as_datetime;
            match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .iter()
                    .map(|v| at(v.and_then(as_datetime::<TimestampSecondType>)))
                    .collect(),
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .iter()
                    .map(|v| at(v.and_then(as_datetime::<TimestampMillisecondType>)))
                    .collect(),
                TimeUnit::Microsecond => array
                    .as_primitive::<TimestampMicrosecondType>()
                    .iter()
                    .map(|v| at(v.and_then(as_datetime::<TimestampMicrosecondType>)))
                    .collect(),
                TimeUnit::Nanosecond => array
                    .as_primitive::<TimestampNanosecondType>()
                    .iter()
                    .map(|v| at(v.and_then(as_datetime::<TimestampNanosecondType>)))
                    .collect(),
            }
        }
        DataType::List(_) => lists(array.as_list::<i32>())?,
        DataType::LargeList(_) => lists(array.as_list::<i64>())?,
        DataType::FixedSizeList(_, size) => {
            let list = array.as_fixed_size_list();
            let size = (*size).max(0) as usize;
            let mut items = array_values(list.values().as_ref())?.into_iter();
            // Child values start at the list's own offset (the list may be a slice).
            let skip = list.offset() * size;
            for _ in 0..skip {
                items.next();
            }
            nulls(
                (0..len)
                    .map(|_| CellValue::List(items.by_ref().take(size).collect()))
                    .collect(),
            )
        }
        DataType::Struct(fields) => {
            let structs = array.as_struct();
            let children = structs
                .columns()
                .iter()
                .map(|c| array_values(c.as_ref()))
                .collect::<Result<Vec<_>, _>>()?;
            nulls(
                (0..len)
                    .map(|i| {
                        CellValue::Struct(
                            fields
                                .iter()
                                .zip(&children)
                                .map(|(f, values)| (f.name().clone(), values[i].clone()))
                                .collect(),
                        )
                    })
                    .collect(),
            )
        }
        DataType::Map(..) => {
            let map = array.as_map();
            let entries = array_values(map.entries())?;
            let offsets = map.value_offsets();
            nulls(
                (0..len)
                    .map(|i| {
                        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                        CellValue::List(entries[start..end].to_vec())
                    })
                    .collect(),
            )
        }
        DataType::Dictionary(_, value_type) => {
            array_values(strict_cast(array, value_type.as_ref())?.as_ref())?
        }
        _ => {
            let formatter = ArrayFormatter::try_new(array, &FormatOptions::default())?;
            nulls(
                (0..len)
                    .map(|i| CellValue::Text(formatter.value(i).to_string()))
                    .collect(),
            )
        }
    })
}

fn ints(array: &ArrayRef) -> Vec<CellValue> {
    array
        .as_primitive::<Int64Type>()
        .iter()
        .map(|v| v.map_or(CellValue::Null, CellValue::Int))
        .collect()
}

fn floats(array: &ArrayRef) -> Vec<CellValue> {
    array
        .as_primitive::<Float64Type>()
        .iter()
        .map(|v| v.map_or(CellValue::Null, CellValue::Float))
        .collect()
}

fn texts<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Vec<CellValue> {
    values
        .map(|v| v.map_or(CellValue::Null, |s| CellValue::Text(s.to_string())))
        .collect()
}

fn lists<O: OffsetSizeTrait>(
    list: &datafusion::arrow::array::GenericListArray<O>,
) -> Result<Vec<CellValue>, ArrowError> {
    // Convert the child array once; offsets index into it directly.
    let items = array_values(list.values().as_ref())?;
    let offsets = list.value_offsets();
    Ok((0..list.len())
        .map(|i| {
            if list.is_null(i) {
                CellValue::Null
            } else {
                let (start, end) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
                CellValue::List(items[start..end].to_vec())
            }
        })
        .collect())
}

impl CellValue {
    /// The value as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            CellValue::Int(i) => Some(*i as f64),
            CellValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value for a template: numbers stay numbers, dates become
    /// `YYYY-MM-DD` strings, timestamps ISO 8601 strings (`Z` when UTC),
    /// lists sequences and structs maps.
    pub fn to_template_value(&self) -> Value {
        match self {
            CellValue::Null => Value::from(()),
            CellValue::Bool(b) => Value::from(*b),
            CellValue::Int(i) => Value::from(*i),
            CellValue::Float(f) => Value::from(*f),
            CellValue::Text(s) => Value::from(s.as_str()),
            CellValue::Date(_) | CellValue::Timestamp { .. } => Value::from(self.to_string()),
            CellValue::List(items) => Value::from(
                items
                    .iter()
                    .map(|v| v.to_template_value())
                    .collect::<Vec<_>>(),
            ),
            CellValue::Struct(fields) => Value::from_object(RowObject {
                columns: Arc::new(fields.iter().map(|(k, _)| k.clone()).collect()),
                values: fields.iter().map(|(_, v)| v.to_template_value()).collect(),
            }),
        }
    }
}

/// Plain text: NULL is empty, dates ISO, lists joined with "; ".
impl fmt::Display for CellValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CellValue::Null => Ok(()),
            CellValue::Bool(b) => write!(f, "{b}"),
            CellValue::Int(i) => write!(f, "{i}"),
            CellValue::Float(x) => write!(f, "{x}"),
            CellValue::Text(s) => f.write_str(s),
            CellValue::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            CellValue::Timestamp { at, utc } => {
                write!(f, "{}", at.format("%Y-%m-%dT%H:%M:%S%.f"))?;
                if *utc {
                    f.write_str("Z")?;
                }
                Ok(())
            }
            CellValue::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
            CellValue::Struct(fields) => {
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                Ok(())
            }
        }
    }
}

/// A query result as templates see it: `.rows`, `.columns`, `.row_count`.
/// Components downcast to it to reach the typed values. Rows are turned
/// into template values only when a template reads them.
#[derive(Debug)]
pub struct ResultObject {
    /// The query name, for messages.
    pub name: String,
    /// The result itself.
    pub result: Arc<QueryResult>,
    columns: Arc<Vec<String>>,
}

impl ResultObject {
    /// Wraps a result for a template; `name` is the query's name.
    pub fn new(name: &str, result: Arc<QueryResult>) -> ResultObject {
        ResultObject {
            name: name.to_string(),
            columns: Arc::new(result.columns.clone()),
            result,
        }
    }

    /// The template value for row `index`, if there is one.
    pub fn row(&self, index: usize) -> Option<Value> {
        row_value(&self.columns, self.result.rows.get(index)?)
    }

    fn rows(&self) -> Value {
        Value::from_object(RowsObject {
            result: self.result.clone(),
            columns: self.columns.clone(),
        })
    }
}

fn row_value(columns: &Arc<Vec<String>>, row: &[CellValue]) -> Option<Value> {
    Some(Value::from_object(RowObject {
        columns: columns.clone(),
        values: row.iter().map(|v| v.to_template_value()).collect(),
    }))
}

impl Object for ResultObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "rows" => Some(self.rows()),
            "columns" => Some(Value::from(self.result.columns.clone())),
            "row_count" => Some(Value::from(self.result.rows.len())),
            "name" => Some(Value::from(self.name.as_str())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["rows", "columns", "row_count", "name"])
    }
}

/// The `.rows` of a result: a sequence whose items are made on access.
#[derive(Debug)]
struct RowsObject {
    result: Arc<QueryResult>,
    columns: Arc<Vec<String>>,
}

impl Object for RowsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let index = usize::try_from(key.clone()).ok()?;
        row_value(&self.columns, self.result.rows.get(index)?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.result.rows.len())
    }
}

/// One row (or struct): a map from column name to value, in column order.
#[derive(Debug)]
pub struct RowObject {
    columns: Arc<Vec<String>>,
    values: Vec<Value>,
}

impl Object for RowObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        let i = self.columns.iter().position(|c| c == key)?;
        self.values.get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.mapped_enumerator(|this| {
            Box::new(this.columns.iter().map(|c| Value::from(c.as_str())))
        })
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.columns.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int32Array,
        Int64Array, LargeStringArray, ListBuilder, StringArray, StringBuilder, StringViewArray,
        StructArray, TimestampMicrosecondArray, UInt64Array,
    };
    use datafusion::arrow::datatypes::{Field, Fields};

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).expect("test batch")
    }

    #[test]
    fn converts_scalar_types_and_nulls() {
        let b = batch(vec![
            (
                "i",
                Arc::new(Int32Array::from(vec![Some(7), None])) as ArrayRef,
            ),
            (
                "big",
                Arc::new(Int64Array::from(vec![Some(-5_000_000_000), Some(1)])),
            ),
            ("u", Arc::new(UInt64Array::from(vec![Some(3), None]))),
            ("f32", Arc::new(Float32Array::from(vec![Some(0.5), None]))),
            (
                "f",
                Arc::new(Float64Array::from(vec![Some(1.25), Some(f64::NAN)])),
            ),
            (
                "dec",
                Arc::new(
                    Decimal128Array::from(vec![Some(123_456), None])
                        .with_precision_and_scale(10, 2)
                        .expect("valid decimal"),
                ),
            ),
            (
                "dec0",
                Arc::new(
                    Decimal128Array::from(vec![Some(42), Some(-1)])
                        .with_precision_and_scale(10, 0)
                        .expect("valid decimal"),
                ),
            ),
            ("s", Arc::new(StringArray::from(vec![Some("a|b*c*"), None]))),
            (
                "ls",
                Arc::new(LargeStringArray::from(vec![Some("large"), Some("")])),
            ),
            (
                "sv",
                Arc::new(StringViewArray::from(vec![None, Some("view")])),
            ),
            ("b", Arc::new(BooleanArray::from(vec![Some(true), None]))),
            ("d", Arc::new(Date32Array::from(vec![Some(20_780), None]))),
            (
                "ts",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(1_700_000_000_000_000),
                    None,
                ])),
            ),
            (
                "tsz",
                Arc::new(TimestampMicrosecondArray::from(vec![Some(0), None]).with_timezone("UTC")),
            ),
        ]);
        let r = QueryResult::from_batches(&[b]).expect("converts");
        use CellValue::*;
        assert_eq!(r.columns.len(), 14);
        assert_eq!(r.kinds[0], ColumnKind::Number);
        assert_eq!(r.kinds[7], ColumnKind::Text);
        assert_eq!(r.kinds[11], ColumnKind::Date);
        let row0 = &r.rows[0];
        assert_eq!(row0[0], Int(7));
        assert_eq!(row0[1], Int(-5_000_000_000));
        assert_eq!(row0[2], Int(3));
        assert_eq!(row0[3], Float(0.5));
        assert_eq!(row0[4], Float(1.25));
        assert_eq!(row0[5], Float(1234.56));
        assert_eq!(row0[6], Int(42));
        assert_eq!(row0[7], Text("a|b*c*".into()));
        assert_eq!(row0[8], Text("large".into()));
        assert_eq!(row0[9], Null);
        assert_eq!(row0[10], Bool(true));
        assert_eq!(
            row0[11],
            Date(NaiveDate::from_ymd_opt(2026, 11, 23).expect("date"))
        );
        assert_eq!(row0[12].to_string(), "2023-11-14T22:13:20");
        assert_eq!(row0[13].to_string(), "1970-01-01T00:00:00Z");
        let row1 = &r.rows[1];
        assert!(matches!(row1[4], Float(f) if f.is_nan()));
        for i in [0, 2, 3, 5, 7, 10, 11, 12, 13] {
            assert_eq!(row1[i], Null, "column {}", r.columns[i]);
        }
        assert_eq!(row1[9], Text("view".into()));
        assert_eq!(row1[6], Int(-1));
    }

    #[test]
    fn u64_beyond_i64_becomes_float() {
        let b = batch(vec![(
            "u",
            Arc::new(UInt64Array::from(vec![u64::MAX])) as ArrayRef,
        )]);
        let r = QueryResult::from_batches(&[b]).expect("converts");
        assert_eq!(r.rows[0][0], CellValue::Float(u64::MAX as f64));
    }

    /// The shape of `scored_deals.drivers` and `.actions`.
    #[test]
    fn converts_lists_of_structs_and_strings() {
        let fields = Fields::from(vec![
            Field::new("feature", DataType::Utf8, false),
            Field::new("contribution", DataType::Float64, false),
            Field::new("phrase", DataType::Utf8, false),
            Field::new("action", DataType::Utf8, true),
        ]);
        let structs = StructArray::new(
            fields.clone(),
            vec![
                Arc::new(StringArray::from(vec![
                    "days_in_stage",
                    "amount",
                    "age_days",
                ])),
                Arc::new(Float64Array::from(vec![-0.8, 0.2, -0.1])),
                Arc::new(StringArray::from(vec![
                    "41 days in Proposal",
                    "small deal",
                    "old",
                ])),
                Arc::new(StringArray::from(vec![
                    Some("Agree a next step"),
                    None,
                    None,
                ])),
            ],
            None,
        );
        let item = Arc::new(Field::new("item", DataType::Struct(fields), true));
        let offsets = datafusion::arrow::buffer::OffsetBuffer::new(vec![0i32, 2, 2, 3].into());
        let nulls = datafusion::arrow::buffer::NullBuffer::from(vec![true, false, true]);
        let drivers =
            datafusion::arrow::array::ListArray::new(item, offsets, Arc::new(structs), Some(nulls));
        let mut actions = ListBuilder::new(StringBuilder::new());
        actions.values().append_value("Agree a next step");
        actions.append(true);
        actions.append(true);
        actions.values().append_value("Re-qualify");
        actions.values().append_value("Review");
        actions.append(true);
        let b = batch(vec![
            ("drivers", Arc::new(drivers) as ArrayRef),
            ("actions", Arc::new(actions.finish())),
        ]);
        // Slicing checks that offsets into a shared child array are honoured.
        let r = QueryResult::from_batches(&[b.clone(), b.slice(2, 1)]).expect("converts");
        assert_eq!(r.kinds, vec![ColumnKind::List, ColumnKind::List]);
        use CellValue::*;
        let CellValue::List(first) = &r.rows[0][0] else {
            panic!("drivers is a list: {:?}", r.rows[0][0]);
        };
        assert_eq!(first.len(), 2);
        assert_eq!(
            first[0],
            Struct(vec![
                ("feature".into(), Text("days_in_stage".into())),
                ("contribution".into(), Float(-0.8)),
                ("phrase".into(), Text("41 days in Proposal".into())),
                ("action".into(), Text("Agree a next step".into())),
            ])
        );
        assert_eq!(r.rows[1][0], Null);
        assert_eq!(r.rows[1][1], List(vec![]));
        assert_eq!(
            r.rows[3][1],
            List(vec![Text("Re-qualify".into()), Text("Review".into())])
        );
        let CellValue::List(sliced) = &r.rows[3][0] else {
            panic!("sliced drivers is a list");
        };
        assert_eq!(sliced.len(), 1);
        assert!(sliced[0].to_string().contains("phrase: old"));
        // Through the template view, struct fields are reachable by name.
        let v = r.rows[0][0].to_template_value();
        let phrase = v
            .get_item_by_index(0)
            .and_then(|d| d.get_attr("phrase"))
            .expect("phrase");
        assert_eq!(phrase.as_str(), Some("41 days in Proposal"));
    }

    #[test]
    fn empty_and_mismatched_batches() {
        assert_eq!(
            QueryResult::from_batches(&[]).expect("empty").row_count(),
            0
        );
        let a = batch(vec![("x", Arc::new(Int32Array::from(vec![1])) as ArrayRef)]);
        let b = batch(vec![("y", Arc::new(Int32Array::from(vec![1])) as ArrayRef)]);
        let err = QueryResult::from_batches(&[a.clone(), b]).expect_err("mismatch");
        assert!(err.to_string().contains("batch 1"), "{err}");
        let r = QueryResult::from_schema_and_batches(&a.schema(), &[]).expect("schema only");
        assert_eq!(r.columns, vec!["x".to_string()]);
    }

    #[test]
    fn template_view_has_rows_columns_and_count() {
        let b = batch(vec![
            (
                "deal_id",
                Arc::new(StringArray::from(vec!["D1", "D2"])) as ArrayRef,
            ),
            ("amount", Arc::new(Float64Array::from(vec![10.0, 20.5]))),
        ]);
        let r = Arc::new(QueryResult::from_batches(&[b]).expect("converts"));
        let v = Value::from_object(ResultObject::new("deals", r));
        let env = minijinja::Environment::new();
        let out = env
            .render_str(
                "{{ r.row_count }} {{ r.columns | join(',') }} {% for d in r.rows %}{{ d.deal_id }}={{ d.amount }} {% endfor %}{{ r.rows[0] | list | join(',') }}",
                minijinja::context! { r => v },
            )
            .expect("renders");
        assert_eq!(out, "2 deal_id,amount D1=10.0 D2=20.5 deal_id,amount");
    }
}
