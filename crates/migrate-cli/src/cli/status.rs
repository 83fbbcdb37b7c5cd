//! `nelo-migrate status`.

use std::process::ExitCode;

use anyhow::Context;
use nelo_migrate_cli::{print_stdout, status_table};

use super::args::{ConnectionArgs, MigrationsArgs, migrator};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    migrations: MigrationsArgs,
    /// Print the report as JSON on stdout
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = args.connection.url()?;
    let report = migrator(&args.migrations, &args.connection)
        .status(url.as_str())
        .await
        .with_context(|| format!("cannot tell the status of {url}"))?;
    if args.json {
        let json = serde_json::json!({
            "up_to_date": report.is_up_to_date(),
            "entries": report.entries,
        });
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
    } else {
        print_stdout(&status_table(&report, super::COMMANDS))?;
    }
    Ok(if report.is_up_to_date() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
