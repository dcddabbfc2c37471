//! `revintel serve`: `out/` over HTTP on 127.0.0.1 with an index of reports
//! and live reload, rebuilding like `revintel watch` (see `revintel::live`).

use super::build::ReportArgs;
use revintel::live::run::{self, ServeOptions};
use revintel::project::Project;
use std::net::IpAddr;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Address to listen on. The default keeps reports on this machine.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Also answer requests addressed to this host name (repeatable; e.g.
    /// the name of a proxy in front). Loopback names and the bound address
    /// are always answered; anything else gets 403.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_host: Vec<String>,
    /// Also serve PostgreSQL clients (psql, DBeaver, notebooks) on this port
    /// (5433 when given without one), the tables following every rebuild.
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "5433")]
    pg: Option<u16>,
    #[command(flatten)]
    pg_server: super::pg::PgServerArgs,
    #[command(flatten)]
    reports: ReportArgs,
}

pub async fn run(project: &Project, args: ServeArgs) -> anyhow::Result<ExitCode> {
    if !args.host.is_loopback() {
        tell!(
            "warning: serving on {}: anyone who can reach this address can read the reports \
             (requests must name it, or a host allowed with --allow-host)",
            args.host
        );
    }
    let mut allowed_hosts = project.allowed_hosts.clone();
    allowed_hosts.extend(args.allow_host.iter().cloned());
    let pg = match args.pg {
        Some(port) => Some((port, args.pg_server.options(project)?)),
        None => None,
    };
    let serve = ServeOptions {
        host: args.host,
        port: args.port,
        allowed_hosts,
        pg,
    };
    let options = super::watch::options(&args.reports);
    run::serve(project, options, serve, &super::watch::tell).await?;
    Ok(ExitCode::SUCCESS)
}
