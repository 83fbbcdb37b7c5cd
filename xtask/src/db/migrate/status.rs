//! `cargo xtask db migrate status`: the migrations table and, unless `--no-drift`, whether
//! the database is what its applied migrations build. Exit 1 when something needs attention
//! (a pending, failed, modified or missing migration, or drift).

use std::process::ExitCode;

use anyhow::Context as _;
use nelo_migrate_cli::{drift_json, drift_summary, status_table};

use super::Target;
use crate::context::Context;
use crate::ui;
use crate::workflow::deploy::migrator;
use crate::workflow::schema::{drift, drift_diff_command};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    /// Machine-readable output on stdout.
    #[arg(long)]
    json: bool,
    /// Skip the drift check (which replays the applied migrations in a shadow database on the
    /// development server).
    #[arg(long)]
    no_drift: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let url = ctx.config.target_url(args.target.database());
    let report = migrator(ctx)
        .status(url.as_str())
        .await
        .with_context(|| format!("cannot read the migration status of {url}"))?;
    let drift = if args.no_drift {
        None
    } else {
        Some(drift(ctx, url).await?)
    };
    let drifted = drift.as_ref().is_some_and(|drift| !drift.is_empty());
    if args.json {
        let json = serde_json::json!({
            "database": url.database(),
            "up_to_date": report.is_up_to_date(),
            "entries": report.entries,
            "drift": drift.as_ref().map(drift_json),
        });
        ui::stdout_line(serde_json::to_string_pretty(&json)?);
    } else {
        let commands = Commands::for_target(args.target.test);
        ui::stdout(status_table(&report, commands.as_commands()));
        if let Some(drift) = &drift {
            ui::stdout(drift_summary(
                drift,
                &drift_diff_command(ctx, args.target.test),
            ));
        }
    }
    let cannot_tell = drift
        .as_ref()
        .is_some_and(|drift| !drift.cannot_tell().is_empty());
    // As `nelo-migrate status`: 2 when the drift check cannot tell and nothing else needs
    // attention.
    Ok(if !report.is_up_to_date() || drifted {
        ExitCode::from(1)
    } else if cannot_tell {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// This tool's commands, as the shared status advice names them (`--test` for the test
/// database).
struct Commands {
    deploy: String,
    resolve: String,
}

impl Commands {
    fn for_target(test: bool) -> Self {
        let target = if test { " --test" } else { "" };
        Self {
            deploy: format!("cargo xtask db migrate deploy{target}"),
            resolve: format!("cargo xtask db migrate resolve{target}"),
        }
    }

    fn as_commands(&self) -> nelo_migrate_cli::Commands<'_> {
        nelo_migrate_cli::Commands {
            deploy: &self.deploy,
            resolve: &self.resolve,
        }
    }
}
