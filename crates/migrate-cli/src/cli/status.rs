//! `nelo-migrate status`.

use std::process::ExitCode;

use anyhow::Context;
use nelo_migrate::diff::drift;
use nelo_migrate_cli::{drift_json, drift_summary, print_stdout, status_table};

use super::args::{ConnectionArgs, MigrationsArgs, ShadowArgs, migrator};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    migrations: MigrationsArgs,
    /// Print the report as JSON on stdout
    #[arg(long)]
    json: bool,
    /// Also check for drift: replay the applied migrations in a shadow database and compare
    /// it with the database (creates and drops a database on the shadow server; off by
    /// default so that a plain status never writes to a production server)
    #[arg(long)]
    drift: bool,
    #[command(flatten)]
    shadow: ShadowArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = args.connection.url()?;
    let report = migrator(&args.migrations, &args.connection)
        .status(url.as_str())
        .await
        .with_context(|| format!("cannot tell the status of {url}"))?;
    let drift = if args.drift {
        let options = args.shadow.options(None, args.connection.connect_timeout);
        Some(
            drift(url.as_str(), &args.migrations.dir, &options)
                .await
                .with_context(|| format!("cannot check {url} for drift"))?,
        )
    } else {
        None
    };
    let drifted = drift.as_ref().is_some_and(|drift| !drift.is_empty());
    if args.json {
        let json = serde_json::json!({
            "up_to_date": report.is_up_to_date(),
            "entries": report.entries,
            "drift": drift.as_ref().map(drift_json),
        });
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
    } else {
        print_stdout(&status_table(&report, super::COMMANDS))?;
        if let Some(drift) = &drift {
            let command = format!(
                "nelo-migrate diff --from-migrations {} --to-url \"$DATABASE_URL\" --script",
                args.migrations.dir.display()
            );
            print_stdout(&drift_summary(drift, &command))?;
        }
    }
    Ok(if report.is_up_to_date() && !drifted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
