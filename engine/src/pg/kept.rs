//! Views a snapshot computes once and keeps.
//!
//! A snapshot never changes, so a view over it gives the same rows to every
//! query. `deal_features` is costly (a window over the whole stage history)
//! and is what tools pull whole: serving it from rows kept after the first
//! read makes the next `SELECT * FROM deal_features` a plain table scan, as
//! PostgreSQL would serve a materialised view. The rows are made by the
//! endpoint in the background as soon as a snapshot is published
//! ([`super::snapshot::Snapshot::warm`]), under a query's memory limit; a
//! query arriving before they are ready waits for that work rather than
//! repeating it. Should the background work fail, the first query to read
//! the view makes the rows, under its own memory pool, cancel and timeout.

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::{collect, ExecutionPlan};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The views a snapshot keeps (see the module's documentation).
pub const KEPT_VIEWS: [&str; 1] = ["deal_features"];

/// A view whose rows are computed on the first scan, then kept.
pub struct KeptView {
    plan: LogicalPlan,
    schema: SchemaRef,
    rows: OnceCell<Arc<MemTable>>,
}

impl KeptView {
    /// Wraps `view`, or `None` when it is not a view (it has no plan).
    pub fn of(view: &dyn TableProvider) -> Option<KeptView> {
        let plan = view.get_logical_plan()?.into_owned();
        Some(KeptView {
            schema: view.schema(),
            plan,
            rows: OnceCell::new(),
        })
    }

    /// Computes the rows now unless they are kept already (or being
    /// computed: then this waits for that).
    pub async fn fill(&self, state: &dyn Session) -> Result<()> {
        self.rows(state).await.map(|_| ())
    }

    async fn rows(&self, state: &dyn Session) -> Result<Arc<MemTable>> {
        self.rows
            .get_or_try_init(|| async {
                let physical = state.create_physical_plan(&self.plan).await?;
                let batches = collect(physical, state.task_ctx()).await?;
                Ok::<_, DataFusionError>(Arc::new(MemTable::try_new(
                    self.schema.clone(),
                    vec![batches],
                )?))
            })
            .await
            .cloned()
    }
}

impl std::fmt::Debug for KeptView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeptView(made: {})", self.rows.initialized())
    }
}

#[async_trait]
impl TableProvider for KeptView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
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
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::catalog::view::ViewTable;
    use datafusion::prelude::SessionContext;

    /// A view kept: computed by the first read only, and every read answers
    /// as the view itself does.
    #[tokio::test]
    async fn answers_like_the_view_and_keeps_its_rows() {
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
        let kept = Arc::new(KeptView::of(&view).expect("a view has a plan"));
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
        assert!(KeptView::of(&table).is_none());
    }
}
