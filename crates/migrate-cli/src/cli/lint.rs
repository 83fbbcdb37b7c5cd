//! `nelo-migrate lint`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use nelo_migrate::lint::{Level, MigrationLint, finding_text, lint_migrations};
use nelo_migrate::{Migration, Migrator, redact_url};

use nelo_migrate_cli::{count, print_stdout};

use super::args::{MigrationsArgs, parse_seconds};
use super::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Migrations to lint, by folder name (default: every migration in the folder)
    #[arg(value_name = "NAME", conflicts_with = "pending")]
    names: Vec<String>,
    /// Lint only the migrations `deploy` would apply to DATABASE_URL
    #[arg(long, requires = "database_url")]
    pending: bool,
    /// Print the findings as JSON on stdout
    #[arg(long)]
    json: bool,
    /// URL of the database whose pending migrations `--pending` lints
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Seconds to keep retrying while the server is unreachable or starting up
    #[arg(long, env = "NELO_CONNECT_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    connect_timeout: Duration,
    #[command(flatten)]
    migrations: MigrationsArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let migrations = nelo_migrate::load(&args.migrations.dir)
        .with_context(|| format!("cannot lint `{}`", args.migrations.dir.display()))?;
    let selected = if args.pending {
        let url = args.database_url.as_deref().unwrap_or_default();
        let report = Migrator::new(&args.migrations.dir)
            .connect_timeout(args.connect_timeout)
            .status(url)
            .await
            .with_context(|| {
                format!(
                    "cannot tell which migrations are pending on {}",
                    redact_url(url)
                )
            })?;
        let pending: Vec<&str> = report.pending().map(|entry| entry.name.as_str()).collect();
        migrations
            .iter()
            .filter(|migration| pending.contains(&migration.name.as_str()))
            .collect()
    } else {
        select(&migrations, &args.names)?
    };
    let lints: Vec<MigrationLint> = lint_migrations(&selected);
    let errors: usize = lints.iter().map(|lint| lint.count(Level::Error)).sum();
    let warnings: usize = lints.iter().map(|lint| lint.count(Level::Warning)).sum();
    if args.json {
        let json = serde_json::json!({
            "errors": errors,
            "warnings": warnings,
            "migrations": lints,
        });
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
    } else {
        let findings: String = lints
            .iter()
            .flat_map(|lint| {
                lint.findings
                    .iter()
                    .map(|finding| finding_text(&lint.path, finding))
            })
            .collect();
        print_stdout(&findings)?;
        ui::note(&format!(
            "linted {}: {}, {}",
            count(lints.len(), "migration"),
            count(errors, "error"),
            count(warnings, "warning")
        ));
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The migrations named, in folder order; every one of them when no name is given.
fn select<'a>(migrations: &'a [Migration], names: &[String]) -> anyhow::Result<Vec<&'a Migration>> {
    if let Some(unknown) = names
        .iter()
        .find(|name| !migrations.iter().any(|migration| &migration.name == *name))
    {
        anyhow::bail!(
            "no migration `{unknown}` in the migrations folder; `nelo-migrate status` lists them"
        );
    }
    Ok(migrations
        .iter()
        .filter(|migration| names.is_empty() || names.contains(&migration.name))
        .collect())
}
