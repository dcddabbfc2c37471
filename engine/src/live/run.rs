//! The loops behind `revintel watch` and `revintel serve`: open the
//! project and build everything once, then rebuild on every batch of file
//! changes — each rebuild under the project's write lock — until Ctrl-C;
//! `serve` also runs the HTTP server and tells open pages what changed.
//!
//! Nothing here prints: what happens is told through [`Event`]s, and the
//! command decides how to show them.

use super::db_watch::{DbEvent, DbWatch};
use super::server::{self, HostPolicy, Limits, PageEvent, ServerState};
use super::watcher::Watcher;
use super::{Change, Live, LiveError, Rebuild};
use crate::lock::{LockError, ProjectLock};
use crate::project::Project;
use reports::template::OutputFormat;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only the templates with these file stems; all when empty.
    pub only: Vec<String>,
    /// The formats to write; the templates' own when None.
    pub formats: Option<Vec<OutputFormat>>,
    /// `--param NAME=VALUE` overrides.
    pub params: Vec<(String, String)>,
    /// Build no reports: only follow the data (`revintel pg`).
    pub no_reports: bool,
}

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub host: IpAddr,
    pub port: u16,
    /// Host names to answer besides loopback and the bound address.
    pub allowed_hosts: Vec<String>,
    /// Also serve PostgreSQL clients on this port of the same host, the
    /// tables following every rebuild (see `crate::pg`).
    pub pg: Option<(u16, crate::pg::PgOptions)>,
}

