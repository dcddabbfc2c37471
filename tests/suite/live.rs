//! Live rebuild end to end: `revintel watch` rebuilds only the reports whose
//! inputs changed, survives a storm of writes, keeps the last good output
//! of a broken template; `revintel serve` shows the error overlay, refuses
//! paths outside `out/`, and a real headless Chromium sees a served page
//! update itself after a data file changes.

use crate::common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant, SystemTime};

/// A running `revintel watch`/`serve`, its stdout lines on a channel.
pub(crate) struct Running {
    child: Killed,
    lines: Receiver<String>,
    pub(crate) seen: Vec<String>,
}

impl Running {
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Running {
        Running::start_with(Command::new(env!("CARGO_BIN_EXE_revintel")), dir, args)
    }

    /// [`Running::start`] from a prepared command (say, with its environment).
    pub(crate) fn start_with(mut command: Command, dir: &Path, args: &[&str]) -> Running {
        let mut child = command
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child: Killed(child),
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line matching `pred`; returns it.
    pub(crate) fn wait_for(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "timed out waiting for {what}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Lines printed within `quiet` of silence.
    fn drain(&mut self, quiet: Duration) -> Vec<String> {
        let mut got = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            self.seen.push(line.clone());
            got.push(line);
        }
        got
    }

    fn alive(&mut self) -> bool {
        self.child.0.try_wait().unwrap().is_none()
    }
}

const A: &str = "---\ntitle: Deals\n---\n```sql names\nSELECT deal_id, name FROM deals ORDER BY deal_id\n```\n\nMarker: start.\n\n{{ table(names) }}\n";
const B: &str = "---\ntitle: Reps\n---\n```sql reps_list\nSELECT rep_id, name FROM reps ORDER BY rep_id\n```\n\n{{ table(reps_list) }}\n";
const C: &str = "---\ntitle: History\n---\n```sql steps\nSELECT stage, count(*) AS n, sum(amount) AS amount FROM stage_history GROUP BY stage ORDER BY stage\n```\n\n{{ table(steps) }}\n";

/// A copy of the tiny fixture with templates a (deals), b (reps), c (stage history).
pub(crate) fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("tiny")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(templates.join("a.md"), A).unwrap();
    std::fs::write(templates.join("b.md"), B).unwrap();
    std::fs::write(templates.join("c.md"), C).unwrap();
    dir
}

/// An output file: its name, modification time and bytes.
type Output = (String, SystemTime, Vec<u8>);
type Outputs = Vec<Output>;

/// Each output file with its modification time and bytes.
fn outputs(dir: &Path) -> Outputs {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn changed(before: &[Output], after: &[Output]) -> Vec<String> {
    assert_eq!(before.len(), after.len(), "same files");
    before
        .iter()
        .zip(after)
        .filter(|(b, a)| b.1 != a.1 || b.2 != a.2)
        .map(|(b, _)| b.0.clone())
        .collect()
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} in {}", path.display());
    save(path, &text.replacen(from, to, 1));
}

