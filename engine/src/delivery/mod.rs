//! Reports mailed to the people who read them: built for each audience,
//! composed for mail clients, sent through the configured server, and
//! recorded so that each period's message goes out exactly once.
//!
//! - [`audiences`]: who receives which version (a split by query or mapping
//!   gives each audience its own parameters, so a manager's briefing is built
//!   from their team's deals only);
//! - [`prepare`]: the report built per audience into
//!   `out/deliveries/<name>/<audience>/`, its subject, text and HTML parts and
//!   the PDF, byte for byte the file written there;
//! - [`send`]: one audience's message through [`smtp`], with retries and
//!   backoff for failures that may pass, recorded in the [`ledger`];
//! - [`schedule`]: when each delivery is due.

pub mod ledger;
pub mod message;
pub mod schedule;
pub mod smtp;

use crate::build::{build_rendered, BuildError};
use crate::delivery_config::{Delivery, Split};
use crate::project::Project;
use crate::session::Session;
use ledger::{Entry, Ledger, State};
use reports::results::CellValue;
use reports::template::{OutputFormat, RenderContext, Template};
use smtp::SendFailure;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("delivery {name:?}: {message}")]
    Config { name: String, message: String },
    #[error("delivery {name:?}: {source}")]
    Build {
        name: String,
        #[source]
        source: BuildError,
    },
    #[error("delivery {name:?}: split query: {source}")]
    Split {
        name: String,
        #[source]
        source: crate::query::QueryError,
    },
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One version of a delivery and who receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    /// `all`, or its parameters as `team=East` (joined by `&`).
    pub key: String,
    pub to: Vec<String>,
    pub params: Vec<(String, String)>,
}

/// The audiences of `delivery`: one with its `to` list, or one per distinct
/// set of parameters its split gives (each with every address given them).
pub async fn audiences(
    session: &Session,
    delivery: &Delivery,
) -> Result<Vec<Audience>, DeliveryError> {
    let config = |message: String| DeliveryError::Config {
        name: delivery.name.clone(),
        message,
    };
    let pairs: Vec<(String, Vec<(String, String)>)> = match &delivery.split {
        Split::None => {
            return Ok(vec![Audience {
                key: "all".into(),
                to: delivery.to.clone(),
                params: delivery.params.clone(),
            }])
        }
        Split::Mapping(m) => m.clone(),
        Split::Query(sql) => {
            let results = crate::query::run(&session.ctx, sql)
                .await
                .map_err(|source| DeliveryError::Split {
                    name: delivery.name.clone(),
                    source,
                })?;
            let last = results
                .last()
                .ok_or_else(|| config("the split query returned nothing".into()))?;
            let result =
                reports::results::QueryResult::from_schema_and_batches(&last.schema, &last.batches)
                    .map_err(|e| config(format!("split query: {e}")))?;
            let email = result.column_index("email").ok_or_else(|| {
                config(format!(
                    "the split query has no `email` column (it has: {})",
                    result.columns.join(", ")
                ))
            })?;
            let mut pairs = Vec::new();
            for (i, row) in result.rows.iter().enumerate() {
                let text = |v: &CellValue| match v {
                    CellValue::Null => None,
                    CellValue::Text(s) => Some(s.clone()),
                    CellValue::Int(n) => Some(n.to_string()),
                    CellValue::Float(f) => Some(f.to_string()),
                    CellValue::Bool(b) => Some(b.to_string()),
                    CellValue::Date(d) => Some(d.to_string()),
                    other => Some(format!("{other:?}")),
                };
                let address = text(&row[email])
                    .ok_or_else(|| config(format!("split query row {}: `email` is NULL", i + 1)))?;
                address.parse::<lettre::message::Mailbox>().map_err(|e| {
                    config(format!(
                        "split query row {}: {address:?} is not an email address ({e})",
                        i + 1
                    ))
                })?;
                let mut params = Vec::new();
                for (c, name) in result.columns.iter().enumerate() {
                    if c != email {
                        let value = text(&row[c]).ok_or_else(|| {
                            config(format!("split query row {}: `{name}` is NULL", i + 1))
                        })?;
                        params.push((name.clone(), value));
                    }
                }
                pairs.push((address, params));
            }
            pairs
        }
    };
    let mut out: Vec<Audience> = Vec::new();
    for (address, own) in pairs {
        let mut params = delivery.params.clone();
        for (k, v) in own {
            params.retain(|(name, _)| *name != k);
            params.push((k, v));
        }
        params.sort();
        let key = params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        match out.iter_mut().find(|a| a.key == key) {
            Some(a) if !a.to.contains(&address) => a.to.push(address),
            Some(_) => {}
            None => out.push(Audience {
                key,
                to: vec![address],
                params,
            }),
        }
    }
    Ok(out)
}

