//! A real SMTP server on loopback for the email delivery tests:
//! `tests/fixtures/smtp_server.py` (aiosmtpd) started in a temporary folder on
//! a free port, optionally with STARTTLS or implicit TLS (a self-signed
//! certificate made with the `openssl` CLI), required AUTH, rejected
//! recipients, failing DATA and holds in RCPT or DATA. Every message it
//! accepts is read back with [`SmtpServer::received`]: the envelope, TLS,
//! the authenticated user, and the exact bytes.
//!
//! Skipped, loudly, only where Python's aiosmtpd is missing and this is not
//! CI; `.ci/run` installs it. The smoke tests below prove the harness with
//! lettre, the client the engine sends with.

use crate::common::{fixture, self_signed_certificate};

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// How the server offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// STARTTLS offered and required before MAIL (and before AUTH).
    StartTls,
    /// Implicit TLS from the first byte (SMTPS).
    Wrapper,
}

/// What the server does besides accepting mail.
#[derive(Default)]
pub struct SmtpOptions {
    pub tls: Option<Tls>,
    /// A user and password to require (AUTH PLAIN and LOGIN); a wrong
    /// password gets 535.
    pub auth: Option<(String, String)>,
    /// Recipients answered `550 5.1.1 mailbox unavailable`.
    pub reject: Vec<String>,
    /// The first `fail_data` DATA transactions get `451 4.3.0`, nothing stored.
    pub fail_data: usize,
    /// While this file exists the server waits in DATA, before storing (and
    /// stores even if the client has gone meanwhile); see [`SmtpServer::holding`].
    pub hold_file: Option<PathBuf>,
    /// While this file exists the server waits in RCPT, before any message;
    /// see [`SmtpServer::holding_rcpt`].
    pub hold_rcpt_file: Option<PathBuf>,
}

/// One accepted message, as the server logged and stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// 1, 2, 3… in the order accepted.
    pub seq: usize,
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// Whether the session was encrypted at DATA.
    pub tls: bool,
    pub auth_user: Option<String>,
    /// The `Message-ID` header as sent, angle brackets included.
    pub message_id: Option<String>,
    /// The exact bytes of DATA (dot-unstuffed, without the final `.`).
    pub eml: Vec<u8>,
}

/// A running server; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct SmtpServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    tls: Option<Tls>,
    ca: Option<PathBuf>,
    tmp: tempfile::TempDir,
}

/// Whether `python3` can import aiosmtpd, asked once.
fn aiosmtpd_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

impl SmtpServer {
    /// Starts a server on 127.0.0.1 and a free port, or returns `None` (and
    /// says so on stderr) where aiosmtpd is missing outside CI.
    pub fn start(opts: SmtpOptions) -> Option<SmtpServer> {
        Self::start_on(0, opts)
    }

