//! The pipeline over PostgreSQL's wire protocol, so psql, DBeaver,
//! Metabase, notebooks and spreadsheets (through ODBC) can query the same
//! tables, views and UDFs as `revintel sql`, under the same read-only rule.
//!
//! The protocol is pgwire's and the PostgreSQL compatibility (the
//! `pg_catalog` GUI tools read, SQL rewrites, session statements) is
//! datafusion-postgres's; revintel adds the login (SCRAM-SHA-256 from the
//! environment, see [`auth`]), TLS, the read-only [`gate`], snapshots that
//! follow live rebuilds ([`snapshot`]), and per-query limits ([`service`]).

pub mod auth;
pub mod cancel;
pub mod catalog;
pub mod gate;
pub mod service;
pub mod snapshot;
pub mod tls;
pub mod wire;

use crate::session::Session;
use auth::{Credentials, ScramSecrets};
use datafusion_postgres::pgwire::api::auth::sasl::scram::ScramAuth;
use datafusion_postgres::pgwire::api::auth::sasl::SASLAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::{DefaultServerParameterProvider, StartupHandler};
use datafusion_postgres::pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::{ConnectionManager, PgWireServerHandlers};
use service::{QueryLimits, Service, Shared};
use snapshot::Snapshot;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// The default port: beside a local PostgreSQL's 5432.
pub const DEFAULT_PORT: u16 = 5433;

/// How the endpoint runs.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub credentials: Credentials,
    /// A certificate chain and its private key (PEM); TLS is offered when set.
    pub tls: Option<tls::TlsFiles>,
    pub limits: QueryLimits,
    /// Connections served at once; more wait for a free one.
    pub max_connections: usize,
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("preparing the tables for PostgreSQL clients: {0}")]
    Snapshot(#[from] datafusion::error::DataFusionError),
    #[error("listening on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// A running endpoint: publish a session to it and new queries see it.
pub struct Endpoint {
    snapshots: watch::Sender<Arc<Snapshot>>,
    limits: QueryLimits,
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    /// Serves `session` on `listener` until dropped.
    pub fn start(
        listener: TcpListener,
        session: &Session,
        options: &PgOptions,
    ) -> Result<Endpoint, PgError> {
        let address = listener.local_addr().map_err(|source| PgError::Listen {
            address: "the endpoint's socket".into(),
            source,
        })?;
        let acceptor = options.tls.as_ref().map(tls::acceptor).transpose()?;
        let snapshot = Arc::new(Snapshot::of(session)?);
        snapshot.warm(runtime_for(&options.limits));
        let (sender, receiver) = watch::channel(snapshot);
        let shared = Arc::new(Shared::new(receiver, options.limits.clone()));
        let handlers = Arc::new(Handlers {
            cancels: shared.cancels.clone(),
            service: Arc::new(Service::new(shared)),
            secrets: Arc::new(ScramSecrets::new(&options.credentials)),
            certificate: options
                .tls
                .as_ref()
                .and_then(|t| std::fs::read(&t.cert).ok()),
            connections: Arc::new(ConnectionManager::new()),
            parameters: Arc::new(DefaultServerParameterProvider::default()),
        });
        let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
        let task = tokio::spawn(accept_loop(listener, acceptor, handlers, slots));
        Ok(Endpoint {
            snapshots: sender,
            limits: options.limits.clone(),
            address,
            task,
        })
    }

    /// Makes `session` what new queries read; running ones finish on theirs.
    pub fn publish(&self, session: &Session) -> Result<(), PgError> {
        let snapshot = Arc::new(Snapshot::of(session)?);
        snapshot.warm(runtime_for(&self.limits));
        self.snapshots.send_replace(snapshot);
        Ok(())
    }
}

/// Memory pools for the background work on a snapshot: one query's limit.
fn runtime_for(
    limits: &QueryLimits,
) -> impl Fn() -> Option<Arc<datafusion::execution::runtime_env::RuntimeEnv>> + Send + 'static {
    let limits = limits.clone();
    move || limits.runtime().ok()
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `host:port` (port 0 picks a free one).
pub async fn bind(host: std::net::IpAddr, port: u16) -> Result<TcpListener, PgError> {
    TcpListener::bind((host, port))
        .await
        .map_err(|source| PgError::Listen {
            address: SocketAddr::new(host, port).to_string(),
            source,
        })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    handlers: Arc<Handlers>,
    slots: Arc<Semaphore>,
) {
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: wait, then go on.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let handlers = handlers.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _slot = slot;
            // A client that goes away mid-session is its own business.
            let _ = datafusion_postgres::pgwire::tokio::process_socket(socket, acceptor, handlers)
                .await;
        });
    }
}

/// pgwire's handlers for one endpoint.
struct Handlers {
    service: Arc<Service>,
    secrets: Arc<ScramSecrets>,
    /// The TLS certificate (PEM), for SCRAM channel binding.
    certificate: Option<Vec<u8>>,
    connections: Arc<ConnectionManager>,
    cancels: Arc<cancel::Registry>,
    parameters: Arc<DefaultServerParameterProvider>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }

    /// One per connection: the SASL exchange keeps its state in it.
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        let mut scram = ScramAuth::new(self.secrets.clone());
        scram.set_iterations(datafusion_postgres::pgwire::api::auth::sasl::scram::SCRAM_ITERATIONS);
        if let Some(pem) = &self.certificate {
            // Channel binding when the certificate allows it; plain SCRAM else.
            let _ = scram.configure_certificate(pem);
        }
        Arc::new(
            SASLAuthStartupHandler::new(self.parameters.clone())
                .with_scram(scram)
                .with_connection_manager(self.connections.clone()),
        )
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::new(cancel::Canceller {
            registry: self.cancels.clone(),
            pgwire: DefaultCancelHandler::new(self.connections.clone()),
        })
    }
}
