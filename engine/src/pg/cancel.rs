//! Cancel requests (psql's Ctrl-C) for the whole of a query.
//!
//! pgwire stops a query's handler when a cancel request arrives, but a
//! result streams to the client after the handler has returned — which is
//! where a long query spends its time. So each connection also keeps a
//! flag here that every cancel request for it raises, and the row stream
//! (see [`super::wire::Stop`]) ends with "canceling statement due to user
//! request" when it does.

use datafusion_postgres::pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::messages::cancel::CancelRequest;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;

/// One connection's cancel requests, counted.
#[derive(Debug, Default)]
pub struct Flag {
    requests: AtomicU64,
    raised: Notify,
}

type Key = (i32, Vec<u8>);

/// The flags of live connections, by backend key (the connection owns its
/// flag; this holds only weak references, pruned as connections end).
#[derive(Debug, Default)]
pub struct Registry {
    flags: Mutex<HashMap<Key, Weak<Flag>>>,
}

impl Registry {
    /// The connection's flag, made on its first query.
    fn flag_of<C: ClientInfo + ?Sized>(&self, client: &C) -> Arc<Flag> {
        if let Some(flag) = client.session_extensions().get::<Arc<Flag>>() {
            return (*flag).clone();
        }
        let (pid, key) = client.pid_and_secret_key();
        let flag = Arc::new(Flag::default());
        client.session_extensions().insert(flag.clone());
        let mut flags = self.flags.lock().unwrap_or_else(|e| e.into_inner());
        flags.retain(|_, f| f.strong_count() > 0);
        flags.insert((pid, key.to_bytes().to_vec()), Arc::downgrade(&flag));
        flag
    }

    /// Resolves to true once a cancel request for `client` arrives after
    /// this call.
    pub fn cancelled<C: ClientInfo + ?Sized>(&self, client: &C) -> BoxFuture<'static, bool> {
        let flag = self.flag_of(client);
        let seen = flag.requests.load(Ordering::SeqCst);
        async move {
            loop {
                let raised = flag.raised.notified();
                if flag.requests.load(Ordering::SeqCst) > seen {
                    return true;
                }
                raised.await;
            }
        }
        .boxed()
    }

    fn raise(&self, request: &CancelRequest) {
        let key = (request.pid, request.secret_key.to_bytes().to_vec());
        let flag = self
            .flags
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .and_then(Weak::upgrade);
        if let Some(flag) = flag {
            flag.requests.fetch_add(1, Ordering::SeqCst);
            flag.raised.notify_waiters();
        }
    }
}

/// Raises the connection's flag, and lets pgwire stop a handler still running.
pub struct Canceller {
    pub registry: Arc<Registry>,
    pub pgwire: DefaultCancelHandler,
}

#[async_trait::async_trait]
impl CancelHandler for Canceller {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.registry.raise(&request);
        self.pgwire.on_cancel_request(request).await;
    }
}
