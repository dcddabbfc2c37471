//! `[[deliveries]]` in revintel.toml: who receives which report, when, and
//! through which mail server. Checked when the project is read, so a typo in
//! a schedule, a time zone or an address is an error naming the delivery and
//! the field before anything is built or sent.
//!
//! A password is never read from the file: `smtp.password_env` names the
//! environment variable that holds it, and a `password` key is refused.

use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One `[[deliveries]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySpec {
    pub name: String,
    /// The template, by file stem (`weekly_briefing`) or file name.
    pub template: String,
    /// Template parameters, as on `build --param`.
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    #[serde(default)]
    pub bcc: Vec<String>,
    pub from: String,
    /// A one-line template over the report's results, `as_of` and params.
    pub subject: Option<String>,
    /// `pdf` (attached) and/or `html` (the body); both by default.
    pub formats: Option<Vec<String>>,
    /// Cron pattern (`0 7 * * MON`), for `revintel schedule`.
    pub schedule: Option<String>,
    /// IANA time zone of the schedule (`Europe/Berlin`); UTC by default.
    pub timezone: Option<String>,
    /// A run missed while nothing was running: `send` it once on start
    /// (default) or `skip` it.
    pub missed: Option<String>,
    /// Where the reports are served, to make links in the mail absolute.
    pub link_base: Option<String>,
    /// One version per audience (see [`SplitSpec`]).
    pub split: Option<SplitSpec>,
    pub smtp: SmtpSpec,
}

/// Recipients split by a query or a mapping: each audience receives the
/// report built with its own parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    /// SQL returning an `email` column; every other column is a parameter.
    pub query: Option<String>,
    /// Email → parameters, e.g. `"ann@example.com" = { team = "East" }`.
    pub mapping: Option<BTreeMap<String, BTreeMap<String, toml::Value>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSpec {
    pub host: String,
    pub port: Option<u16>,
    /// `starttls` (default), `tls` (implicit, port 465) or `none`.
    pub security: Option<String>,
    pub user: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// Refused: see the module docs.
    pub password: Option<toml::Value>,
    /// Extra trusted root certificate (PEM), for a relay with its own CA.
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait on the server before giving up (default 30).
    pub timeout_seconds: Option<u64>,
    /// Attempts before a send is given up as failed (default 4).
    pub attempts: Option<u32>,
    /// Wait before the first retry, doubled each time (default 30).
    pub retry_seconds: Option<u64>,
}

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    StartTls,
    Tls,
    None,
}

/// A checked delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub name: String,
    pub template: String,
    pub params: Vec<(String, String)>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub from: String,
    pub subject: String,
    pub attach_pdf: bool,
    pub html_body: bool,
    pub schedule: Option<Schedule>,
    pub send_missed: bool,
    pub link_base: Option<String>,
    pub split: Split,
    pub smtp: Smtp,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub pattern: String,
    pub cron: croner::Cron,
    pub zone: Tz,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Split {
    None,
    Query(String),
    Mapping(Vec<(String, Vec<(String, String)>)>),
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub timeout: std::time::Duration,
    pub attempts: u32,
    pub retry: std::time::Duration,
}

/// The subject when none is configured.
pub const DEFAULT_SUBJECT: &str = "{{ title }} — {{ as_of | date }}";

/// Checks every entry; files are relative to `root`.
pub fn check(specs: Vec<DeliverySpec>, root: &Path) -> Result<Vec<Delivery>, String> {
    let mut out: Vec<Delivery> = Vec::new();
    for spec in specs {
        let name = spec.name.trim().to_string();
        let at =
            |field: &str, message: String| format!("[[deliveries]] {name:?}, `{field}`: {message}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        {
            return Err(at("name", "use letters, digits, '-' and '_' only".into()));
        }
        if out.iter().any(|d| d.name == name) {
            return Err(at("name", "used by two deliveries".into()));
        }
        for (field, list) in [("to", &spec.to), ("cc", &spec.cc), ("bcc", &spec.bcc)] {
            for address in list {
                check_address(address).map_err(|e| at(field, e))?;
            }
        }
        check_address(&spec.from).map_err(|e| at("from", e))?;
        let split = match &spec.split {
            None => Split::None,
            Some(SplitSpec {
                query: Some(q),
                mapping: None,
            }) => Split::Query(q.clone()),
            Some(SplitSpec {
                query: None,
                mapping: Some(m),
            }) => {
                let mut audiences = Vec::new();
                for (email, params) in m {
                    check_address(email).map_err(|e| at("split.mapping", e))?;
                    let params = scalars(params).map_err(|e| at("split.mapping", e))?;
                    audiences.push((email.clone(), params));
                }
                Split::Mapping(audiences)
            }
            Some(_) => return Err(at("split", "give either `query` or `mapping`".into())),
        };
        if spec.to.is_empty() && split == Split::None {
            return Err(at("to", "no recipient: give `to` or a `split`".into()));
        }
        let formats = spec
            .formats
            .clone()
            .unwrap_or_else(|| vec!["pdf".into(), "html".into()]);
        if let Some(bad) = formats
            .iter()
            .find(|f| !matches!(f.as_str(), "pdf" | "html"))
        {
            return Err(at("formats", format!("{bad:?} is not `pdf` or `html`")));
        }
        let zone = match &spec.timezone {
            Some(tz) => Tz::from_str(tz).map_err(|_| {
                at(
                    "timezone",
                    format!("{tz:?} is not an IANA time zone such as \"Europe/Berlin\""),
                )
            })?,
            None => Tz::UTC,
        };
        let schedule = match &spec.schedule {
            Some(pattern) => Some(Schedule {
                pattern: pattern.clone(),
                cron: croner::Cron::from_str(pattern)
                    .map_err(|e| at("schedule", format!("{pattern:?}: {e}")))?,
                zone,
            }),
            None => None,
        };
        let send_missed = match spec.missed.as_deref() {
            None | Some("send") => true,
            Some("skip") => false,
            Some(other) => return Err(at("missed", format!("{other:?} is not `send` or `skip`"))),
        };
        let smtp = &spec.smtp;
        if smtp.password.is_some() {
            return Err(at(
                "smtp.password",
                "passwords are never read from revintel.toml; put it in an environment variable and name it in `smtp.password_env`".into(),
            ));
        }
        let security = match smtp.security.as_deref() {
            None | Some("starttls") => Security::StartTls,
            Some("tls") => Security::Tls,
            Some("none") => Security::None,
            Some(other) => {
                return Err(at(
                    "smtp.security",
                    format!("{other:?} is not `starttls`, `tls` or `none`"),
                ))
            }
        };
        if smtp.user.is_some() != smtp.password_env.is_some() {
            return Err(at(
                "smtp.user",
                "give both `user` and `password_env`, or neither".into(),
            ));
        }
        out.push(Delivery {
            params: scalars(&spec.params).map_err(|e| at("params", e))?,
            to: spec.to.clone(),
            cc: spec.cc.clone(),
            bcc: spec.bcc.clone(),
            from: spec.from.clone(),
            template: spec.template.clone(),
            subject: spec
                .subject
                .clone()
                .unwrap_or_else(|| DEFAULT_SUBJECT.into()),
            attach_pdf: formats.iter().any(|f| f == "pdf"),
            html_body: formats.iter().any(|f| f == "html"),
            schedule,
            send_missed,
            link_base: spec.link_base.clone(),
            split,
            smtp: Smtp {
                host: smtp.host.clone(),
                port: smtp.port.unwrap_or(match security {
                    Security::Tls => 465,
                    Security::StartTls => 587,
                    Security::None => 25,
                }),
                security,
                user: smtp.user.clone(),
                password_env: smtp.password_env.clone(),
                ca_file: smtp.ca_file.as_ref().map(|f| root.join(f)),
                timeout: std::time::Duration::from_secs(smtp.timeout_seconds.unwrap_or(30).max(1)),
                attempts: smtp.attempts.unwrap_or(4).max(1),
                retry: std::time::Duration::from_secs(smtp.retry_seconds.unwrap_or(30)),
            },
            name,
        });
    }
    Ok(out)
}

/// `name <a@b>` or `a@b`, as lettre reads a mailbox.
fn check_address(address: &str) -> Result<(), String> {
    address
        .parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("{address:?} is not an email address ({e})"))
}

/// Parameter values as text, read later in the type of each default.
fn scalars(table: &BTreeMap<String, toml::Value>) -> Result<Vec<(String, String)>, String> {
    table
        .iter()
        .map(|(k, v)| {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(format!(
                        "parameter {k:?} must be a single value, not {other}"
                    ))
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}
