//! The local report server behind `revintel serve`: `out/` over HTTP with
//! an index of reports, and live reload.
//!
//! Report pages on disk are self-contained and script-free. When the server
//! sends one it adds a small script (allowed by a per-response nonce in the
//! Content-Security-Policy header, in place of the page's own policy) that
//! listens to `/_revintel/events` (server-sent events): when its report is
//! rebuilt the page reloads itself; when the rebuild failed it shows the
//! located error over the last good output, until a fix clears it.
//!
//! Only files inside `out/` are served: a path with `..`, a hidden segment
//! or a link leading outside is refused.
//!
//! Other web sites cannot read the reports. A page on another site can make
//! a browser send requests here (after rebinding its own name to 127.0.0.1),
//! but its requests carry its own name in `Host`; only requests naming this
//! server — a loopback name or the bound address, with the bound port, or a
//! name the user allowed — are answered, the rest get 403 ([`HostPolicy`]).
//! A slow or greedy local client cannot starve the server either: there is
//! a cap on open connections and on live-reload subscribers, and a
//! connection that has not sent a request's headers within
//! [`Limits::header_timeout`] is closed ([`serve`]).

use super::{ReportInfo, Status};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

/// A report rebuilt or failed, as sent to open pages.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PageEvent {
    /// The report (template stem), or `*` for all.
    pub report: String,
    pub ok: bool,
    pub error: Option<String>,
}

/// How much the server takes on at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections; more wait in the listen queue until one closes.
    pub max_connections: usize,
    /// Open live-reload streams (each holds a connection); more get 503.
    pub max_subscribers: usize,
    /// How long a connection may take to send a request's headers,
    /// including while idle between requests.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            max_subscribers: 64,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// What the handlers share.
pub struct ServerState {
    out_dir: PathBuf,
    reports: RwLock<Vec<ReportInfo>>,
    events: broadcast::Sender<PageEvent>,
    subscribers: AtomicUsize,
    max_subscribers: usize,
}

impl ServerState {
    pub fn new(out_dir: PathBuf, reports: Vec<ReportInfo>, limits: &Limits) -> Arc<ServerState> {
        let (events, _) = broadcast::channel(256);
        Arc::new(ServerState {
            out_dir,
            reports: RwLock::new(reports),
            events,
            subscribers: AtomicUsize::new(0),
            max_subscribers: limits.max_subscribers,
        })
    }

    /// Records the reports' new statuses and tells open pages.
    pub fn publish(&self, reports: Vec<ReportInfo>, changed: Vec<PageEvent>) {
        *self.reports.write().expect("not poisoned") = reports;
        for event in changed {
            // No open page is not an error.
            let _ = self.events.send(event);
        }
    }

    /// The report's last error, or the inputs' while they cannot be read.
    fn error_of(&self, report: &str) -> Option<String> {
        let reports = self.reports.read().expect("not poisoned");
        let error = |name: &str| {
            reports
                .iter()
                .find(|r| r.name == name)
                .and_then(|r| r.status.as_ref())
                .and_then(|s| s.error())
        };
        error(super::ALL).or_else(|| error(report))
    }
}

/// The names a request may give in its `Host` header: loopback names, the
/// bound address and the address the connection came in on, each with the
/// bound port; and names the user allowed, with any port (a proxy in front
/// sends its own) unless the allowed entry names one.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    port: u16,
    names: Vec<String>,
    /// User-allowed names, with the port they must carry if any.
    allowed: Vec<(String, Option<u16>)>,
}

impl HostPolicy {
    /// The policy for a server bound to `bound`, also allowing `allowed`
    /// host names (from `--allow-host` or `[serve] allowed_hosts`; each may
    /// be `name` or `name:port`).
    pub fn new(bound: SocketAddr, allowed: &[String]) -> HostPolicy {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|n| n.to_string())
            .collect();
        if !bound.ip().is_unspecified() {
            names.push(bound.ip().to_string());
        }
        HostPolicy {
            port: bound.port(),
            names,
            allowed: allowed
                .iter()
                .filter_map(|entry| {
                    let (name, port) = split_host(entry.trim())?;
                    Some((normal_host(name), port))
                })
                .collect(),
        }
    }

    /// Whether a request with this `Host` header value, arriving on a
    /// connection to `local` (when known), is for this server. A request
    /// without one is not.
    pub fn allows(&self, host: Option<&str>, local: Option<std::net::IpAddr>) -> bool {
        let Some((name, port)) = host.and_then(split_host) else {
            return false;
        };
        let name = normal_host(name);
        let ours = self.names.contains(&name) || local.is_some_and(|ip| ip.to_string() == name);
        if ours {
            return port.unwrap_or(80) == self.port;
        }
        self.allowed
            .iter()
            .any(|(n, p)| *n == name && (p.is_none() || *p == port))
    }
}

