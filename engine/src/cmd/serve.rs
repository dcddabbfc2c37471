//! `revintel serve`: `out/` over HTTP on 127.0.0.1 with an index of reports
//! and live reload, rebuilding like `revintel watch`.

use super::build::ReportArgs;
use super::watch::{start, watch_loop};
use anyhow::Context;
use revintel::project::Project;
use revintel::serve::{router, HostPolicy, Limits, LiveEvent, ServerState};
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
    let live = start(project, &args.reports).await?;
    let limits = Limits::default();
    let state = ServerState::new(project.out_dir.clone(), live.reports(), &limits);
    let listener = tokio::net::TcpListener::bind((args.host, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let address = listener.local_addr()?;
    say!("serving http://{address}/");
    let mut allowed = project.allowed_hosts.clone();
    allowed.extend(args.allow_host.iter().cloned());
    let app = router(state.clone(), HostPolicy::new(address, &allowed));
    let server = tokio::spawn(revintel::serve::serve(listener, app, limits));

    let result = watch_loop(live, |live, rebuilt| {
        let events = rebuilt
            .iter()
            .map(|rebuild| LiveEvent {
                report: rebuild.report.clone(),
                ok: rebuild.status.error().is_none(),
                error: rebuild.status.error().map(str::to_string),
            })
            .collect();
        // Publish first: a page loaded after the log line shows the new state.
        state.publish(live.reports(), events);
        for rebuild in rebuilt {
            say!("{}", rebuild.log_line());
        }
    })
    .await;
    server.abort();
    result
}