    /// [`SmtpServer::start`] on a given port (0: a free one), e.g. one a
    /// client was already told about while no server listened there.
    pub fn start_on(port: u16, opts: SmtpOptions) -> Option<SmtpServer> {
        if !aiosmtpd_available() {
            if std::env::var_os("CI").is_some() {
                panic!("python3 cannot import aiosmtpd in CI; .ci/run must install aiosmtpd");
            }
            eprintln!("\n*** SKIPPED smtp test: python3 cannot import aiosmtpd (python3 -m pip install aiosmtpd) ***\n");
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mail");
        std::fs::create_dir(&dir).unwrap();
        let script = fixture("smtp_server.py");
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(&dir);

        let mut ca = None;
        if let Some(tls) = &opts.tls {
            let (cert, key) = self_signed_certificate(tmp.path());
            cmd.arg("--tls-cert").arg(&cert).arg("--tls-key").arg(&key);
            if matches!(tls, Tls::Wrapper) {
                cmd.arg("--smtps");
            }
            ca = Some(cert);
        }
        if let Some((user, password)) = &opts.auth {
            cmd.arg("--auth").arg(format!("{user}:{password}"));
        }
        for address in &opts.reject {
            cmd.arg("--reject-rcpt").arg(address);
        }
        cmd.arg("--fail-data").arg(opts.fail_data.to_string());
        if let Some(path) = &opts.hold_file {
            cmd.arg("--hold-file").arg(path);
        }
        if let Some(path) = &opts.hold_rcpt_file {
            cmd.arg("--hold-rcpt-file").arg(path);
        }

        let stderr = File::create(tmp.path().join("stderr.log")).unwrap();
        let child = cmd
            .current_dir(tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("python3 starts");
        let mut server = SmtpServer {
            child,
            port: 0,
            dir,
            tls: opts.tls,
            ca,
            tmp,
        };
        let stdout = server.child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Drained to the end, so the server never blocks on a full pipe.
            lines.for_each(drop);
        });
        let port = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Some(Ok(line))) => line.strip_prefix("PORT ").and_then(|p| p.parse().ok()),
            _ => None,
        };
        // On panic, dropping `server` stops the child.
        server.port = port.unwrap_or_else(|| {
            panic!(
                "{} did not print `PORT <n>` within 30 s; its stderr:\n{}",
                script.display(),
                server.stderr()
            )
        });
        Some(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the messages (`0001.eml`…) and `log.jsonl` are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The self-signed certificate the server presents (for `localhost` and
    /// 127.0.0.1), for the client to trust as a root; `None` without TLS.
    pub fn ca_pem_path(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// Every message accepted so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let Ok(log) = std::fs::read_to_string(self.dir.join("log.jsonl")) else {
            return Vec::new();
        };
        // Only whole lines: the server may be mid-write.
        let whole = &log[..log.rfind('\n').map_or(0, |i| i + 1)];
        whole
            .lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("bad log.jsonl line {line:?}: {e}"));
                let text = |key: &str| v[key].as_str().map(str::to_owned);
                Received {
                    seq: v["seq"].as_u64().expect("seq") as usize,
                    mail_from: text("mail_from").expect("mail_from"),
                    rcpt_tos: v["rcpt_tos"]
                        .as_array()
                        .expect("rcpt_tos")
                        .iter()
                        .map(|r| r.as_str().expect("a recipient").to_owned())
                        .collect(),
                    tls: v["tls"].as_bool().expect("tls"),
                    auth_user: text("auth_user"),
                    message_id: text("message_id"),
                    eml: std::fs::read(self.dir.join(text("file").expect("file"))).unwrap(),
                }
            })
            .collect()
    }

    /// Waits until at least `n` messages were accepted; panics at `limit`
    /// with what there is.
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{n} message(s) expected within {limit:?}, got {}: {received:#?}\nserver stderr:\n{}",
                received.len(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether a client is waiting in DATA on the hold file.
    pub fn holding(&self) -> bool {
        self.dir.join("holding").exists()
    }

    /// Whether a client is waiting in RCPT on the hold-rcpt file.
    pub fn holding_rcpt(&self) -> bool {
        self.dir.join("holding-rcpt").exists()
    }

    /// What the server wrote to stderr so far.
    fn stderr(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) has no memory effects; the pid is our child's,
            // not yet reaped, so it cannot name another process.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The harness's own smoke tests, with lettre (the engine's client) sending.
mod smoke {
    use super::*;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{self, Certificate, TlsParameters};
    use lettre::{Message, SmtpTransport, Transport};
    use std::io::Write;
    use std::net::TcpStream;

    const BODY: &str = "Pipeline up 4%.\r\n.A line starting with a dot.\r\n";

    fn message(subject: &str) -> Message {
        Message::builder()
            .from("Revintel <reports@example.com>".parse().unwrap())
            .to("Ana <ana@example.com>".parse().unwrap())
            .cc("bo@example.com".parse().unwrap())
            .subject(subject)
            .message_id(Some("<smoke-1@revintel.test>".into()))
            .body(String::from(BODY))
            .unwrap()
    }

    /// A lettre transport to `server`, trusting its certificate when TLS is on.
    fn transport(server: &SmtpServer, credentials: Option<(&str, &str)>) -> SmtpTransport {
        let tls = match (&server.ca, server.tls) {
            (Some(ca), Some(mode)) => {
                let pem = std::fs::read(ca).unwrap();
                let params = TlsParameters::builder("localhost".into())
                    .add_root_certificate(Certificate::from_pem(&pem).unwrap())
                    .build_rustls()
                    .unwrap();
                match mode {
                    Tls::StartTls => client::Tls::Required(params),
                    Tls::Wrapper => client::Tls::Wrapper(params),
                }
            }
            _ => client::Tls::None,
        };
        let mut builder = SmtpTransport::builder_dangerous("127.0.0.1")
            .port(server.port())
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user.into(), password.into()));
        }
        builder.build()
    }

    /// The number of `.eml` files stored, which must match the log.
    fn stored(server: &SmtpServer) -> usize {
        let files = std::fs::read_dir(server.dir())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("eml".as_ref()))
            .count();
        assert_eq!(files, server.received().len(), "{:?}", server.dir());
        files
    }

    fn code(err: &lettre::transport::smtp::Error) -> String {
        err.status().map(|c| c.to_string()).unwrap_or_default()
    }

    fn eventually(what: &str, cond: impl Fn() -> bool) {
        // Only a guard against a hung test: on time it returns at once.
        let deadline = Instant::now() + Duration::from_secs(120);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn plain_send_stores_the_envelope_and_the_exact_bytes() {
        let Some(server) = SmtpServer::start(SmtpOptions::default()) else {
            return;
        };
        let email = message("Weekly briefing");
        transport(&server, None).send(&email).unwrap();
        let got = server.wait_for(1, Duration::from_secs(120));
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(r.seq, 1);
        assert_eq!(r.mail_from, "reports@example.com");
        assert_eq!(r.rcpt_tos, ["ana@example.com", "bo@example.com"]);
        assert!(!r.tls);
        assert_eq!(r.auth_user, None);
        assert_eq!(r.message_id.as_deref(), Some("<smoke-1@revintel.test>"));
        let text = String::from_utf8(r.eml.clone()).unwrap();
        assert!(text.contains("\r\nSubject: Weekly briefing\r\n"), "{text}");
        // What lettre formatted, byte for byte (the dot-stuffing undone, CRLFs
        // kept), plus the CRLF lettre always puts before the final `.`.
        assert_eq!(r.eml, [email.formatted(), b"\r\n".to_vec()].concat());
        assert!(r.eml.ends_with(format!("{BODY}\r\n").as_bytes()));
        assert_eq!(stored(&server), 1);
        assert_eq!(std::fs::read(server.dir().join("0001.eml")).unwrap(), r.eml);
    }

    #[test]
    fn starttls_with_auth_uses_the_self_signed_certificate() {
        let Some(server) = SmtpServer::start(SmtpOptions {
            tls: Some(Tls::StartTls),
            auth: Some(("reports".into(), "s3cret".into())),
            ..SmtpOptions::default()
        }) else {
            return;
        };
        assert!(server.ca_pem_path().is_some_and(Path::is_file));
        transport(&server, Some(("reports", "s3cret")))
            .send(&message("Over STARTTLS"))
            .unwrap();
        let got = server.wait_for(1, Duration::from_secs(120));
        assert!(got[0].tls, "{got:?}");
        assert_eq!(got[0].auth_user.as_deref(), Some("reports"));
    }

    #[test]
    fn implicit_tls_wrapper() {
        let Some(server) = SmtpServer::start(SmtpOptions {
            tls: Some(Tls::Wrapper),
            ..SmtpOptions::default()
        }) else {
            return;
        };
        transport(&server, None)
            .send(&message("Over SMTPS"))
            .unwrap();
        let got = server.wait_for(1, Duration::from_secs(120));
        assert!(got[0].tls, "{got:?}");
    }

    #[test]
    fn a_wrong_password_gets_535_and_nothing_is_stored() {
        let Some(server) = SmtpServer::start(SmtpOptions {
            auth: Some(("reports".into(), "s3cret".into())),
            ..SmtpOptions::default()
        }) else {
            return;
        };
        let err = transport(&server, Some(("reports", "wrong")))
            .send(&message("Denied"))
            .unwrap_err();
        assert!(err.is_permanent(), "{err}");
        assert_eq!(code(&err), "535", "{err}");
        // Without credentials at all, MAIL is refused too.
        let err = transport(&server, None)
            .send(&message("Anonymous"))
            .unwrap_err();
        assert!(err.is_permanent(), "{err}");
        assert_eq!(stored(&server), 0);
        // The right password goes through, over plaintext (no certificate given).
        transport(&server, Some(("reports", "s3cret")))
            .send(&message("Allowed"))
            .unwrap();
        let got = server.wait_for(1, Duration::from_secs(120));
        assert_eq!(got[0].auth_user.as_deref(), Some("reports"));
    }

    #[test]
    fn a_rejected_recipient_is_a_permanent_error_and_nothing_is_stored() {
        let Some(server) = SmtpServer::start(SmtpOptions {
            reject: vec!["bo@example.com".into()],
            ..SmtpOptions::default()
        }) else {
            return;
        };
        let err = transport(&server, None)
            .send(&message("Half rejected"))
            .unwrap_err();
        assert!(err.is_permanent(), "{err}");
        assert_eq!(code(&err), "550", "{err}");
        assert_eq!(stored(&server), 0);
    }

    #[test]
    fn a_failed_data_is_transient_and_the_retry_succeeds() {
        let Some(server) = SmtpServer::start(SmtpOptions {
            fail_data: 1,
            ..SmtpOptions::default()
        }) else {
            return;
        };
        let smtp = transport(&server, None);
        let err = smtp.send(&message("Try 1")).unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert_eq!(code(&err), "451", "{err}");
        assert_eq!(stored(&server), 0);
        smtp.send(&message("Try 2")).unwrap();
        let got = server.wait_for(1, Duration::from_secs(120));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].seq, 1);
        assert!(String::from_utf8_lossy(&got[0].eml).contains("Subject: Try 2\r\n"));
    }

    #[test]
    fn holds_in_rcpt_then_in_data_until_released() {
        let holds = tempfile::tempdir().unwrap();
        let (rcpt, data) = (holds.path().join("rcpt"), holds.path().join("data"));
        std::fs::write(&rcpt, "").unwrap();
        std::fs::write(&data, "").unwrap();
        let Some(server) = SmtpServer::start(SmtpOptions {
            hold_file: Some(data.clone()),
            hold_rcpt_file: Some(rcpt.clone()),
            ..SmtpOptions::default()
        }) else {
            return;
        };
        let smtp = transport(&server, None);
        let sender = std::thread::spawn(move || smtp.send(&message("Held")));
        eventually("held in RCPT", || server.holding_rcpt());
        assert!(!server.holding());
        std::fs::remove_file(&rcpt).unwrap();
        eventually("held in DATA", || server.holding());
        assert!(!server.holding_rcpt());
        assert_eq!(stored(&server), 0);
        std::fs::remove_file(&data).unwrap();
        sender.join().unwrap().unwrap();
        assert_eq!(server.wait_for(1, Duration::from_secs(120)).len(), 1);
        assert!(!server.holding());
    }

    /// A bare SMTP client, to go away mid-transaction as a killed process would.
    struct Raw(BufReader<TcpStream>);

    impl Raw {
        fn connect(port: u16) -> Raw {
            let mut raw = Raw(BufReader::new(
                TcpStream::connect(("127.0.0.1", port)).unwrap(),
            ));
            assert!(raw.reply().starts_with("220"));
            raw
        }

        fn send(&mut self, line: &str) {
            write!(self.0.get_mut(), "{line}\r\n").unwrap();
        }

        /// The last line of a (possibly multi-line) reply.
        fn reply(&mut self) -> String {
            loop {
                let mut line = String::new();
                self.0.read_line(&mut line).unwrap();
                if line.len() < 4 || line.as_bytes()[3] == b' ' {
                    return line;
                }
            }
        }

        fn command(&mut self, line: &str, expect: &str) {
            self.send(line);
            let reply = self.reply();
            assert!(reply.starts_with(expect), "{line} -> {reply}");
        }
    }

    #[test]
    fn a_client_gone_in_rcpt_leaves_nothing_but_one_gone_in_data_is_stored() {
        let holds = tempfile::tempdir().unwrap();
        let (rcpt, data) = (holds.path().join("rcpt"), holds.path().join("data"));
        std::fs::write(&rcpt, "").unwrap();
        std::fs::write(&data, "").unwrap();
        let Some(server) = SmtpServer::start(SmtpOptions {
            hold_file: Some(data.clone()),
            hold_rcpt_file: Some(rcpt.clone()),
            ..SmtpOptions::default()
        }) else {
            return;
        };

        let mut raw = Raw::connect(server.port());
        raw.command("EHLO client", "250");
        raw.command("MAIL FROM:<reports@example.com>", "250");
        raw.send("RCPT TO:<ana@example.com>");
        eventually("held in RCPT", || server.holding_rcpt());
        drop(raw);
        eventually("RCPT hold abandoned", || !server.holding_rcpt());
        std::fs::remove_file(&rcpt).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(stored(&server), 0);

        let mut raw = Raw::connect(server.port());
        raw.command("EHLO client", "250");
        raw.command("MAIL FROM:<reports@example.com>", "250");
        raw.command("RCPT TO:<ana@example.com>", "250");
        raw.command("DATA", "354");
        raw.send("Subject: Committed\r\n\r\n..dot\r\n.");
        eventually("held in DATA", || server.holding());
        drop(raw);
        std::fs::remove_file(&data).unwrap();
        let got = server.wait_for(1, Duration::from_secs(120));
        assert_eq!(got[0].eml, b"Subject: Committed\r\n\r\n.dot\r\n");
        assert_eq!(got[0].rcpt_tos, ["ana@example.com"]);
    }
}
