//! `revintel deliver` and `revintel schedule` against a real SMTP server
//! on loopback ([`crate::smtp`]): what the server received (recipients,
//! subject, the PDF byte for byte, an escaped HTML part), TLS and login,
//! failures reported as what they are, one version per audience, and
//! exactly-once across restarts and a kill -9.

use crate::common::{fixture, repo, reserved_port, revintel, stderr, stdout, Killed};
use crate::smtp::{Received, SmtpOptions, SmtpServer, Tls};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Parts of a received message, parsed by Python's `email` package (an
/// implementation independent of the one that wrote it).
#[derive(Debug)]
struct Mail {
    headers: Vec<(String, String)>,
    subject: String,
    text: String,
    html: String,
    attachments: Vec<(String, String, Vec<u8>)>,
}

const PARSE: &str = r#"
import email, json, sys
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
out = {"headers": [[k, str(v)] for k, v in m.items()], "subject": str(m["subject"]),
       "text": "", "html": "", "attachments": []}
for part in m.walk():
    if part.is_multipart():
        continue
    if part.get_filename():
        out["attachments"].append([part.get_filename(), part.get_content_type(),
                                   part.get_payload(decode=True).hex()])
    elif part.get_content_type() == "text/plain":
        out["text"] = part.get_content()
    elif part.get_content_type() == "text/html":
        out["html"] = part.get_content()
print(json.dumps(out))
"#;

fn parse(eml: &[u8]) -> Mail {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(eml).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the message parses");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    Mail {
        headers: v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
            .collect(),
        subject: text("subject"),
        text: text("text"),
        html: text("html"),
        attachments: v["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a[0].as_str().unwrap().into(),
                    a[1].as_str().unwrap().into(),
                    hex(a[2].as_str().unwrap()),
                )
            })
            .collect(),
    }
}

/// A project of the tiny fixture whose first deal is named `first_name`,
/// with the delivery test templates and `deliveries` (TOML) in its config.
fn tiny(first_name: &str, deliveries: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("tiny")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if name == "revintel.toml" {
            continue;
        }
        let mut text = std::fs::read_to_string(&path).unwrap();
        if name == "deals.csv" {
            text = text.replacen(
                "D1,Acme Core,",
                &format!("D1,\"{}\",", first_name.replace('"', "\"\"")),
                1,
            );
        }
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let config = format!(
        "as_of = \"2025-06-30\"\n[sources]\nfolder = \".\"\n[paths]\ntemplates = \"{}\"\n\n{deliveries}",
        fixture("deliveries").display()
    );
    std::fs::write(dir.path().join("revintel.toml"), config).unwrap();
    dir
}

/// A project reading the built demo's data and models (see
/// [`crate::reports::demo`]) with the shipped templates, its own output and
/// ledger, and `deliveries` in its config.
fn demo(deliveries: &str) -> tempfile::TempDir {
    let built = crate::reports::demo();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[sources]\nfolder = \"{}\"\n[paths]\nmodels = \"{}\"\ntemplates = \"{}\"\n\n{deliveries}",
        built.join("seeds").display(),
        built.join("models").display(),
        repo().join("templates").display()
    );
    std::fs::write(dir.path().join("revintel.toml"), config).unwrap();
    dir
}

/// The delivery of the `deal_list` test template to `to` through `server`
/// (`smtp_extra`: more keys for its `[deliveries.smtp]` table).
fn deals_to(to: &str, server: &SmtpServer, smtp_extra: &str) -> String {
    format!(
        "[[deliveries]]\nname = \"deals\"\ntemplate = \"deal_list\"\nfrom = \"revintel@example.com\"\nto = [\"{to}\"]\n{}",
        smtp_table(server, smtp_extra)
    )
}

/// A `[deliveries.smtp]` table for `server` (plain unless it has TLS).
fn smtp_table(server: &SmtpServer, extra: &str) -> String {
    let security = match server.ca_pem_path() {
        Some(_) => format!(
            "security = \"starttls\"\nca_file = \"{}\"\n",
            server.ca_pem_path().unwrap().display()
        ),
        None => "security = \"none\"\n".into(),
    };
    format!(
        "[deliveries.smtp]\nhost = \"127.0.0.1\"\nport = {}\n{security}retry_seconds = 0\n{extra}",
        server.port()
    )
}

