//! What one query over the wire sees: a frozen copy of the session's
//! catalog, plus the `pg_catalog` that PostgreSQL clients read.
//!
//! A snapshot is made from a session once (at start, and after every live
//! rebuild) and never changes afterwards. A query holds the snapshot it
//! started with, so a rebuild swapping the tables under the server lets
//! running queries finish on the old data while new ones see the new.

use crate::lazy_table::LazyTable;
use crate::session::Session;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, SchemaProvider,
};
use datafusion::error::DataFusionError;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use datafusion_postgres::auth::AuthManager;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use futures_util::FutureExt;
use std::sync::Arc;

/// The views a snapshot computes once and keeps. A snapshot never changes,
/// so a view over it gives every query the same rows; `deal_features` is
/// costly (a window over the whole stage history) and is what tools pull
/// whole, so it is served from rows kept after the first computation, as
/// PostgreSQL would serve a materialised view. They are computed in the
/// background as soon as a snapshot is published ([`Snapshot::warm`]); a
/// query arriving earlier waits for that work, and should it fail, the
/// first query to read the view makes the rows under its own limits.
pub const KEPT_VIEWS: [&str; 1] = ["deal_features"];

/// One frozen view of the pipeline.
pub struct Snapshot {
    state: SessionState,
    /// The views this snapshot keeps once computed.
    kept: Vec<Arc<LazyTable>>,
}

impl Snapshot {
    /// Copies `session`'s tables, views and functions (the data itself is
    /// shared, not copied) into a catalog of their own and adds `pg_catalog`.
    /// The costly views are kept once computed (see [`KEPT_VIEWS`]).
    pub fn of(session: &Session) -> Result<Snapshot, DataFusionError> {
        let source = session.ctx.state();
        let options = source.config().options();
        let catalog_name = options.catalog.default_catalog.clone();
        let schema_name = options.catalog.default_schema.clone();
        let list = Arc::new(MemoryCatalogProviderList::new());
        let mut kept_views = Vec::new();
        for name in source.catalog_list().catalog_names() {
            let Some(from) = source.catalog_list().catalog(&name) else {
                continue;
            };
            let to = Arc::new(MemoryCatalogProvider::new());
            for schema in from.schema_names() {
                let Some(tables) = from.schema(&schema) else {
                    continue;
                };
                let copy = Arc::new(MemorySchemaProvider::new());
                for table in tables.table_names() {
                    // In-memory schemas answer at once; anything that would
                    // have to wait (a remote catalog) is left out.
                    if let Some(Ok(Some(provider))) = tables.table(&table).now_or_never() {
                        let kept = KEPT_VIEWS
                            .contains(&table.as_str())
                            .then(|| LazyTable::of_view(provider.as_ref()))
                            .flatten();
                        match kept {
                            Some(kept) => {
                                let kept = Arc::new(kept);
                                kept_views.push(kept.clone());
                                copy.register_table(table, kept)?
                            }
                            None => copy.register_table(table, provider)?,
                        };
                    }
                }
                to.register_schema(&schema, copy)?;
            }
            list.register_catalog(name, to);
        }
        let state = SessionStateBuilder::new_from_existing(source)
            .with_catalog_list(list)
            .build();
        let ctx = SessionContext::new_with_state(state);
        // The default schema must exist even for an empty session.
        if let Some(catalog) = ctx.catalog(&catalog_name) {
            if catalog.schema(&schema_name).is_none() {
                catalog.register_schema(&schema_name, Arc::new(MemorySchemaProvider::new()))?;
            }
        }
        setup_pg_catalog(&ctx, &catalog_name, Arc::new(AuthManager::new())).map_err(|e| *e)?;
        super::catalog::install(&ctx, &catalog_name)?;
        Ok(Snapshot {
            state: ctx.state(),
            kept: kept_views,
        })
    }

    /// Computes the kept views in the background, each under a memory pool
    /// from `runtime`, so the first query reading one finds it ready (or
    /// waits for this work instead of repeating it). Stops early when the
    /// snapshot is replaced and nobody reads it any more; a failure is left
    /// for the first reading query to meet (and report) again.
    pub fn warm(
        self: &Arc<Self>,
        runtime: impl Fn() -> Option<Arc<datafusion::execution::runtime_env::RuntimeEnv>>
            + Send
            + 'static,
    ) {
        let snapshot = Arc::downgrade(self);
        tokio::spawn(async move {
            let views = snapshot.upgrade().map(|s| s.kept.len()).unwrap_or(0);
            for i in 0..views {
                let (Some(snapshot), Some(runtime)) = (snapshot.upgrade(), runtime()) else {
                    return;
                };
                let state = snapshot.query_context(runtime).state();
                let _ = snapshot.kept[i].fill(&state).await;
            }
        });
    }

    /// A context for one query: this snapshot's catalog under a memory pool
    /// of the query's own, so one greedy query cannot starve the others.
    pub fn query_context(
        &self,
        runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
    ) -> SessionContext {
        let state = SessionStateBuilder::new_from_existing(self.state.clone())
            .with_runtime_env(runtime)
            .build();
        SessionContext::new_with_state(state)
    }
}
