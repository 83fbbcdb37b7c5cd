//! `nelo-migrate diff`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use nelo_migrate::diff::Source;
use nelo_migrate_cli::{DiffOutputArgs, FromArgs, PlanArgs, ToArgs, print_stdout};

use super::args::ShadowArgs;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    from: FromArgs,
    #[command(flatten)]
    to: ToArgs,
    #[command(flatten)]
    output: DiffOutputArgs,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    shadow: ShadowArgs,
    /// The database whose server holds the shadow databases when nothing else names one
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, hide = true)]
    database_url: Option<String>,
    /// Seconds to keep retrying while the server is unreachable or starting up
    #[arg(
        long,
        env = "NELO_CONNECT_TIMEOUT",
        value_name = "SECS",
        default_value = "10",
        value_parser = super::args::parse_seconds
    )]
    connect_timeout: Duration,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (from, to) = (args.from.source(), args.to.source());
    let uses_url = matches!(from, Source::Url(_)) || matches!(to, Source::Url(_));
    // A live side's own server holds the shadows unless one is named.
    let fallback = if uses_url {
        None
    } else {
        args.database_url.as_deref()
    };
    let options = args
        .plan
        .apply(args.shadow.options(fallback, args.connect_timeout));
    let diff = nelo_migrate::diff::diff(&from, &to, &options)
        .await
        .with_context(|| format!("cannot diff {from} with {to}"))?;
    print_stdout(&args.output.stdout_text(&diff)?)?;
    for note in &diff.notes {
        super::ui::note(&format!("note: {note}"));
    }
    Ok(args.output.exit_code(&diff))
}
