//! Sending through the configured server with lettre, and saying in words
//! why a send failed: the server is not reachable, refused the login,
//! rejected a recipient, or asked to try later.

use crate::delivery_config::{Security, Smtp};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::SmtpTransport;
use lettre::{Message, Transport};

/// Why a send failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub kind: FailureKind,
    /// The server's words or the connection error.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Nothing answered (refused, unreachable, timed out, TLS failed).
    Unreachable,
    /// The server refused the user and password.
    AuthenticationRefused,
    /// A recipient or the message was refused for good (5xx).
    Rejected,
    /// The server asked to try later (4xx).
    TryLater,
    /// The settings cannot work (password variable unset, bad CA file).
    Setup,
}

impl FailureKind {
    /// Whether another attempt may succeed without anyone changing anything.
    pub fn retryable(self) -> bool {
        matches!(self, FailureKind::Unreachable | FailureKind::TryLater)
    }
}

impl std::fmt::Display for SendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            FailureKind::Unreachable => "mail server not reachable",
            FailureKind::AuthenticationRefused => "authentication refused by the mail server",
            FailureKind::Rejected => "rejected by the mail server",
            FailureKind::TryLater => "mail server asked to try later",
            FailureKind::Setup => "mail settings",
        };
        write!(f, "{what}: {}", self.detail)
    }
}

fn setup(detail: String) -> SendFailure {
    SendFailure {
        kind: FailureKind::Setup,
        detail,
    }
}

/// A transport for `smtp`; the password is read from its variable now.
pub fn transport(smtp: &Smtp) -> Result<SmtpTransport, SendFailure> {
    let tls = || -> Result<TlsParameters, SendFailure> {
        let mut params = TlsParameters::builder(smtp.host.clone());
        if let Some(ca) = &smtp.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                setup(format!(
                    "{}: cannot read the CA certificate: {e}",
                    ca.display()
                ))
            })?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| setup(format!("{}: not a PEM certificate: {e}", ca.display())))?;
            params = params.add_root_certificate(cert);
        }
        params
            .build_rustls()
            .map_err(|e| setup(format!("TLS settings: {e}")))
    };
    let mut builder = SmtpTransport::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .timeout(Some(smtp.timeout))
        .tls(match smtp.security {
            Security::StartTls => Tls::Required(tls()?),
            Security::Tls => Tls::Wrapper(tls()?),
            Security::None => Tls::None,
        });
    if let (Some(user), Some(var)) = (&smtp.user, &smtp.password_env) {
        let password = std::env::var(var).map_err(|_| {
            setup(format!(
                "the password variable {var} is not set in revintel's environment"
            ))
        })?;
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

/// Sends `message` once (no retry here; the caller decides).
pub fn send(transport: &SmtpTransport, smtp: &Smtp, message: &Message) -> Result<(), SendFailure> {
    transport
        .send(message)
        .map(|_| ())
        .map_err(|e| classify(&e, smtp))
}

fn classify(e: &lettre::transport::smtp::Error, smtp: &Smtp) -> SendFailure {
    let code = e.status().map(|c| c.to_string());
    let detail = e.to_string();
    let kind = match code.as_deref() {
        Some("535" | "534" | "530" | "538") => FailureKind::AuthenticationRefused,
        Some(_) if e.is_permanent() => FailureKind::Rejected,
        Some(_) => FailureKind::TryLater,
        None => FailureKind::Unreachable,
    };
    let detail = match kind {
        FailureKind::Unreachable => format!("{}:{}: {detail}", smtp.host, smtp.port),
        _ => detail,
    };
    SendFailure { kind, detail }
}