/// Something to tell the user.
#[derive(Debug)]
pub enum Event<'a> {
    /// Reports rebuilt (or failed, or cleared), one log line each.
    Rebuilt(&'a [Rebuild]),
    /// Serving on this address.
    Serving(SocketAddr),
    /// Serving PostgreSQL clients on this address.
    ServingPg(SocketAddr),
    /// Watching these folders (again, after the config moved them).
    Watching(&'a [PathBuf]),
    /// Opening the project: a step that may take a while.
    Note(String),
    /// Something worth knowing that did not stop anything.
    Warning(String),
}

/// Why watching or serving stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("starting the live rebuild: {0}")]
    Start(#[from] LiveError),
    #[error(transparent)]
    Pg(#[from] crate::pg::PgError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Watch(#[from] super::watcher::WatchError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for the write lock: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Builds everything once, then rebuilds as files change, until Ctrl-C.
pub async fn watch(
    project: &Project,
    options: Options,
    events: &dyn Fn(Event<'_>),
) -> Result<(), RunError> {
    let (live, databases) = start(project, "watch", options, events).await?;
    rebuild_loop(live, databases, events, &|_| {}, &|_, _| {}).await
}

/// Serves the project's tables to PostgreSQL clients on `host:port`, the
/// tables following the data and models like [`watch`] (building no
/// reports), until Ctrl-C.
pub async fn pg(
    project: &Project,
    host: IpAddr,
    port: u16,
    options: &crate::pg::PgOptions,
    events: &dyn Fn(Event<'_>),
) -> Result<(), RunError> {
    let only = Options {
        no_reports: true,
        ..Options::default()
    };
    let (live, databases) = start(project, "pg", only, events).await?;
    let listener = crate::pg::bind(host, port).await?;
    let endpoint = crate::pg::Endpoint::start(listener, live.session(), options)?;
    events(Event::ServingPg(endpoint.address));
    rebuild_loop(
        live,
        databases,
        events,
        &|live| publish(&endpoint, live, events),
        &|_, _| {},
    )
    .await
}

/// New queries read `live`'s tables from now on; running ones finish on theirs.
fn publish(endpoint: &crate::pg::Endpoint, live: &Live, events: &dyn Fn(Event<'_>)) {
    if let Err(e) = endpoint.publish(live.session()) {
        events(Event::Warning(format!(
            "PostgreSQL clients keep the previous tables: {e}"
        )));
    }
}

/// [`watch`], serving `out/` with live reload beside it.
pub async fn serve(
    project: &Project,
    options: Options,
    serve: ServeOptions,
    events: &dyn Fn(Event<'_>),
) -> Result<(), RunError> {
    let (live, databases) = start(project, "serve", options, events).await?;
    let limits = Limits::default();
    let state = ServerState::new(project.out_dir.clone(), live.reports(), &limits);
    let listener = tokio::net::TcpListener::bind((serve.host, serve.port))
        .await
        .map_err(|source| RunError::Listen {
            address: format!("{}:{}", serve.host, serve.port),
            source,
        })?;
    let address = listener.local_addr().map_err(|source| RunError::Listen {
        address: format!("{}:{}", serve.host, serve.port),
        source,
    })?;
    events(Event::Serving(address));
    let app = server::router(
        state.clone(),
        HostPolicy::new(address, &serve.allowed_hosts),
    );
    let server = tokio::spawn(server::serve(listener, app, limits));
    let endpoint = match &serve.pg {
        Some((port, options)) => {
            let listener = crate::pg::bind(serve.host, *port).await?;
            let endpoint = crate::pg::Endpoint::start(listener, live.session(), options)?;
            events(Event::ServingPg(endpoint.address));
            Some(endpoint)
        }
        None => None,
    };
    let reloaded = |live: &Live| {
        if let Some(endpoint) = &endpoint {
            publish(endpoint, live, events);
        }
    };
    let result = rebuild_loop(live, databases, events, &reloaded, &|live, rebuilt| {
        let changed = rebuilt
            .iter()
            .map(|rebuild| PageEvent {
                report: rebuild.report.clone(),
                ok: rebuild.status.error().is_none(),
                error: rebuild.status.error(),
            })
            .collect();
        state.publish(live.reports(), changed);
    })
    .await;
    server.abort();
    result
}

/// Opens the project and builds every report once, under the write lock;
/// with its database sources to refresh.
async fn start(
    project: &Project,
    command: &str,
    options: Options,
    events: &dyn Fn(Event<'_>),
) -> Result<(Live, DbWatch), RunError> {
    let lock = ProjectLock::acquire(project, command, &mut |m| {
        events(Event::Note(m.to_string()))
    })?;
    let mut databases = DbWatch::of(project).await;
    let opened = Live::open(
        project.clone(),
        !options.no_reports,
        options.only,
        options.formats,
        options.params,
        &|e| {
            if let crate::open::Event::Note(m) = e {
                events(Event::Note(m))
            }
        },
    )
    .await;
    drop(lock);
    let (live, first, warnings) = opened?;
    for warning in warnings {
        events(Event::Warning(warning));
    }
    events(Event::Rebuilt(&first));
    databases.loaded(&loaded_fingerprints(&live));
    Ok((live, databases))
}

/// What the last load read, by source name, with its fingerprint.
fn loaded_fingerprints(live: &Live) -> Vec<(String, String)> {
    live.session
        .load
        .files
        .iter()
        .map(|f| (f.source.clone(), f.fingerprint.clone()))
        .collect()
}

/// Watches the project's files and rebuilds on every batch of changes;
/// `reloaded` hears of each new session (new data or models), then
/// `published` of each batch's rebuilds, before they are told (a page
/// loaded, or a query run, after the log line sees the new state).
async fn rebuild_loop(
    mut live: Live,
    mut databases: DbWatch,
    events: &dyn Fn(Event<'_>),
    reloaded: &dyn Fn(&Live),
    published: &dyn Fn(&Live, &[Rebuild]),
) -> Result<(), RunError> {
    let mut watched = live.watched();
    let mut watcher = Watcher::new(&watched)?;
    events(Event::Watching(&watched));
    loop {
        let mut changes: BTreeSet<Change> = BTreeSet::new();
        tokio::select! {
            batch = watcher.next() => {
                let Some(batch) = batch else {
                    return Ok(());
                };
                for e in batch.errors {
                    events(Event::Warning(format!("watching: {e}")));
                }
                changes.extend(batch.paths.iter().filter_map(|p| live.classify(p)));
                if batch.rescan {
                    events(Event::Warning(
                        "watching: file events were lost; reloading everything".into(),
                    ));
                    changes.insert(Change::Config);
                }
            }
            // A database source changed, failed or answers again: reloading
            // is what shows it (new tables, the error kept on the pages, or
            // the error cleared).
            event = databases.next() => {
                if let DbEvent::Failed(name, error) = &event {
                    events(Event::Warning(format!("{name}: {error}; retrying")));
                }
                changes.insert(Change::Data);
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        if changes.is_empty() {
            continue;
        }
        // Each rebuild holds the write lock; between them a `build` or
        // `train` elsewhere may write. Waiting for it can be interrupted.
        let project = live.project().clone();
        let (tx, mut waiting) = tokio::sync::mpsc::unbounded_channel();
        let lock = tokio::task::spawn_blocking(move || {
            ProjectLock::acquire(&project, "watch", &mut |m| {
                let _ = tx.send(m.to_string());
            })
        });
        tokio::pin!(lock);
        let lock = loop {
            tokio::select! {
                lock = &mut lock => break lock??,
                Some(message) = waiting.recv() => events(Event::Note(message)),
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        };
        let generation = live.session_generation();
        let rebuilt = live.apply(&changes).await;
        drop(lock);
        if live.session_generation() != generation {
            reloaded(&live);
        }
        for warning in live.take_warnings() {
            events(Event::Warning(warning));
        }
        if !rebuilt.is_empty() {
            published(&live, &rebuilt);
            events(Event::Rebuilt(&rebuilt));
        }
        if changes.contains(&Change::Config) {
            // The sources may be others now.
            databases = DbWatch::of(live.project()).await;
            databases.loaded(&loaded_fingerprints(&live));
        }
        // A new config can move the templates, data or models.
        if live.watched() != watched {
            watched = live.watched();
            // The same watcher: what is queued meanwhile is kept.
            watcher.watch_folders(&watched)?;
            events(Event::Watching(&watched));
        }
    }
}