/// Saves `text` as editors do, whole at once (a hidden temporary file
/// renamed over the old one): the watcher never sees a half-written file,
/// however slowly this machine writes.
fn save(path: &Path, text: &str) {
    let temp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

fn started(watch: &mut Running) {
    for report in ["a", "b", "c"] {
        watch.wait_for(&format!("first build of {report}"), |l| {
            l.starts_with(&format!("rebuilt {report} (first build)"))
        });
    }
    watch.wait_for("watching", |l| l.starts_with("watching"));
}

/// After an edit: `report` is rebuilt, the line names `reason`, nothing else
/// is rebuilt, and of the outputs only `report`'s HTML and PDF changed since
/// `before`. Returns the outputs now.
fn rebuilt_alone(
    watch: &mut Running,
    dir: &Path,
    before: &[Output],
    report: &str,
    reason: &str,
) -> Outputs {
    let rebuilt = format!("rebuilt {report}");
    let line = watch.wait_for(&format!("{report} rebuilt"), |l| l.starts_with(&rebuilt));
    assert!(line.contains(reason), "{line}");
    let others = watch.drain(Duration::from_millis(800));
    assert!(others.is_empty(), "nothing else rebuilt: {others:?}");
    let after = outputs(dir);
    assert_eq!(
        changed(before, &after),
        [format!("{report}.html"), format!("{report}.pdf")]
    );
    after
}

#[test]
fn a_change_rebuilds_only_the_reports_that_read_it() {
    let dir = project();
    let mut watch = Running::start(dir.path(), &["watch", "--format", "html,pdf"]);
    started(&mut watch);
    let before = outputs(dir.path());
    assert_eq!(before.len(), 6, "three reports, HTML and PDF each");

    // A rep's name: only b reads reps.
    edit(&dir.path().join("reps.csv"), "R1,", "R1,Renamed ");
    let after = rebuilt_alone(&mut watch, dir.path(), &before, "b", "reps changed");

    // A template: only itself.
    edit(
        &dir.path().join("templates/c.md"),
        "{{ table(steps) }}",
        "Steps:\n\n{{ table(steps) }}",
    );
    let again = rebuilt_alone(&mut watch, dir.path(), &after, "c", "template changed");

    // Stage history: only c reads it (and shows the amount, so its output
    // differs in content, not only in its files' times).
    edit(
        &dir.path().join("stage_history.csv"),
        "D5,Prospecting,2025-06-02,,8000.00",
        "D5,Prospecting,2025-06-02,,9000.00",
    );
    rebuilt_alone(&mut watch, dir.path(), &again, "c", "stage_history changed");

    // An editor's save: write a temporary file, then rename it over the data file.
    let temp = dir.path().join(".deals.csv.swp");
    let text = std::fs::read_to_string(dir.path().join("deals.csv")).unwrap();
    std::fs::write(&temp, text.replace("Acme Core,", "Acme Prime,")).unwrap();
    std::fs::rename(&temp, dir.path().join("deals.csv")).unwrap();
    let line = watch.wait_for("a rebuilt", |l| l.starts_with("rebuilt a"));
    assert!(line.contains("deals changed"), "{line}");
    let html = std::fs::read_to_string(dir.path().join("out/a.html")).unwrap();
    assert!(html.contains("Acme Prime"));
    assert!(watch.alive());
}

/// What the watcher promises under a storm of saves, whatever the machine's
/// speed (the batching itself is tested against a virtual clock in
/// `watcher`): the process stays up, rebuilds never outnumber the writes,
/// the outputs end in the state of the last write, and reports reading
/// neither file are not rebuilt.
#[test]
fn a_storm_of_writes_is_coalesced_and_ends_in_the_final_state() {
    let dir = project();
    let mut watch = Running::start(dir.path(), &["watch", "--format", "html"]);
    started(&mut watch);
    let template = dir.path().join("templates/a.md");
    let deals = dir.path().join("deals.csv");
    let original = std::fs::read_to_string(&deals).unwrap();
    let writes = 1000;
    for i in 0..writes {
        if i % 2 == 0 {
            std::fs::write(
                &template,
                A.replace("Marker: start.", &format!("Marker: m{i}.")),
            )
            .unwrap();
        } else {
            std::fs::write(
                &deals,
                original.replace("Acme Core,", &format!("Acme n{i},")),
            )
            .unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // The last writes were m998 (template) and n999 (data). The deadline
    // only guards a hung test.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let html = std::fs::read_to_string(dir.path().join("out/a.html")).unwrap_or_default();
        if html.contains("Marker: m998.") && html.contains("Acme n999") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "final outputs never matched the final inputs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    watch.drain(Duration::from_millis(1500));
    assert!(watch.alive(), "the watcher is still running");
    let rebuilds = watch
        .seen
        .iter()
        .filter(|l| l.starts_with("rebuilt a") && !l.contains("first build"))
        .count();
    assert!(
        (1..=writes).contains(&rebuilds),
        "{rebuilds} rebuilds for {writes} writes"
    );
    // b and c read neither file.
    assert!(!watch.seen.iter().any(
        |l| (l.starts_with("rebuilt b") || l.starts_with("rebuilt c"))
            && !l.contains("first build")
    ));
}

/// `GET path` over a raw connection (so `..` is sent as is), addressed to
/// the server by `Host: 127.0.0.1:PORT` as a browser would: status and body.
fn get(port: u16, path: &str) -> (u16, String) {
    get_as(port, path, Some(&format!("127.0.0.1:{port}")))
}

/// `GET path` with the given `Host` header (none when None).
fn get_as(port: u16, path: &str, host: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Only a guard against a hung test; answers come in milliseconds.
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\n{host}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let response = String::from_utf8_lossy(&bytes).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn serve(dir: &Path) -> (Running, u16) {
    let mut server = Running::start(dir, &["serve", "--port", "0"]);
    let line = server.wait_for("the address", |l| l.starts_with("serving http://"));
    let port = line
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Edits made before the watch starts would go unseen.
    server.wait_for("watching", |l| l.starts_with("watching"));
    (server, port)
}

#[test]
fn a_broken_template_keeps_the_last_good_output_and_shows_the_error() {
    let dir = project();
    let (mut server, port) = serve(dir.path());
    let (status, page) = get(port, "/a.html");
    assert_eq!(status, 200);
    assert!(
        page.contains("/_revintel/events"),
        "live-reload script injected"
    );
    assert!(page.contains("overlay(null)"), "no error at first");
    let html_before = std::fs::read(dir.path().join("out/a.html")).unwrap();
    let pdf_before = std::fs::read(dir.path().join("out/a.pdf")).unwrap();
    assert!(
        !String::from_utf8_lossy(&html_before).contains("<script"),
        "the file itself has no script"
    );

    let template = dir.path().join("templates/a.md");
    save(
        &template,
        &A.replace("{{ table(names) }}", "{{ table(names) }"),
    );
    let line = server.wait_for("a failed", |l| l.starts_with("failed a"));
    assert!(line.contains("templates/a.md:10:"), "located: {line}");
    assert_eq!(
        std::fs::read(dir.path().join("out/a.html")).unwrap(),
        html_before
    );
    assert_eq!(
        std::fs::read(dir.path().join("out/a.pdf")).unwrap(),
        pdf_before
    );
    let (_, page) = get(port, "/a.html");
    assert!(
        page.contains("templates/a.md:10:"),
        "the overlay carries the error"
    );
    assert!(
        page.contains("Marker: start."),
        "the last good output is still served"
    );
    let (_, index) = get(port, "/");
    assert!(index.contains("failed") && index.contains("templates/a.md:10:"));

    save(&template, &A.replace("Marker: start.", "Marker: fixed."));
    server.wait_for("a rebuilt", |l| l.starts_with("rebuilt a"));
    let (_, page) = get(port, "/a.html");
    assert!(page.contains("overlay(null)") && page.contains("Marker: fixed."));
}

#[test]
fn requests_outside_out_are_refused() {
    let dir = project();
    let (_server, port) = serve(dir.path());
    assert_eq!(get(port, "/a.pdf").0, 200);
    let (status, index) = get(port, "/");
    assert_eq!(status, 200);
    for report in ["a.html", "b.html", "c.html", "a.pdf"] {
        assert!(
            index.contains(&format!("href=\"/{report}\"")),
            "{report} listed"
        );
    }
    for path in [
        "/../revintel.toml",
        "/%2e%2e/revintel.toml",
        "/..%2frevintel.toml",
        "/deal/../../revintel.toml",
        "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    ] {
        let (status, body) = get(port, path);
        assert!(
            status == 403 || status == 404 || status == 400,
            "{path}: {status}"
        );
        assert!(!body.contains("as_of"), "{path} leaked the config");
        assert!(!body.contains("root:"), "{path} leaked /etc/passwd");
    }
}

/// A page elsewhere can make a browser send requests here (DNS rebinding),
/// but they name that page's host: only requests addressed to this server
/// are answered.
#[test]
fn other_sites_cannot_read_the_server() {
    let dir = project();
    let (_server, port) = serve(dir.path());
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, body) = get_as(port, "/a.html", Some(&host));
        assert_eq!(status, 200, "{host}");
        assert!(body.contains("Acme Core"), "{host}");
    }
    for host in [
        Some(format!("evil.example:{port}")),
        Some(format!("localhost.evil.example:{port}")),
        Some("127.0.0.1".to_string()),
        Some(format!("127.0.0.1:{}", port.wrapping_add(1))),
        None,
    ] {
        for path in ["/a.html", "/", "/a.pdf", "/_revintel/events"] {
            let (status, body) = get_as(port, path, host.as_deref());
            assert_eq!(status, 403, "{host:?} {path}");
            assert!(!body.contains("Acme"), "{host:?} {path}: {body}");
        }
    }
}

/// Hundreds of idle connections (more than the server takes at once), a
/// client that sends its headers a byte at a time and never finishes, and
/// more live-reload pages than allowed: the page still answers.
#[test]
fn idle_and_greedy_clients_do_not_starve_the_server() {
    let dir = project();
    let (mut server, port) = serve(dir.path());
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET /a.html HTTP/1.1\r\nHo").unwrap();
    let mut subscribers = Vec::new();
    let mut refused = 0;
    for _ in 0..80 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "GET /_revintel/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        if &head == b"HTTP/1.1 503" {
            refused += 1;
        } else {
            assert_eq!(&head, b"HTTP/1.1 200");
            subscribers.push(s);
        }
    }
    assert_eq!(subscribers.len(), 64, "live-reload pages are capped");
    assert_eq!(refused, 16);
    let (status, body) = get(port, "/a.html");
    assert_eq!(status, 200);
    assert!(body.contains("Acme Core"));
    assert!(server.alive());
    drop(idle);
}