fn ledger(dir: &Path) -> serde_json::Value {
    let path = dir.join(".revintel/deliveries.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn entries(dir: &Path) -> Vec<serde_json::Value> {
    ledger(dir)["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn html_doc(html: &str) -> scraper::Html {
    scraper::Html::parse_document(html)
}

fn count(doc: &scraper::Html, selector: &str) -> usize {
    doc.select(&scraper::Selector::parse(selector).unwrap())
        .count()
}

fn pdf_text(bytes: &[u8]) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let o = std::process::Command::new("pdftotext")
        .arg(file.path())
        .arg("-")
        .output()
        .expect("pdftotext runs");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn demo_sql(dir: &Path, sql: &str) -> Vec<String> {
    let o = revintel(dir, &["sql", "-c", sql, "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).lines().skip(1).map(str::to_string).collect()
}

#[test]
fn the_briefing_arrives_with_its_pdf_an_html_part_and_a_text_part_once() {
    let Some(server) = SmtpServer::start(SmtpOptions::default()) else {
        return;
    };
    let dir = demo(&format!(
        "[[deliveries]]\nname = \"weekly\"\ntemplate = \"weekly_briefing\"\nfrom = \"revintel@example.com\"\n\
         to = [\"vp@example.com\"]\ncc = [\"cro@example.com\"]\nbcc = [\"revops@example.com\"]\n\
         subject = \"Pipeline {{{{ as_of | date }}}}: P50 {{{{ quarter.rows[0].p50 | money }}}}\"\n{}",
        smtp_table(&server, "")
    ));
    let o = revintel(dir.path(), &["deliver", "weekly"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("weekly (all): sent to vp@example.com"),
        "{}",
        stdout(&o)
    );
    let got = server.wait_for(1, Duration::from_secs(30));
    assert_eq!(got.len(), 1);
    let m = &got[0];
    let mut rcpt = m.rcpt_tos.clone();
    rcpt.sort();
    assert_eq!(
        rcpt,
        ["cro@example.com", "revops@example.com", "vp@example.com"]
    );
    let mail = parse(&m.eml);
    assert!(
        !mail
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("bcc")),
        "Bcc is not shown to the other recipients"
    );
    // The subject's figures are the forecast's.
    let p50: f64 = demo_sql(
        dir.path(),
        "SELECT f.p50 FROM forecast f, report_dates r WHERE f.period_start = r.quarter_start",
    )[0]
    .parse()
    .unwrap();
    assert_eq!(
        mail.subject,
        format!("Pipeline 23 Nov 2026: P50 ${:.1}M", p50 / 1e6)
    );
    // The PDF attached is the one written under out/, byte for byte.
    assert_eq!(mail.attachments.len(), 1);
    let (name, kind, bytes) = &mail.attachments[0];
    assert_eq!(
        (name.as_str(), kind.as_str()),
        ("weekly_briefing.pdf", "application/pdf")
    );
    let written: Vec<PathBuf> = walk(&dir.path().join("out/deliveries/weekly"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    assert_eq!(written.len(), 1);
    assert_eq!(bytes, &std::fs::read(&written[0]).unwrap());
    assert!(pdf_text(bytes).contains("Forecast for the quarter"));
    // The HTML part is made for mail: no script, no style sheet, no image
    // that could fail to load; charts become their figures or a pointer.
    let doc = html_doc(&mail.html);
    assert_eq!(count(&doc, "script"), 0);
    assert_eq!(count(&doc, "style"), 0);
    assert_eq!(count(&doc, "img"), 0);
    assert_eq!(count(&doc, "svg"), 0);
    assert!(count(&doc, "table") >= 3, "KPIs and tables are there");
    assert!(mail.html.contains("Deals at risk this quarter and next"));
    assert!(mail.html.contains("see the attached weekly_briefing.pdf"));
    // Relative links to deal pages cannot work in a mail: none is left.
    for a in doc.select(&scraper::Selector::parse("a").unwrap()) {
        let href = a.value().attr("href").unwrap_or_default();
        assert!(
            href.starts_with("http") || href.starts_with("mailto:"),
            "{href}"
        );
    }
    assert!(mail.text.contains("P50 (likely): $"), "{}", mail.text);
    assert!(mail.text.contains("Deals at risk this quarter and next"));

    // Exactly once: the same period is not sent again.
    let again = revintel(dir.path(), &["deliver", "weekly"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("already sent"),
        "{}",
        stdout(&again)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.received().len(), 1);
    let e = entries(dir.path());
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["state"], "sent");
    assert_eq!(e[0]["message_id"].as_str(), m.message_id.as_deref());
    let status = revintel(dir.path(), &["deliver", "--status"]);
    assert!(
        stdout(&status).contains(" sent · attempts 1"),
        "{}",
        stdout(&status)
    );

    // --dry-run writes the message for review and sends nothing.
    let dry = revintel(dir.path(), &["deliver", "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let eml: Vec<PathBuf> = walk(&dir.path().join("out/outbox"));
    assert_eq!(eml.len(), 1, "{eml:?}");
    assert!(parse(&std::fs::read(&eml[0]).unwrap())
        .subject
        .starts_with("Pipeline 23 Nov 2026"));
    assert_eq!(server.received().len(), 1);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn each_manager_receives_their_own_teams_briefing_and_no_other_deals() {
    let Some(server) = SmtpServer::start(SmtpOptions::default()) else {
        return;
    };
    let dir = demo(&format!(
        "[[deliveries]]\nname = \"teams\"\ntemplate = \"weekly_briefing\"\nfrom = \"revintel@example.com\"\n\
         subject = \"Briefing for {{{{ team }}}}\"\n\
         [deliveries.split.mapping]\n\"east.lead@example.com\" = {{ team = \"East\" }}\n\"west.lead@example.com\" = {{ team = \"West\" }}\n{}",
        smtp_table(&server, "")
    ));
    let o = revintel(dir.path(), &["deliver"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let got = server.wait_for(2, Duration::from_secs(30));
    assert_eq!(got.len(), 2);
    let names_of = |team: &str, equal: bool| -> Vec<String> {
        demo_sql(
            dir.path(),
            &format!(
                "SELECT d.name FROM deals d JOIN reps r ON r.rep_id = d.owner_id WHERE r.team {} '{team}'",
                if equal { "=" } else { "<>" }
            ),
        )
        .into_iter()
        .map(|n| n.trim_matches('"').to_string())
        .collect()
    };
    for (team, lead) in [
        ("East", "east.lead@example.com"),
        ("West", "west.lead@example.com"),
    ] {
        let m: &Received = got
            .iter()
            .find(|m| m.rcpt_tos == [lead])
            .unwrap_or_else(|| panic!("a message to {lead} alone: {got:?}"));
        let mail = parse(&m.eml);
        assert_eq!(mail.subject, format!("Briefing for {team}"));
        let pdf = pdf_text(&mail.attachments[0].2).replace('\n', " ");
        let doc = html_doc(&mail.html);
        let cells: Vec<String> = doc
            .select(&scraper::Selector::parse("td").unwrap())
            .map(|c| c.text().collect::<String>())
            .collect();
        let own = names_of(team, true);
        let others = names_of(team, false);
        let listed: Vec<&String> = cells.iter().filter(|c| own.contains(c)).collect();
        assert!(
            listed.len() >= 3,
            "{team}'s own deals are listed: {listed:?}"
        );
        for c in &cells {
            assert!(
                !others.contains(c) || own.contains(c),
                "{team}'s briefing shows another team's deal {c:?}"
            );
        }
        // The PDF too: no other team's deal name appears in it.
        // (A name that is part of one of the team's own names, as the PDF
        // may wrap it, proves nothing either way.)
        for name in others
            .iter()
            .filter(|n| n.len() > 12 && !own.iter().any(|o| o.contains(n.as_str())))
        {
            assert!(!pdf.contains(name.as_str()), "{team}'s PDF names {name:?}");
        }
        assert!(mail.html.contains(&format!("Team {team}")));
    }
}

#[test]
fn crm_text_cannot_inject_headers_or_markup() {
    let Some(server) = SmtpServer::start(SmtpOptions::default()) else {
        return;
    };
    let evil = "Acme\r\nBcc: thief@example.com\r\nX-Injected: yes <script>alert(1)</script>";
    let dir = tiny(
        evil,
        "[[deliveries]]\nname = \"deals\"\ntemplate = \"deal_list\"\nfrom = \"revintel@example.com\"\nto = [\"ops@example.com\"]\n\
         subject = \"First deal: {{ deal_rows.rows[0].name }}\"\n",
    );
    let config = dir.path().join("revintel.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&smtp_table(&server, ""));
    std::fs::write(&config, text).unwrap();
    let o = revintel(dir.path(), &["deliver"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let m = &server.wait_for(1, Duration::from_secs(30))[0];
    assert_eq!(m.rcpt_tos, ["ops@example.com"], "no recipient smuggled in");
    let mail = parse(&m.eml);
    for (k, _) in &mail.headers {
        assert!(
            !k.eq_ignore_ascii_case("bcc") && !k.eq_ignore_ascii_case("x-injected"),
            "{k}"
        );
    }
    assert_eq!(
        mail.subject,
        "First deal: Acme Bcc: thief@example.com X-Injected: yes <script>alert(1)</script>"
    );
    let doc = html_doc(&mail.html);
    assert_eq!(count(&doc, "script"), 0);
    assert!(
        mail.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        mail.html
    );
}

#[test]
fn starttls_with_a_self_signed_certificate_and_a_login() {
    let Some(server) = SmtpServer::start(SmtpOptions {
        tls: Some(Tls::StartTls),
        auth: Some(("revintel".into(), "s3cret".into())),
        ..SmtpOptions::default()
    }) else {
        return;
    };
    let dir = tiny(
        "Acme Core",
        &format!(
            "[[deliveries]]\nname = \"deals\"\ntemplate = \"deal_list\"\nfrom = \"revintel@example.com\"\nto = [\"ops@example.com\"]\nformats = [\"pdf\"]\n{}",
            smtp_table(&server, "user = \"revintel\"\npassword_env = \"TEST_SMTP_PASSWORD\"\n")
        ),
    );
    // A wrong password is reported as such, retried not at all, never marked sent.
    let o = crate::common::command(dir.path())
        .args(["deliver"])
        .env("TEST_SMTP_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("authentication refused by the mail server"),
        "{}",
        stderr(&o)
    );
    let e = entries(dir.path());
    assert_eq!(
        (e[0]["state"].as_str(), e[0]["attempts"].as_u64()),
        (Some("failed"), Some(1))
    );
    assert!(
        e[0]["retry_at"].is_null(),
        "a refused login is not retried by itself"
    );
    let status = stdout(&revintel(dir.path(), &["deliver", "--status"]));
    assert!(
        status.contains("FAILED") && status.contains("authentication refused"),
        "{status}"
    );
    assert!(server.received().is_empty());
    // The right one: over TLS, logged in.
    let o = crate::common::command(dir.path())
        .args(["deliver"])
        .env("TEST_SMTP_PASSWORD", "s3cret")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m = &server.wait_for(1, Duration::from_secs(30))[0];
    assert!(m.tls, "sent over STARTTLS");
    assert_eq!(m.auth_user.as_deref(), Some("revintel"));
    let mail = parse(&m.eml);
    assert!(mail.html.is_empty(), "formats = [\"pdf\"]: no HTML part");
    assert!(mail.text.contains("Acme Core"));
    assert_eq!(entries(dir.path())[0]["state"], "sent");
}

#[test]
fn a_password_in_the_config_is_refused() {
    let dir = tiny(
        "Acme Core",
        "[[deliveries]]\nname = \"deals\"\ntemplate = \"deal_list\"\nfrom = \"revintel@example.com\"\nto = [\"ops@example.com\"]\n\
         [deliveries.smtp]\nhost = \"127.0.0.1\"\nuser = \"u\"\npassword = \"hunter2\"\n",
    );
    let o = revintel(dir.path(), &["deliver", "--status"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("passwords are never read from revintel.toml"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("hunter2"));
}

#[test]
fn rejected_recipients_and_a_server_that_is_down_are_reported_and_retried() {
    let Some(server) = SmtpServer::start(SmtpOptions {
        reject: vec!["gone@example.com".into()],
        ..SmtpOptions::default()
    }) else {
        return;
    };
    let dir = tiny(
        "Acme Core",
        &deals_to("gone@example.com", &server, "attempts = 3\n"),
    );
    let o = revintel(dir.path(), &["deliver"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("rejected by the mail server"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("after 1 attempt"),
        "a rejection is not retried: {}",
        stderr(&o)
    );
    assert!(server.received().is_empty());

    // A server that is down: every attempt made, with backoff, then reported.
    let (port, reservation) = reserved_port();
    let down = tiny(
        "Acme Core",
        &format!(
            "[[deliveries]]\nname = \"deals\"\ntemplate = \"deal_list\"\nfrom = \"revintel@example.com\"\nto = [\"ops@example.com\"]\n\
             [deliveries.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nattempts = 3\nretry_seconds = 0\n"
        ),
    );
    let o = revintel(down.path(), &["deliver"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("mail server not reachable"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("after 3 attempt"), "{}", stderr(&o));
    let e = entries(down.path());
    assert_eq!(
        (e[0]["state"].as_str(), e[0]["attempts"].as_u64()),
        (Some("failed"), Some(3))
    );
    // Up again: sent once, the earlier attempts counted.
    drop(reservation);
    let Some(up) = SmtpServer::start_on(port, SmtpOptions::default()) else {
        return;
    };
    let o = revintel(down.path(), &["deliver"]);
    assert!(o.status.success(), "{}", stderr(&o));
    up.wait_for(1, Duration::from_secs(30));
    let e = entries(down.path());
    assert_eq!(
        (e[0]["state"].as_str(), e[0]["attempts"].as_u64()),
        (Some("sent"), Some(4))
    );

    // A temporary refusal (451) is retried and then accepted.
    let Some(busy) = SmtpServer::start(SmtpOptions {
        fail_data: 1,
        ..SmtpOptions::default()
    }) else {
        return;
    };
    let again = tiny(
        "Acme Core",
        &deals_to("ops@example.com", &busy, "attempts = 3\n"),
    );
    let o = revintel(again.path(), &["deliver"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("(attempt 2)"), "{}", stdout(&o));
    assert_eq!(busy.wait_for(1, Duration::from_secs(30)).len(), 1);
}

/// Runs `revintel deliver` in the background, waits until the server holds
/// it at `held`, and kills it with SIGKILL.
fn kill_while_held(dir: &Path, held: impl Fn() -> bool) {
    let child = Killed(
        crate::common::command(dir)
            .args(["deliver"])
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !held() {
        assert!(
            std::time::Instant::now() < deadline,
            "the send reached the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut child = child;
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
}

#[test]
fn a_kill_9_during_a_send_neither_loses_nor_duplicates_it() {
    let hold = tempfile::tempdir().unwrap();
    let rcpt_hold = hold.path().join("rcpt");
    let data_hold = hold.path().join("data");
    std::fs::write(&rcpt_hold, "").unwrap();
    let Some(server) = SmtpServer::start(SmtpOptions {
        hold_rcpt_file: Some(rcpt_hold.clone()),
        ..SmtpOptions::default()
    }) else {
        return;
    };
    let dir = tiny("Acme Core", &deals_to("ops@example.com", &server, ""));
    // Killed mid-transaction (before the message was handed over).
    kill_while_held(dir.path(), || server.holding_rcpt());
    assert_eq!(
        entries(dir.path())[0]["state"],
        "sending",
        "the ledger knew a send had begun"
    );
    std::fs::remove_file(&rcpt_hold).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.received().is_empty(), "nothing reached the mailbox");
    // The next run sends it, once.
    let o = revintel(dir.path(), &["deliver"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.wait_for(1, Duration::from_secs(30)).len(), 1);
    let o = revintel(dir.path(), &["deliver"]);
    assert!(stdout(&o).contains("already sent"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.received().len(), 1, "no duplicate");

    // Killed after the server took the whole message but before it said
    // so: the one window SMTP leaves. The next run sends it again with the
    // same Message-ID, by which mail systems drop the copy.
    std::fs::write(&data_hold, "").unwrap();
    let Some(late) = SmtpServer::start(SmtpOptions {
        hold_file: Some(data_hold.clone()),
        ..SmtpOptions::default()
    }) else {
        return;
    };
    let dir = tiny("Acme Core", &deals_to("ops@example.com", &late, ""));
    kill_while_held(dir.path(), || late.holding());
    std::fs::remove_file(&data_hold).unwrap();
    late.wait_for(1, Duration::from_secs(30));
    let o = revintel(dir.path(), &["deliver"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = late.wait_for(2, Duration::from_secs(30));
    let ids: std::collections::BTreeSet<_> = got.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(
        ids.len(),
        1,
        "one message, carried twice under one Message-ID: {ids:?}"
    );
    let e = entries(dir.path());
    assert_eq!(
        (e[0]["state"].as_str(), e[0]["attempts"].as_u64()),
        (Some("sent"), Some(2))
    );
}

#[test]
fn the_schedule_sends_each_period_once_and_a_missed_run_once_or_never() {
    let Some(server) = SmtpServer::start(SmtpOptions::default()) else {
        return;
    };
    let delivery = |name: &str, missed: &str| {
        format!(
            "[[deliveries]]\nname = \"{name}\"\ntemplate = \"deal_list\"\nfrom = \"revintel@example.com\"\nto = [\"{name}@example.com\"]\n\
             schedule = \"0 7 * * MON\"\ntimezone = \"Europe/Berlin\"\nmissed = \"{missed}\"\n{}",
            smtp_table(&server, "")
        )
    };
    let dir = tiny(
        "Acme Core",
        &format!(
            "{}\n{}",
            delivery("weekly", "send"),
            delivery("strict", "skip")
        ),
    );
    let at = |time: &str| {
        let o = revintel(dir.path(), &["schedule", "--once", "--at", time]);
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };
    let sent_to = |who: &str| {
        std::thread::sleep(Duration::from_millis(200));
        server
            .received()
            .iter()
            .filter(|m| m.rcpt_tos == [format!("{who}@example.com")])
            .count()
    };
    // First start, on a Tuesday: last Monday's run was before any scheduler, so nothing goes.
    at("2026-11-24T10:00:00+01:00");
    assert_eq!((sent_to("weekly"), sent_to("strict")), (0, 0));
    // Monday 07:00:30 Berlin: due, sent by both.
    at("2026-11-30T07:00:30+01:00");
    assert_eq!((sent_to("weekly"), sent_to("strict")), (1, 1));
    // A restart later that morning sends nothing again.
    at("2026-11-30T08:00:00+01:00");
    at("2026-11-30T08:00:00+01:00");
    assert_eq!((sent_to("weekly"), sent_to("strict")), (1, 1));
    // Down over the next two Mondays, back on Monday 14 December at 09:00:
    // the latest missed run is sent once (missed = "send") or skipped.
    let log = at("2026-12-14T09:00:00+01:00");
    assert!(
        log.contains("weekly: the run of 2026-12-14T07:00:00+01:00 was missed"),
        "{log}"
    );
    assert!(log.contains("skipped (missed = \"skip\")"), "{log}");
    assert_eq!((sent_to("weekly"), sent_to("strict")), (2, 1));
    at("2026-12-14T09:05:00+01:00");
    assert_eq!((sent_to("weekly"), sent_to("strict")), (2, 1));
    let periods: Vec<String> = entries(dir.path())
        .iter()
        .filter(|e| e["delivery"] == "weekly")
        .map(|e| {
            format!(
                "{} {}",
                e["period"].as_str().unwrap(),
                e["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        periods,
        [
            "2026-11-30T07:00:00+01:00 sent",
            "2026-12-14T07:00:00+01:00 sent"
        ]
    );
    let status = stdout(&revintel(dir.path(), &["deliver", "--status"]));
    assert!(
        status.contains("strict: 0 7 * * MON Europe/Berlin"),
        "{status}"
    );
    assert!(
        status.contains("2026-12-14T07:00:00+01:00 * skipped"),
        "{status}"
    );
}

#[test]
fn the_foreground_schedule_stops_cleanly_and_a_restart_sends_no_period_twice() {
    let Some(server) = SmtpServer::start(SmtpOptions::default()) else {
        return;
    };
    // Every two seconds (a six-field pattern counts seconds).
    let dir = tiny(
        "Acme Core",
        &format!(
            "[[deliveries]]\nname = \"often\"\ntemplate = \"deal_list\"\nfrom = \"revintel@example.com\"\nto = [\"ops@example.com\"]\n\
             schedule = \"*/2 * * * * *\"\n{}",
            smtp_table(&server, "")
        ),
    );
    let stop = |child: Killed| {
        let mut child = child;
        // SIGTERM: a send in progress finishes first.
        unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) };
        let status = child.0.wait().unwrap();
        assert!(
            status.success(),
            "schedule exits cleanly on SIGTERM: {status:?}"
        );
    };
    let first = Killed(
        crate::common::command(dir.path())
            .args(["schedule"])
            .spawn()
            .unwrap(),
    );
    server.wait_for(2, Duration::from_secs(120));
    stop(first);
    let before = server.received().len();
    let second = Killed(
        crate::common::command(dir.path())
            .args(["schedule"])
            .spawn()
            .unwrap(),
    );
    server.wait_for(before + 2, Duration::from_secs(120));
    stop(second);
    std::thread::sleep(Duration::from_millis(300));
    let got = server.received();
    let ids: std::collections::BTreeSet<_> = got.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), got.len(), "each period sent once");
    let sent: Vec<_> = entries(dir.path())
        .into_iter()
        .filter(|e| e["state"] == "sent")
        .collect();
    assert_eq!(
        sent.len(),
        got.len(),
        "the ledger has every message the server has"
    );
}

#[test]
fn a_split_query_gives_each_manager_a_version_and_may_not_write() {
    let dir = demo(
        "[[deliveries]]\nname = \"managers\"\ntemplate = \"weekly_briefing\"\nfrom = \"revintel@example.com\"\n\
         subject = \"{{ team }} briefing\"\n\
         [deliveries.split]\nquery = \"SELECT DISTINCT lower(replace(manager, ' ', '.')) || '@example.com' AS email, team FROM reps\"\n\
         [deliveries.smtp]\nhost = \"127.0.0.1\"\n",
    );
    let o = revintel(dir.path(), &["deliver", "--dry-run"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let expected = demo_sql(
        dir.path(),
        "SELECT DISTINCT lower(replace(manager, ' ', '.')) || '@example.com' AS email, team FROM reps ORDER BY team, email",
    );
    let teams: std::collections::BTreeSet<String> = expected
        .iter()
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect();
    let outbox = walk(&dir.path().join("out/outbox"));
    assert_eq!(
        outbox.len(),
        teams.len(),
        "one message per team: {outbox:?}"
    );
    for file in outbox {
        let mail = parse(&std::fs::read(&file).unwrap());
        let team = mail.subject.trim_end_matches(" briefing").to_string();
        let to = mail
            .headers
            .iter()
            .find(|(k, _)| k == "To")
            .unwrap()
            .1
            .clone();
        let mut want: Vec<String> = expected
            .iter()
            .filter(|l| l.ends_with(&format!(",{team}")))
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect();
        want.sort();
        let mut got: Vec<String> = to.split(", ").map(str::to_string).collect();
        got.sort();
        assert_eq!(got, want, "{team}");
    }

    let writes = tiny(
        "Acme Core",
        "[[deliveries]]\nname = \"deals\"\ntemplate = \"deal_list\"\nfrom = \"revintel@example.com\"\n\
         [deliveries.split]\nquery = \"INSERT INTO reps VALUES ('R9', 'X', 'Y', 'East', DATE '2025-01-01', 1.0)\"\n\
         [deliveries.smtp]\nhost = \"127.0.0.1\"\n",
    );
    let o = revintel(writes.path(), &["deliver", "--dry-run"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("split query"), "{}", stderr(&o));
    assert!(
        stderr(&o).to_lowercase().contains("read-only"),
        "{}",
        stderr(&o)
    );
}
