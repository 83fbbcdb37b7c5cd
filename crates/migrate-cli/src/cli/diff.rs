//! `nelo-migrate diff`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use nelo_migrate::diff::Source;
use nelo_migrate_cli::{diff_summary, print_stdout};

use super::args::ShadowArgs;

/// The `from` side (one of).
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct FromArgs {
    /// Compare from an empty database
    #[arg(long)]
    from_empty: bool,
    /// Compare from a migrations folder, deployed into a shadow database
    #[arg(long, value_name = "DIR")]
    from_migrations: Option<PathBuf>,
    /// Compare from a live database (read only)
    #[arg(long, value_name = "URL")]
    from_url: Option<String>,
    /// Compare from a SQL schema file, or a folder of .sql files applied in name order
    #[arg(long, value_name = "PATH")]
    from_schema: Option<PathBuf>,
}

/// The `to` side (one of).
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ToArgs {
    /// Compare to an empty database
    #[arg(long)]
    to_empty: bool,
    /// Compare to a migrations folder, deployed into a shadow database
    #[arg(long, value_name = "DIR")]
    to_migrations: Option<PathBuf>,
    /// Compare to a live database (read only)
    #[arg(long, value_name = "URL")]
    to_url: Option<String>,
    /// Compare to a SQL schema file, or a folder of .sql files applied in name order
    #[arg(long, value_name = "PATH")]
    to_schema: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    from: FromArgs,
    #[command(flatten)]
    to: ToArgs,
    /// Print the SQL script that turns `from` into `to` (verified on a shadow database)
    #[arg(long)]
    script: bool,
    /// Exit 2 when there is a difference (0 when none, 1 on error)
    #[arg(long)]
    exit_code: bool,
    /// Print the differences, the script and what was not compared as JSON on stdout
    #[arg(long, conflicts_with = "script")]
    json: bool,
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

fn source(
    empty: bool,
    migrations: Option<PathBuf>,
    url: Option<String>,
    schema: Option<PathBuf>,
) -> Source {
    match (migrations, url, schema) {
        (Some(dir), _, _) => Source::Migrations(dir),
        (_, Some(url), _) => Source::Url(url),
        (_, _, Some(path)) => Source::Schema(path),
        _ => {
            debug_assert!(empty);
            Source::Empty
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let from = source(
        args.from.from_empty,
        args.from.from_migrations,
        args.from.from_url,
        args.from.from_schema,
    );
    let to = source(
        args.to.to_empty,
        args.to.to_migrations,
        args.to.to_url,
        args.to.to_schema,
    );
    let uses_url = matches!(from, Source::Url(_)) || matches!(to, Source::Url(_));
    // A live side's own server holds the shadows unless one is named.
    let fallback = if uses_url {
        None
    } else {
        args.database_url.as_deref()
    };
    let options = args.shadow.options(fallback, args.connect_timeout);
    let diff = nelo_migrate::diff::diff(&from, &to, &options)
        .await
        .with_context(|| format!("cannot diff {from} with {to}"))?;
    if args.json {
        let json = serde_json::json!({
            "empty": diff.is_empty(),
            "differences": diff.differences,
            "possible_renames": diff.possible_renames,
            "warnings": diff.plan.warnings,
            "not_compared": diff.not_compared,
            "notes": diff.notes,
            "script": diff.script(),
        });
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
    } else if args.script {
        let mut script = diff.script();
        if diff.is_empty() {
            script += "-- This is an empty migration.\n";
        }
        print_stdout(&script)?;
    } else {
        print_stdout(&diff_summary(&diff))?;
    }
    for note in &diff.notes {
        super::ui::note(&format!("note: {note}"));
    }
    Ok(if args.exit_code && !diff.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