/// One audience's message, ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub audience: Audience,
    pub message: lettre::Message,
    pub message_id: String,
    pub subject: String,
    /// The PDF attached, as written under `out/deliveries/`.
    pub pdf: Option<PathBuf>,
    /// The HTML report written beside it.
    pub html: Option<PathBuf>,
}

/// The template file a delivery names.
pub fn template_path(project: &Project, delivery: &Delivery) -> PathBuf {
    let name = &delivery.template;
    if name.ends_with(".md") {
        project.templates_dir.join(name)
    } else {
        project.templates_dir.join(format!("{name}.md"))
    }
}

/// A file and folder name for an audience key.
pub fn audience_slug(key: &str) -> String {
    let s: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    format!("{s}-{}", &ml::trained::fingerprint(&[key.as_bytes()])[..8])
}

/// The Message-ID of a delivery's message for a period and audience: the
/// same every time it is made, so a message sent again after a crash can be
/// recognised as the same one.
pub fn message_id(delivery: &str, period: &str, audience: &str) -> String {
    let hash =
        ml::trained::fingerprint(&[delivery.as_bytes(), period.as_bytes(), audience.as_bytes()]);
    format!("<{}.{delivery}@revintel>", &hash[..24])
}

/// Builds every audience's version of `delivery` for `period` and composes
/// its message.
pub async fn prepare(
    session: &Session,
    project: &Project,
    delivery: &Delivery,
    period: &str,
) -> Result<Vec<Outgoing>, DeliveryError> {
    let build_error = |source: BuildError| DeliveryError::Build {
        name: delivery.name.clone(),
        source,
    };
    let config = |message: String| DeliveryError::Config {
        name: delivery.name.clone(),
        message,
    };
    let path = template_path(project, delivery);
    let template = Template::load(&path).map_err(|e| build_error(e.into()))?;
    let mut out = Vec::new();
    for audience in audiences(session, delivery).await? {
        let dir = project
            .out_dir
            .join("deliveries")
            .join(&delivery.name)
            .join(audience_slug(&audience.key));
        let rendered = build_rendered(session, &template, &audience.params, &dir)
            .await
            .map_err(build_error)?;
        let file = |format: OutputFormat| {
            rendered
                .built
                .files
                .iter()
                .find(|f| f.format == format)
                .map(|f| f.path.clone())
        };
        let (pdf, html) = (file(OutputFormat::Pdf), file(OutputFormat::Html));
        let context = RenderContext {
            as_of: session.as_of,
            page_row: None,
        };
        let subject = reports::template::render_line(
            &template,
            &rendered.results,
            &rendered.params,
            &context,
            &delivery.subject,
        )
        .map_err(|e| config(format!("`subject`: {e}")))?;
        let pdf_name = pdf
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string());
        let options = reports::mail::MailOptions {
            link_base: delivery.link_base.clone(),
            pdf_name: pdf_name.clone().filter(|_| delivery.attach_pdf),
        };
        let attachment = match (&pdf, delivery.attach_pdf) {
            (Some(p), true) => Some((
                pdf_name.clone().unwrap_or_else(|| "report.pdf".into()),
                std::fs::read(p).map_err(|source| DeliveryError::Read {
                    path: p.clone(),
                    source,
                })?,
            )),
            (None, true) => {
                return Err(config(format!(
                    "`formats` asks for the PDF, but {} writes none (add pdf to its `formats:`)",
                    path.display()
                )))
            }
            _ => None,
        };
        let id = message_id(&delivery.name, period, &audience.key);
        let message = message::compose(message::Parts {
            from: delivery.from.clone(),
            to: audience.to.clone(),
            cc: delivery.cc.clone(),
            bcc: delivery.bcc.clone(),
            subject: subject.clone(),
            message_id: id.clone(),
            text: reports::mail::mail_text(&rendered.document),
            html: delivery
                .html_body
                .then(|| reports::mail::mail_html(&rendered.document, &options)),
            pdf: attachment,
        })
        .map_err(config)?;
        out.push(Outgoing {
            audience,
            message,
            message_id: id,
            subject,
            pdf,
            html,
        });
    }
    Ok(out)
}