/// The address a connection came in on, for the host check.
#[derive(Debug, Clone, Copy)]
struct LocalAddr(std::net::IpAddr);

/// A host name compared as DNS does: ASCII case folded, no trailing dot.
fn normal_host(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `name[:port]`, with IPv6 literals in brackets; None when malformed.
fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => {
            let (name, after) = rest.split_once(']')?;
            if name.parse::<std::net::Ipv6Addr>().is_err()
                || !(after.is_empty() || after.starts_with(':'))
            {
                return None;
            }
            (name, after.strip_prefix(':'))
        }
        // An IPv6 literal must be in brackets: `::1:8765` is malformed.
        None => match host.split_once(':') {
            Some((name, port)) if !port.contains(':') => (name, Some(port)),
            Some(_) => return None,
            None => (host, None),
        },
    };
    if name.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    Some((name, port))
}

async fn check_host(
    State(policy): State<Arc<HostPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let local = request.extensions().get::<LocalAddr>().map(|l| l.0);
    if !policy.allows(host, local) {
        return (
            StatusCode::FORBIDDEN,
            "refused: this server answers only requests addressed to it (Host); \
             allow another name with --allow-host",
        )
            .into_response();
    }
    next.run(request).await
}

/// The routes: `/` (index), `/_revintel/events` (SSE) and files under
/// `out/`, each behind the host check.
pub fn router(state: Arc<ServerState>, policy: HostPolicy) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/_revintel/events", get(events))
        .route("/{*path}", get(file))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(policy),
            check_host,
        ))
}

/// Serves `router` on `listener` until the task is dropped: at most
/// `limits.max_connections` connections at once, each closed when it has
/// not sent a request's headers within `limits.header_timeout`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // A connection that failed before it was accepted, or out of
            // file descriptors for a moment: the server carries on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // The host check accepts the address the client dialled.
        let local = stream.local_addr().ok().map(|a| LocalAddr(a.ip()));
        let router = match local {
            Some(local) => router.clone().layer(axum::Extension(local)),
            None => router.clone(),
        };
        let service = hyper_util::service::TowerToHyperService::new(router);
        let timeout = limits.header_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Counts a live-reload stream while it is open.
struct Subscription(Arc<ServerState>);

