//! `revintel pg`: serve the pipeline over PostgreSQL's wire protocol, so
//! psql, DBeaver, Metabase or a notebook can query it (see `revintel::pg`).

use revintel::pg::auth::Credentials;
use revintel::pg::service::QueryLimits;
use revintel::pg::tls::TlsFiles;
use revintel::pg::{self, PgOptions};
use revintel::project::Project;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PgArgs {
    /// Address to listen on. The default keeps the data on this machine.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = pg::DEFAULT_PORT)]
    pub port: u16,
    #[command(flatten)]
    pub server: PgServerArgs,
}

/// How the endpoint runs; shared with `serve --pg`.
#[derive(Debug, Clone, clap::Args)]
pub struct PgServerArgs {
    /// A file whose first line is the password (else $REVINTEL_PG_PASSWORD_FILE,
    /// else $REVINTEL_PG_PASSWORD; the user is $REVINTEL_PG_USER, default revintel).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// TLS certificate chain (PEM); with --tls-key, clients may connect with TLS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Memory one query may hold, e.g. 512MiB (default: the engine's memory limit).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub query_memory: Option<u64>,
    /// Connections served at once; more wait for a free one.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_connections: u64,
}

fn parse_size(text: &str) -> Result<u64, String> {
    revintel::settings::parse_size(text)
}

impl PgServerArgs {
    /// The endpoint's options; the engine's memory limit by default.
    pub fn options(&self, project: &Project) -> anyhow::Result<PgOptions> {
        let credentials = Credentials::from_env(self.password_file.as_deref())?;
        let engine = &project.engine;
        Ok(PgOptions {
            credentials,
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            },
            limits: QueryLimits {
                memory: self.query_memory.unwrap_or(engine.memory_limit),
                spill_dir: engine.spill_dir.clone(),
            },
            max_connections: self.max_connections as usize,
        })
    }
}

pub async fn run(project: &Project, args: PgArgs) -> anyhow::Result<ExitCode> {
    let options = args.server.options(project)?;
    if !args.host.is_loopback() {
        tell!(
            "warning: listening on {}: anyone who can reach this address can try the password{}",
            args.host,
            if options.tls.is_none() {
                ", and queries and results travel unencrypted (set --tls-cert and --tls-key)"
            } else {
                ""
            }
        );
    }
    say!(
        "PostgreSQL clients log in as {} ({}); the tables follow the data and models",
        options.credentials.user,
        if options.tls.is_some() {
            "TLS offered"
        } else {
            "no TLS"
        },
    );
    revintel::live::run::pg(project, args.host, args.port, &options, &super::watch::tell).await?;
    Ok(ExitCode::SUCCESS)
}