/// What happened to one audience's message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Sent {
        attempts: u32,
    },
    /// The ledger already has it as sent for this period.
    AlreadySent,
    Failed {
        attempts: u32,
        failure: SendFailure,
    },
}

/// Sends `outgoing` for `period` unless the ledger has it as sent (or
/// `force`), making up to the delivery's attempts with doubling waits while
/// the failure may pass. The ledger says `sending` before each attempt and
/// `sent` or `failed` after it.
pub async fn send(
    ledger_path: &std::path::Path,
    delivery: &Delivery,
    period: &str,
    outgoing: &Outgoing,
    force: bool,
    attempts: u32,
) -> Result<Outcome, DeliveryError> {
    let key = &outgoing.audience.key;
    let before = Ledger::load(ledger_path)?;
    let previous = before.find(&delivery.name, period, key).cloned();
    if !force && previous.as_ref().is_some_and(|e| e.state == State::Sent) {
        return Ok(Outcome::AlreadySent);
    }
    let mut done = previous.map_or(0, |e| {
        if e.state == State::Sent {
            0
        } else {
            e.attempts
        }
    });
    let mut recipients = outgoing.audience.to.clone();
    recipients.extend(delivery.cc.iter().cloned());
    recipients.extend(delivery.bcc.iter().cloned());
    let mut tried = 0;
    loop {
        tried += 1;
        done += 1;
        let mut entry = Entry {
            delivery: delivery.name.clone(),
            period: period.to_string(),
            audience: key.clone(),
            recipients: recipients.clone(),
            message_id: outgoing.message_id.clone(),
            state: State::Sending,
            attempts: done,
            error: None,
            updated: ledger::now_text(),
            retry_at: None,
        };
        record(ledger_path, entry.clone())?;
        let smtp = delivery.smtp.clone();
        let message = outgoing.message.clone();
        let result = tokio::task::spawn_blocking(move || {
            smtp::transport(&smtp).and_then(|t| smtp::send(&t, &smtp, &message))
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let now = chrono::Utc::now();
        entry.updated = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let failure = match result {
            Ok(()) => {
                entry.state = State::Sent;
                record(ledger_path, entry)?;
                return Ok(Outcome::Sent { attempts: done });
            }
            Err(failure) => failure,
        };
        // Waits double: retry, 2 × retry, 4 × retry … after each failure.
        let wait = delivery.smtp.retry * 2u32.saturating_pow(done.saturating_sub(1).min(16));
        let again = failure.kind.retryable() && done < delivery.smtp.attempts;
        entry.state = State::Failed;
        entry.error = Some(failure.to_string());
        entry.retry_at = again.then(|| {
            (now + chrono::Duration::from_std(wait).unwrap_or_default())
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        });
        record(ledger_path, entry)?;
        if !again || tried >= attempts.max(1) {
            return Ok(Outcome::Failed {
                attempts: done,
                failure,
            });
        }
        tokio::time::sleep(wait).await;
    }
}

/// Puts `entry` into the ledger on disk (read again first, so entries other
/// runs wrote meanwhile are kept).
fn record(path: &std::path::Path, entry: Entry) -> Result<(), DeliveryError> {
    let mut ledger = Ledger::load(path)?;
    ledger.put(entry);
    ledger.save(path)?;
    Ok(())
}

/// The period `deliver` sends for: the latest scheduled time at or before
/// `now` for a scheduled delivery, else the data's as-of date.
pub fn period(
    delivery: &Delivery,
    now: chrono::DateTime<chrono::Utc>,
    as_of: chrono::NaiveDate,
) -> String {
    delivery
        .schedule
        .as_ref()
        .and_then(|s| schedule::latest(s, now))
        .map(|at| schedule::period_key(&at))
        .unwrap_or_else(|| as_of.to_string())
}

/// What `revintel schedule` does about a delivery now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Nothing,
    /// Send (or send again) for this period; `missed` when its time passed
    /// before this scheduler started.
    Send {
        period: String,
        missed: bool,
    },
    /// A missed run, skipped by configuration.
    Skip {
        period: String,
    },
}

/// Margin within which a run that fell just before the scheduler started
/// still counts as on time.
pub const ON_TIME: chrono::Duration = chrono::Duration::seconds(60);

/// The audience key of a skipped run (it covers every audience).
pub const EVERY_AUDIENCE: &str = "*";

/// Decides for one delivery: only its latest scheduled time counts (older
/// missed runs are superseded by it), and only if it is not before the
/// delivery was first scheduled (`ledger.scheduled_since`).
pub fn due(
    delivery: &Delivery,
    ledger: &Ledger,
    now: chrono::DateTime<chrono::Utc>,
    started: chrono::DateTime<chrono::Utc>,
) -> Due {
    let Some(schedule) = &delivery.schedule else {
        return Due::Nothing;
    };
    let Some(at) = schedule::latest(schedule, now) else {
        return Due::Nothing;
    };
    let at_utc = at.with_timezone(&chrono::Utc);
    let since = ledger
        .scheduled_since
        .get(&delivery.name)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|s| s.with_timezone(&chrono::Utc));
    if since.is_none_or(|since| at_utc < since) {
        return Due::Nothing;
    }
    let period = schedule::period_key(&at);
    let entries: Vec<&Entry> = ledger
        .entries
        .iter()
        .filter(|e| e.delivery == delivery.name && e.period == period)
        .collect();
    if entries.is_empty() {
        let missed = at_utc + ON_TIME < started;
        return if missed && !delivery.send_missed {
            Due::Skip { period }
        } else {
            Due::Send { period, missed }
        };
    }
    let pending = entries.iter().any(|e| match e.state {
        State::Sent | State::Skipped => false,
        State::Sending => true,
        State::Failed => e
            .retry_at
            .as_deref()
            .and_then(|r| chrono::DateTime::parse_from_rfc3339(r).ok())
            .is_some_and(|r| r <= now),
    });
    if pending {
        Due::Send {
            period,
            missed: false,
        }
    } else {
        Due::Nothing
    }
}

/// Records a skipped run.
pub fn record_skip(
    ledger_path: &std::path::Path,
    delivery: &Delivery,
    period: &str,
) -> Result<(), DeliveryError> {
    record(
        ledger_path,
        Entry {
            delivery: delivery.name.clone(),
            period: period.to_string(),
            audience: EVERY_AUDIENCE.into(),
            recipients: Vec::new(),
            message_id: String::new(),
            state: State::Skipped,
            attempts: 0,
            error: Some("missed while no scheduler ran; `missed = \"skip\"`".into()),
            updated: ledger::now_text(),
            retry_at: None,
        },
    )
}

/// The earliest time a failed entry of `delivery` is to be tried again.
pub fn next_retry(ledger: &Ledger, delivery: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    ledger
        .entries
        .iter()
        .filter(|e| e.delivery == delivery && e.state == State::Failed)
        .filter_map(|e| e.retry_at.as_deref())
        .filter_map(|r| chrono::DateTime::parse_from_rfc3339(r).ok())
        .map(|r| r.with_timezone(&chrono::Utc))
        .min()
}
