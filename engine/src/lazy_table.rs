//! A table computed on first read, then kept: for derived tables that are
//! costly to make and often not read at all (a live rebuild of a report
//! that does not read them should not pay for them), and for views over
//! data that never changes (a PostgreSQL endpoint's snapshot), whose rows
//! every query would otherwise compute again.
//!
//! Concurrent first readers wait for one computation rather than each
//! making the rows; a computation that fails or is dropped half-way keeps
//! nothing, and the next reader starts again.

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::{collect, ExecutionPlan};
use std::sync::Arc;
use tokio::sync::OnceCell;

type MakeBatch = Box<dyn Fn() -> Result<RecordBatch> + Send + Sync>;

/// How the rows are made.
enum Make {
    /// By a function.
    Batch(MakeBatch),
    /// By running a view's plan under the reading query's session (its
    /// memory pool, cancel and timeout).
    Plan(LogicalPlan),
}

/// A table whose rows are made the first time it is scanned, then kept.
pub struct LazyTable {
    schema: SchemaRef,
    make: Make,
    table_type: TableType,
    rows: OnceCell<Arc<MemTable>>,
}

impl LazyTable {
    /// A table of the one batch `make` returns.
    pub fn new(schema: SchemaRef, make: MakeBatch) -> LazyTable {
        LazyTable {
            schema,
            make: Make::Batch(make),
            table_type: TableType::Base,
            rows: OnceCell::new(),
        }
    }

    /// `view`'s rows, kept; `None` when it is not a view (it has no plan).
    pub fn of_view(view: &dyn TableProvider) -> Option<LazyTable> {
        Some(LazyTable {
            make: Make::Plan(view.get_logical_plan()?.into_owned()),
            schema: view.schema(),
            table_type: TableType::View,
            rows: OnceCell::new(),
        })
    }

    /// Makes the rows now unless they are kept already (or being made:
    /// then this waits for that).
    pub async fn fill(&self, state: &dyn Session) -> Result<()> {
        self.rows(state).await.map(|_| ())
    }

    async fn rows(&self, state: &dyn Session) -> Result<Arc<MemTable>> {
        self.rows
            .get_or_try_init(|| async {
                let batches = match &self.make {
                    Make::Batch(make) => vec![make()?],
                    Make::Plan(plan) => {
                        collect(state.create_physical_plan(plan).await?, state.task_ctx()).await?
                    }
                };
                Ok::<_, DataFusionError>(Arc::new(MemTable::try_new(
                    self.schema.clone(),
                    vec![batches],
                )?))
            })
            .await
            .cloned()
    }
}

impl std::fmt::Debug for LazyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LazyTable(made: {})", self.rows.initialized())
    }
}

#[async_trait]
impl TableProvider for LazyTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        self.table_type
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.rows(state)
            .await?
            .scan(state, projection, filters, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::catalog::view::ViewTable;
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

    /// A view kept: computed by the first read only, and every read answers
    /// as the view itself does.
    #[tokio::test]
    async fn a_view_kept_answers_like_the_view() {
        let ctx = SessionContext::new();
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3, 4]))],
        )
        .unwrap();
        ctx.register_batch("t", batch).unwrap();
        let plan = ctx
            .state()
            .create_logical_plan("SELECT x * 10 AS y FROM t WHERE x > 1")
            .await
            .unwrap();
        let view = ViewTable::new(plan, None);
        let kept = Arc::new(LazyTable::of_view(&view).expect("a view has a plan"));
        assert!(!kept.rows.initialized(), "nothing computed before a read");
        ctx.register_table("v", kept.clone()).unwrap();
        let sum = |ctx: SessionContext| async move {
            let rows = ctx
                .sql("SELECT sum(y) AS s, count(*) AS n FROM v WHERE y < 40")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            datafusion::arrow::util::pretty::pretty_format_batches(&rows)
                .unwrap()
                .to_string()
        };
        let first = sum(ctx.clone()).await;
        assert!(first.contains("| 50 | 2 |"), "{first}");
        assert!(kept.rows.initialized(), "kept after the first read");
        assert_eq!(sum(ctx.clone()).await, first);
        // Not a view: nothing to keep.
        let table = MemTable::try_new(schema, vec![vec![]]).unwrap();
        assert!(LazyTable::of_view(&table).is_none());
    }
}
