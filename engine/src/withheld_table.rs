//! A table that is there but refuses to be read, saying why: the scores of
//! a model the leak guard withheld (see `ml::leaks`). Its columns are the
//! real table's, so a query plans as usual and fails only when it reads,
//! with the reason and how to accept the model — never with a confusing
//! "no such column".

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

/// A table with `schema` whose every read fails with `reason`.
#[derive(Debug)]
pub struct WithheldTable {
    schema: SchemaRef,
    reason: String,
}

impl WithheldTable {
    pub fn new(schema: SchemaRef, reason: String) -> WithheldTable {
        WithheldTable { schema, reason }
    }
}

#[async_trait]
impl TableProvider for WithheldTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Plan(self.reason.clone()))
    }
}
