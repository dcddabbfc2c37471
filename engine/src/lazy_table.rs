//! A table computed on first read: for derived tables that are costly to
//! make and often not read at all (a live rebuild of a report that does
//! not read them should not pay for them).

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use std::sync::{Arc, OnceLock};

type Make = Box<dyn Fn() -> Result<RecordBatch> + Send + Sync>;

/// A table whose one batch is made by `make` the first time it is scanned,
/// then kept.
pub struct LazyTable {
    schema: SchemaRef,
    make: Make,
    batch: OnceLock<RecordBatch>,
}

impl LazyTable {
    pub fn new(schema: SchemaRef, make: Make) -> LazyTable {
        LazyTable {
            schema,
            make,
            batch: OnceLock::new(),
        }
    }

    fn batch(&self) -> Result<RecordBatch> {
        if let Some(b) = self.batch.get() {
            return Ok(b.clone());
        }
        let b = (self.make)()?;
        Ok(self.batch.get_or_init(|| b).clone())
    }
}

impl std::fmt::Debug for LazyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LazyTable(made: {})", self.batch.get().is_some())
    }
}

#[async_trait]
impl TableProvider for LazyTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let table = MemTable::try_new(self.schema.clone(), vec![vec![self.batch()?]])?;
        table.scan(state, projection, filters, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::prelude::SessionContext;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn made_once_and_only_when_read() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let made = Arc::new(AtomicUsize::new(0));
        let counter = made.clone();
        let s = schema.clone();
        let table = LazyTable::new(
            schema.clone(),
            Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(RecordBatch::try_new(
                    s.clone(),
                    vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
                )?)
            }),
        );
        let ctx = SessionContext::new();
        ctx.register_table("t", Arc::new(table)).unwrap();
        ctx.sql("SELECT 1").await.unwrap().collect().await.unwrap();
        assert_eq!(made.load(Ordering::SeqCst), 0, "not made before a read");
        for _ in 0..2 {
            let rows = ctx
                .sql("SELECT sum(x) FROM t")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            assert_eq!(rows[0].num_rows(), 1);
        }
        assert_eq!(made.load(Ordering::SeqCst), 1, "made once");
    }
}