fn chromedriver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_page_updates_itself_in_a_real_browser() {
    let Some(driver_path) = chromedriver() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium-driver must be installed in CI (.ci/run installs it)"
        );
        eprintln!(
            "SKIPPED: chromium-driver is not installed (apt install chromium chromium-driver)"
        );
        return;
    };
    let dir = project();
    let (mut server, port) = serve(dir.path());
    let driver_port = free_port();
    // Killed when the test ends, however it ends.
    let _driver = Killed(
        Command::new(driver_path)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let webdriver = format!("http://127.0.0.1:{driver_port}");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut client = None;
    // ChromeDriver and Chromium may take a while to come up on a busy machine.
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        match fantoccini::ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&webdriver)
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let client = client.expect("chromedriver accepts a session");
    let url = format!("http://127.0.0.1:{port}/a.html");
    client.goto(&url).await.unwrap();
    let body = client
        .find(fantoccini::Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Acme Core"), "{body}");
    // Mark this page load: a reload clears the mark.
    client
        .execute("window.revintelMark = 1; return 1;", vec![])
        .await
        .unwrap();
    // The page hears rebuilds only once its event stream is open: edit after.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let listening = client
            .execute(
                "return document.documentElement.dataset.revintelLive === '1';",
                vec![],
            )
            .await
            .unwrap();
        if listening == serde_json::Value::Bool(true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page never opened its event stream"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    edit(&dir.path().join("deals.csv"), "Acme Core,", "Zenith Core,");
    server.wait_for("a rebuilt", |l| l.starts_with("rebuilt a"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        let main = match client.find(fantoccini::Locator::Css("main")).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            // Between unload and load there is no page to read.
            Err(_) => String::new(),
        };
        if main.contains("Zenith Core") || Instant::now() > deadline {
            break main;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        text.contains("Zenith Core"),
        "the page updated itself: {text}"
    );
    let mark = client
        .execute("return window.revintelMark === undefined;", vec![])
        .await
        .unwrap();
    assert_eq!(mark, serde_json::Value::Bool(true), "by reloading itself");
    client.close().await.unwrap();
}

#[test]
fn an_unreadable_data_file_fails_the_reports_until_it_is_back() {
    let dir = project();
    let mut watch = Running::start(dir.path(), &["watch", "--format", "html"]);
    started(&mut watch);
    let before = outputs(dir.path());
    let deals = dir.path().join("deals.csv");
    let text = std::fs::read_to_string(&deals).unwrap();
    // A header that lacks a required column makes the file unreadable.
    save(&deals, &text.replacen("deal_id,", "id,", 1));
    let line = watch.wait_for("the failure", |l| l.starts_with("failed"));
    assert!(line.contains("deals.csv"), "names the file: {line}");
    assert!(
        changed(&before, &outputs(dir.path())).is_empty(),
        "last good outputs stay"
    );

    save(&deals, &text.replace("Acme Core,", "Acme Back,"));
    watch.wait_for("the error cleared", |l| l.starts_with("cleared *"));
    watch.wait_for("a rebuilt", |l| l.starts_with("rebuilt a"));
    let html = std::fs::read_to_string(dir.path().join("out/a.html")).unwrap();
    assert!(html.contains("Acme Back"));
    // Against the last good data only deals changed: b and c stay as they were.
    assert!(watch.drain(Duration::from_millis(800)).is_empty());
    assert_eq!(changed(&before, &outputs(dir.path())), ["a.html"]);
}

/// A template whose SQL is too deep to plan fails that report with a
/// located error; the watcher itself stays up and keeps rebuilding.
#[test]
fn a_statement_too_deep_fails_its_report_not_the_watcher() {
    let dir = project();
    let mut watch = Running::start(dir.path(), &["watch", "--format", "html"]);
    started(&mut watch);
    let template = dir.path().join("templates/a.md");
    let deep = format!(
        "SELECT {} AS deal_id, 'x' AS name",
        vec!["1"; 5000].join("+")
    );
    save(
        &template,
        &A.replace("SELECT deal_id, name FROM deals ORDER BY deal_id", &deep),
    );
    let line = watch.wait_for("a failed", |l| l.starts_with("failed a"));
    assert!(
        line.contains("nested too deeply") && line.contains("templates/a.md:"),
        "{line}"
    );
    assert!(watch.alive());
    save(&template, &A.replace("Marker: start.", "Marker: after."));
    watch.wait_for("a rebuilt", |l| l.starts_with("rebuilt a"));
    let html = std::fs::read_to_string(dir.path().join("out/a.html")).unwrap();
    assert!(html.contains("Marker: after."));
}

/// A project whose deals come from dated export drops in `exports/`
/// (`opportunities-*.csv`) instead of the folder's deals.csv; a drop is
/// settled after 5 s without growing, 50 times the pause of a slow writer.
fn drops_project() -> tempfile::TempDir {
    let dir = project();
    let exports = dir.path().join("exports");
    std::fs::create_dir(&exports).unwrap();
    std::fs::rename(
        dir.path().join("deals.csv"),
        exports.join("opportunities-2025-06-29.csv"),
    )
    .unwrap();
    let config = dir.path().join("revintel.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[[sources.import]]\nkind = \"csv\"\nentity = \"deals\"\npath = \"exports/opportunities-*.csv\"\nsettle_seconds = 5\n",
    );
    std::fs::write(&config, text).unwrap();
    dir
}

/// Writes `text` to `path` slowly, the way a large export lands: a piece
/// every 100 ms, cut mid-line, the file open throughout.
/// The file exists, with its first piece, when this returns.
fn write_slowly(path: &Path, text: &str) -> std::thread::JoinHandle<()> {
    let bytes = text.as_bytes().to_vec();
    let size = bytes.len().div_ceil(25);
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(&bytes[..size]).unwrap();
    file.flush().unwrap();
    std::thread::spawn(move || {
        for piece in bytes[size..].chunks(size) {
            std::thread::sleep(Duration::from_millis(100));
            file.write_all(piece).unwrap();
            file.flush().unwrap();
        }
    })
}

#[test]
fn an_export_drop_is_read_once_whole_and_rebuilds_what_reads_it() {
    let dir = drops_project();
    let exports = dir.path().join("exports");
    let old = std::fs::read_to_string(exports.join("opportunities-2025-06-29.csv")).unwrap();
    let new = format!(
        "{old}D9,Dropped Deal,A1,R1,P1,5000.00,USD,Prospecting,Pipeline,2025-06-20,2025-09-30,,open,Inbound,New Business,2025-06-28\n"
    );
    let rows = new.lines().count() - 1;
    // One-shot commands read the newest settled file and say which.
    let o = ok(revintel(dir.path(), &["import"]));
    assert!(o.contains("opportunities-2025-06-29.csv"), "{o}");
    assert!(
        o.contains("note: newest of 1 file(s) matching exports/opportunities-*.csv"),
        "{o}"
    );

    // A drop still being written is waited for, never read half-way.
    let writer = write_slowly(&exports.join("opportunities-2025-06-30.csv"), &new);
    let o = ok(revintel(dir.path(), &["import"]));
    writer.join().unwrap();
    assert!(o.contains("opportunities-2025-06-30.csv"), "{o}");
    assert!(o.contains("newest of 2 file(s)"), "{o}");
    let deals_row: Vec<&str> = o
        .lines()
        .find(|l| l.starts_with("opportunities "))
        .unwrap_or_else(|| panic!("a row for the import: {o}"))
        .split_whitespace()
        .collect();
    let rows_text = rows.to_string();
    assert_eq!(
        deals_row,
        [
            "opportunities",
            "csv",
            "deals",
            rows_text.as_str(),
            rows_text.as_str(),
            "0"
        ],
        "every row of the finished file read, none rejected: {o}"
    );
    let sql = |q: &str| ok(revintel(dir.path(), &["sql", "-c", q, "--format", "csv"]));
    assert_eq!(
        sql("SELECT count(*) AS n FROM deals"),
        format!("n\n{rows}\n")
    );

    // A live watch rebuilds when the next export lands, and reads it whole.
    let mut watch = Running::start(dir.path(), &["watch"]);
    started(&mut watch);
    let newer = format!(
        "{new}D10,Another Drop,A2,R2,P2,7000.00,USD,Prospecting,Pipeline,2025-06-25,2025-09-30,,open,Inbound,New Business,2025-06-29\n"
    );
    write_slowly(&exports.join("opportunities-2025-07-01.csv"), &newer)
        .join()
        .unwrap();
    let line = watch.wait_for("a rebuilt with the drop", |l| {
        l.starts_with("rebuilt a")
            && std::fs::read_to_string(dir.path().join("out/a.html"))
                .is_ok_and(|h| h.contains("Another Drop"))
    });
    assert!(line.contains("deals changed"), "{line}");
    let html = std::fs::read_to_string(dir.path().join("out/a.html")).unwrap();
    assert!(html.contains("Dropped Deal") && html.contains("Another Drop"));
    assert!(
        !watch.seen.iter().any(|l| l.starts_with("failed")),
        "no rebuild read the drop half-way: {:?}",
        watch.seen
    );
    let rejects = dir.path().join("out/rejects.csv");
    assert!(!rejects.exists() || std::fs::read_to_string(&rejects).unwrap().lines().count() <= 1);
}
