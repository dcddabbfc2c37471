//! `revintel build`: render report templates into `out/` as HTML and PDF.

use super::{open_session, ModelUse};
use anyhow::Context;
use reports::template::{OutputFormat, Template};
use revintel::build::{self, Built};
use revintel::project::Project;
use revintel::session::Session;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    reports: ReportArgs,
}

/// Which reports to render and how; shared by `build`, `watch` and `serve`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Templates to build, by path or by name (`weekly_briefing`); default:
    /// every template in the templates folder.
    #[arg(value_name = "TEMPLATE")]
    pub templates: Vec<String>,
    /// Outputs to write (default: each template's own list).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "FORMATS")]
    pub format: Vec<FormatArg>,
    /// Set a template parameter, e.g. `--param top_n=5`; repeatable. It
    /// applies to every template that declares it.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Html,
    Pdf,
}

impl From<FormatArg> for OutputFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Html => OutputFormat::Html,
            FormatArg::Pdf => OutputFormat::Pdf,
        }
    }
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("`{s}` has no parameter name"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Finds a template given by path or by name in the templates folder.
fn locate(project: &Project, given: &str) -> PathBuf {
    let path = Path::new(given);
    if path.exists() {
        return path.to_path_buf();
    }
    let by_name = project.templates_dir.join(given);
    if by_name.extension().is_none() {
        by_name.with_extension("md")
    } else {
        by_name
    }
}

pub async fn run(project: &Project, args: BuildArgs) -> anyhow::Result<ExitCode> {
    let args = args.reports;
    let paths = if args.templates.is_empty() {
        let found = build::discover(&project.templates_dir)?;
        if found.is_empty() {
            anyhow::bail!("no templates (*.md) in {}", project.templates_dir.display());
        }
        found
    } else {
        args.templates.iter().map(|t| locate(project, t)).collect()
    };

    // Parse every template before loading any data: a broken one fails fast.
    let mut templates = Vec::new();
    for path in &paths {
        match Template::load(Path::new(&build::shown_path(path))) {
            Ok(t) => templates.push(t),
            Err(e) => {
                tell!("{e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    for (name, _) in &args.params {
        if !templates
            .iter()
            .any(|t| t.front_matter().params.contains_key(name))
        {
            anyhow::bail!("--param {name}: no template being built declares a parameter {name:?}");
        }
    }

    let needs_models = templates.iter().any(build::uses_models);
    let _lock = super::write_lock(project, "build")?;
    let mut session = open_session(
        project,
        if needs_models {
            ModelUse::Required
        } else {
            ModelUse::IfPresent
        },
    )
    .await?;
    ensure_backtest(&mut session, project, &templates).await?;

    let formats: Option<Vec<OutputFormat>> =
        (!args.format.is_empty()).then(|| args.format.iter().map(|&f| f.into()).collect());
    let mut failed = 0;
    for template in &templates {
        let outcome = build::build_with_overrides(
            &session,
            template,
            &args.params,
            formats.as_deref(),
            &project.out_dir,
        )
        .await;
        match outcome {
            Ok(built) => say!("{}", summary(&built)),
            Err(e) => {
                failed += 1;
                tell!("{e}");
            }
        }
    }
    if failed > 0 {
        tell!(
            "revintel: {failed} of {} templates failed; their previous outputs are unchanged",
            templates.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the backtest when a template reads it and none was run yet on this
/// data, so the briefing can state how well past forecasts held up; the
/// forecast is then made again, its band learning from the new record.
pub(super) async fn ensure_backtest(
    session: &mut Session,
    project: &Project,
    templates: &[Template],
) -> anyhow::Result<()> {
    if revintel::backtest::is_current(project, session)
        || session.models.is_none()
        || !templates.iter().any(|t| {
            build::reads_table(t, "backtest") || build::reads_table(t, "backtest_accuracy")
        })
    {
        return Ok(());
    }
    tell!(
        "revintel: no backtest of this data yet; forecasting every week of the last {} quarters as they stood (once) …",
        revintel::backtest::DEFAULT_QUARTERS
    );
    let quarters = revintel::backtest::DEFAULT_QUARTERS;
    match revintel::backtest::run(session, project, quarters, &super::messages::progress).await {
        Ok(result) => {
            for (period, why) in &result.skipped {
                tell!(
                    "revintel: backtest: quarter from {} not tested: {why}",
                    period.start
                );
            }
            revintel::backtest::save(project, &result)?;
            if let Some(models) = session.models.clone() {
                revintel::attach::attach(session, project, models)
                    .await
                    .context("forecasting with the backtest's record")?;
            }
            revintel::backtest::register(session, project)
                .await
                .context("registering the backtest")?;
        }
        // Too little history is not a reason to withhold the rest of the report.
        Err(e) => tell!("warning: backtest not run: {e}"),
    }
    Ok(())
}

/// One line per template: what was written and how big.
fn summary(built: &Built) -> String {
    let pages: Vec<_> = built.files.iter().collect();
    let main: Vec<String> = pages
        .iter()
        .take(2)
        .map(|f| match f.format {
            OutputFormat::Pdf => {
                format!(
                    "{} ({} page{}, {})",
                    build::shown_path(&f.path),
                    f.pages,
                    if f.pages == 1 { "" } else { "s" },
                    kib(f.bytes)
                )
            }
            OutputFormat::Html => format!("{} ({})", build::shown_path(&f.path), kib(f.bytes)),
        })
        .collect();
    let rest = pages.len().saturating_sub(2);
    let more = if rest > 0 {
        format!(" and {rest} more files")
    } else {
        String::new()
    };
    format!(
        "{}: wrote {}{more} in {} ms",
        build::shown_path(&built.template),
        main.join(", "),
        built.elapsed.as_millis()
    )
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// [`ensure_backtest`] for the one template at `path` (a delivery's).
pub(super) async fn ensure_backtest_for(
    session: &mut Session,
    project: &Project,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let template = Template::load(path)?;
    ensure_backtest(session, project, &[template]).await
}
