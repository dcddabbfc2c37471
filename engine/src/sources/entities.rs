//! The CRM entities revintel works with and the columns each must carry.
//!
//! This is the one place that knows the canonical table shapes; loaders map
//! their input onto these, and the SQL session registers them under
//! [`Entity::table`]. Column order here is the column order in SQL.

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

/// The value type of a column, as the loaders parse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    /// Money and other decimals, held as `Float64`.
    Number,
    /// A calendar day, held as Arrow `Date32`.
    Date,
}

impl ColumnType {
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::Text => DataType::Utf8,
            ColumnType::Integer => DataType::Int64,
            ColumnType::Number => DataType::Float64,
            ColumnType::Date => DataType::Date32,
        }
    }

    /// How the type is named in messages to users.
    pub fn describe(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Integer => "a whole number",
            ColumnType::Number => "a number",
            ColumnType::Date => "a date (YYYY-MM-DD)",
        }
    }
}

/// One column of an entity.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// A required column must be present in the header and non-empty in every row.
    pub required: bool,
}

const fn req(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        required: true,
    }
}

const fn opt(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        required: false,
    }
}

use ColumnType::{Date, Integer, Number, Text};

const REPS_COLUMNS: &[Column] = &[
    req("rep_id", Text),
    req("name", Text),
    opt("manager", Text),
    opt("team", Text),
    opt("start_date", Date),
    opt("quota", Number),
];

const ACCOUNTS_COLUMNS: &[Column] = &[
    req("account_id", Text),
    req("name", Text),
    opt("sector", Text),
    opt("employees", Integer),
    opt("revenue", Number),
    opt("region", Text),
    opt("segment", Text),
    opt("parent_account_id", Text),
];

const PRODUCTS_COLUMNS: &[Column] = &[
    req("product_id", Text),
    req("name", Text),
    opt("series", Text),
    opt("list_price", Number),
];

const DEALS_COLUMNS: &[Column] = &[
    req("deal_id", Text),
    opt("name", Text),
    opt("account_id", Text),
    req("owner_id", Text),
    opt("product_id", Text),
    opt("amount", Number),
    opt("currency", Text),
    req("stage", Text),
    opt("forecast_category", Text),
    req("created_date", Date),
    opt("close_date", Date),
    opt("closed_date", Date),
    req("outcome", Text),
    opt("lead_source", Text),
    opt("deal_type", Text),
    opt("last_activity_date", Date),
];

const STAGE_HISTORY_COLUMNS: &[Column] = &[
    req("deal_id", Text),
    req("stage", Text),
    req("entered_at", Date),
    opt("exited_at", Date),
    opt("amount", Number),
    opt("close_date", Date),
    opt("forecast_category", Text),
];

/// The entities of a pipeline, in load order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    Reps,
    Accounts,
    Products,
    Deals,
    StageHistory,
}

impl Entity {
    pub const ALL: [Entity; 5] = [
        Entity::Reps,
        Entity::Accounts,
        Entity::Products,
        Entity::Deals,
        Entity::StageHistory,
    ];

    /// The SQL table name.
    pub fn table(self) -> &'static str {
        match self {
            Entity::Reps => "reps",
            Entity::Accounts => "accounts",
            Entity::Products => "products",
            Entity::Deals => "deals",
            Entity::StageHistory => "stage_history",
        }
    }

    /// The file name used for this entity in a data folder such as `seeds/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Entity::Reps => "reps.csv",
            Entity::Accounts => "accounts.csv",
            Entity::Products => "products.csv",
            Entity::Deals => "deals.csv",
            Entity::StageHistory => "stage_history.csv",
        }
    }

    pub fn from_table(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.table() == name)
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Entity::Reps => REPS_COLUMNS,
            Entity::Accounts => ACCOUNTS_COLUMNS,
            Entity::Products => PRODUCTS_COLUMNS,
            Entity::Deals => DEALS_COLUMNS,
            Entity::StageHistory => STAGE_HISTORY_COLUMNS,
        }
    }

    pub fn schema(self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns()
            .iter()
            .map(|c| Field::new(c.name, c.ty.data_type(), !c.required))
            .collect();
        Arc::new(Schema::new(fields))
    }
}