impl Drop for Subscription {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn events(State(state): State<Arc<ServerState>>) -> Response {
    if state.subscribers.fetch_add(1, Ordering::SeqCst) >= state.max_subscribers {
        state.subscribers.fetch_sub(1, Ordering::SeqCst);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many live-reload pages are open; close some",
        )
            .into_response();
    }
    let subscription = Subscription(state.clone());
    let stream = BroadcastStream::new(state.events.subscribe()).filter_map(move |event| {
        let _open = &subscription;
        let event = event.ok()?;
        let data = serde_json::to_string(&event).ok()?;
        Some(Ok::<_, Infallible>(Event::default().data(data)))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Why a request path is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Outside `out/`, hidden, or otherwise not a report file.
    Forbidden,
    NotFound,
}

/// The file under `out_dir` that `path` (already percent-decoded) names.
pub fn resolve(out_dir: &Path, path: &str) -> Result<PathBuf, Refused> {
    let mut file = out_dir.to_path_buf();
    for segment in path.split('/') {
        if segment.is_empty() {
            continue;
        }
        if segment == ".."
            || segment.starts_with('.')
            || segment.contains('\\')
            || segment.contains('\0')
        {
            return Err(Refused::Forbidden);
        }
        file.push(segment);
    }
    let root = std::fs::canonicalize(out_dir).map_err(|_| Refused::NotFound)?;
    let real = std::fs::canonicalize(&file).map_err(|_| Refused::NotFound)?;
    if !real.starts_with(&root) {
        return Err(Refused::Forbidden);
    }
    if !real.is_file() {
        return Err(Refused::NotFound);
    }
    Ok(real)
}

async fn file(State(state): State<Arc<ServerState>>, UrlPath(path): UrlPath<String>) -> Response {
    let file = match resolve(&state.out_dir, &path) {
        Ok(f) => f,
        Err(Refused::Forbidden) => {
            return (StatusCode::FORBIDDEN, "refused: outside out/").into_response()
        }
        Err(Refused::NotFound) => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    let bytes = match tokio::fs::read(&file).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    if extension == "html" {
        let report = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".html")
            .to_string();
        let page = String::from_utf8_lossy(&bytes);
        let error = state.error_of(&report);
        return live_page(&page, &report, error.as_deref());
    }
    let kind = match extension {
        "pdf" => "application/pdf",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

/// A page with the live-reload script and, when its report's last build
/// failed, the error overlay.
fn live_page(page: &str, report: &str, error: Option<&str>) -> Response {
    let nonce = nonce();
    // The page's own policy forbids scripts; the header's allows this one.
    let page = strip_csp_meta(page);
    let script = live_script(&nonce, report, error);
    let page = match page.rfind("</body>") {
        Some(i) => format!("{}{script}{}", &page[..i], &page[i..]),
        None => format!("{page}{script}"),
    };
    let csp = format!(
        "{}; script-src 'nonce-{nonce}'; connect-src 'self'",
        reports::html::DEFAULT_CSP
    );
    let mut response = Html(page).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn strip_csp_meta(page: &str) -> String {
    const TAG: &str = "<meta http-equiv=\"Content-Security-Policy\"";
    match page.find(TAG) {
        Some(start) => match page[start..].find('>') {
            Some(len) => format!("{}{}", &page[..start], &page[start + len + 1..]),
            None => page.to_string(),
        },
        None => page.to_string(),
    }
}

fn nonce() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON that is safe inside a `<script>` element.
fn script_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn live_script(nonce: &str, report: &str, error: Option<&str>) -> String {
    format!(
        r#"<script nonce="{nonce}">
(function () {{
  var report = {report};
  function overlay(message) {{
    var o = document.getElementById("revintel-overlay");
    if (!message) {{ if (o) o.remove(); return; }}
    if (!o) {{
      o = document.createElement("div");
      o.id = "revintel-overlay";
      o.setAttribute("role", "alert");
      o.style.cssText = "position:fixed;left:0;right:0;top:0;max-height:60vh;overflow:auto;z-index:2147483647;background:#2b0b0e;color:#ffe1e1;font:13px/1.45 ui-monospace,monospace;padding:16px 20px;white-space:pre-wrap;border-bottom:3px solid #e5484d;box-shadow:0 4px 16px rgba(0,0,0,.4)";
      document.body.appendChild(o);
    }}
    o.textContent = "The last rebuild of this report failed; this is the last good output.\n\n" + message;
  }}
  overlay({error});
  var source = new EventSource("/_revintel/events");
  // Marks the page as listening: a rebuild is only heard once this is set.
  source.onopen = function () {{ document.documentElement.dataset.revintelLive = "1"; }};
  source.onmessage = function (e) {{
    var m = JSON.parse(e.data);
    if (report !== "" && m.report !== report && m.report !== "*") return;
    if (m.ok) location.reload(); else overlay(m.error);
  }};
}})();
</script>
"#,
        report = script_json(&report),
        error = script_json(&error),
    )
}

async fn index(State(state): State<Arc<ServerState>>) -> Response {
    let reports = state.reports.read().expect("not poisoned").clone();
    let mut body = String::from("<h1 class=\"report-title\">Reports</h1>\n<ul class=\"index\">\n");
    let esc = reports::html::escape;
    for r in &reports {
        let exists = |ext: &str| state.out_dir.join(format!("{}.{ext}", r.name)).is_file();
        let mut links = Vec::new();
        for ext in ["html", "pdf"] {
            if exists(ext) {
                links.push(format!(
                    "<a href=\"/{}.{ext}\">{}</a>",
                    esc(&r.name),
                    ext.to_uppercase()
                ));
            }
        }
        let pages = pages_of(&state.out_dir.join(&r.name));
        if !pages.is_empty() {
            let list: Vec<String> = pages
                .iter()
                .map(|p| format!("<a href=\"/{}/{}\">{}</a>", esc(&r.name), esc(p), esc(p)))
                .collect();
            links.push(format!(
                "<details><summary>{} pages</summary>{}</details>",
                pages.len(),
                list.join(" · ")
            ));
        }
        let status = match &r.status {
            Some(Status::Built(built)) => format!(
                "<span class=\"ok\">built in {} ms</span>",
                built.elapsed.as_millis()
            ),
            Some(Status::Failed(error)) => format!(
                "<span class=\"failed\">failed</span><pre class=\"error\">{}</pre>",
                esc(&error.to_string())
            ),
            Some(Status::Cleared) | None => String::new(),
        };
        body.push_str(&format!(
            "<li><strong>{}</strong> <code>{}</code> {} {status}</li>\n",
            esc(&r.title),
            esc(&r.name),
            links.join(" · ")
        ));
    }
    body.push_str("</ul>\n");
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>revintel reports</title>\
         <style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         li{{margin:.6rem 0}} .ok{{color:#1a7f37}} .failed{{color:#cf222e;font-weight:600}}\
         pre.error{{background:#fff0f0;padding:.5rem;white-space:pre-wrap}}</style></head>\
         <body>{body}</body></html>"
    );
    live_page(&page, "", None)
}

/// The HTML pages in a templated report's folder, by name.
fn pages_of(dir: &Path) -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| n.ends_with(".html") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_out_are_served() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("deal")).unwrap();
        std::fs::write(out.join("a.html"), "a").unwrap();
        std::fs::write(out.join("deal/D1.html"), "d").unwrap();
        std::fs::write(out.join(".a.html.tmp"), "half").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), out.join("link.txt")).unwrap();

        assert!(resolve(&out, "a.html").is_ok());
        assert!(resolve(&out, "deal/D1.html").is_ok());
        for bad in [
            "../secret.txt",
            "deal/../../secret.txt",
            ".a.html.tmp",
            "link.txt",
            "deal/..\\..\\secret.txt",
        ] {
            assert_eq!(
                resolve(&out, bad),
                Err(Refused::Forbidden),
                "{bad} is refused"
            );
        }
        assert_eq!(resolve(&out, "nope.html"), Err(Refused::NotFound));
        assert_eq!(resolve(&out, "deal"), Err(Refused::NotFound));
    }

    #[test]
    fn only_requests_naming_this_server_are_answered() {
        let policy = HostPolicy::new(
            "127.0.0.1:8765".parse().unwrap(),
            &["Reports.Internal.".into(), "pinned.example:8443".into()],
        );
        let allows = |h: &str| policy.allows(Some(h), None);
        for ok in [
            "127.0.0.1:8765",
            "localhost:8765",
            "LOCALHOST:8765",
            "[::1]:8765",
            // Behind a proxy: the allowed name, with the proxy's port or none.
            "reports.internal:8765",
            "reports.internal",
            "reports.internal:443",
            "pinned.example:8443",
        ] {
            assert!(allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:8765",
            "127.0.0.1:80",
            "localhost",
            "127.0.0.1.evil.example:8765",
            "localhost.evil.example:8765",
            "[::1]:8766",
            "::1:8765",
            "",
            ":8765",
            "localhost:87650",
            "pinned.example",
            "pinned.example:443",
        ] {
            assert!(!allows(bad), "{bad}");
        }
        assert!(!policy.allows(None, None));
        // Listening on every address: the one the client dialled is ours.
        let anywhere = HostPolicy::new("0.0.0.0:9000".parse().unwrap(), &[]);
        let lan: std::net::IpAddr = "192.168.1.5".parse().unwrap();
        assert!(anywhere.allows(Some("localhost:9000"), None));
        assert!(anywhere.allows(Some("192.168.1.5:9000"), Some(lan)));
        assert!(!anywhere.allows(Some("192.168.1.6:9000"), Some(lan)));
        assert!(!anywhere.allows(Some("0.0.0.0:9000"), Some(lan)));
    }

    #[test]
    fn the_script_cannot_be_broken_out_of() {
        let s = live_script("n", "x", Some("</script><script>alert(1)</script>"));
        assert_eq!(s.matches("</script>").count(), 1, "{s}");
    }

    #[test]
    fn the_page_policy_is_replaced_by_the_header() {
        let page = "<head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">\n<title>t</title></head><body>x</body>";
        let response = live_page(page, "r", None);
        let csp = response
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("script-src 'nonce-"), "{csp}");
        assert!(!strip_csp_meta(page).contains("Content-Security-Policy"));
    }
}
