//! `nelo-migrate create`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use nelo_migrate::diff::{DiffOptions, Source};

use nelo_migrate_cli::print_stdout;

use super::args::MigrationsArgs;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Name of the migration; it is turned into snake_case
    #[arg(long)]
    name: String,
    #[command(flatten)]
    migrations: MigrationsArgs,
    /// Write the verified difference between the migrations and this SQL schema (a file, or
    /// a folder of .sql files) as the migration; nothing is written when there is none
    #[arg(long, value_name = "PATH")]
    from_schema: Option<PathBuf>,
    /// URL of any database on the server where shadow databases are created (with
    /// --from-schema; default: DATABASE_URL's server)
    #[arg(
        long,
        env = "NELO_SHADOW_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    shadow_database_url: Option<String>,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, hide = true)]
    database_url: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let body = match &args.from_schema {
        None => nelo_migrate::EMPTY_MIGRATION.to_string(),
        Some(schema) => {
            let dir = &args.migrations.dir;
            let from = if dir.exists() {
                Source::Migrations(dir.clone())
            } else {
                Source::Empty
            };
            let options = DiffOptions {
                shadow_server_url: args.shadow_database_url.or(args.database_url),
                connect_timeout: Duration::from_secs(10),
            };
            let to = Source::Schema(schema.clone());
            let diff = nelo_migrate::diff::diff(&from, &to, &options)
                .await
                .with_context(|| format!("cannot diff {from} with {to}"))?;
            if diff.is_empty() {
                super::ui::note(&format!(
                    "the migrations are already in sync with `{}`; no migration created",
                    schema.display()
                ));
                return Ok(ExitCode::SUCCESS);
            }
            diff.script()
        }
    };
    let path =
        nelo_migrate::create_migration(&args.migrations.dir, &args.name, &body, chrono::Utc::now())
            .with_context(|| format!("cannot create migration `{}`", args.name))?;
    if args.from_schema.is_some() {
        lint_generated(&args.migrations.dir, &path)?;
    }
    print_stdout(&format!("{}\n", path.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// Lints the migration just generated at `path`, as deploy will run it, and prints what it
/// finds: a generated step can still lock a large table or lose data.
fn lint_generated(dir: &std::path::Path, path: &std::path::Path) -> anyhow::Result<()> {
    let migrations = nelo_migrate::load(dir).context("cannot read the migration just written")?;
    let Some(migration) = migrations.iter().find(|migration| migration.path == path) else {
        return Ok(());
    };
    let lint = nelo_migrate::lint::lint_migration(migration);
    for finding in &lint.findings {
        eprint!(
            "{}",
            nelo_migrate::lint::finding_text(&migration.path, finding)
        );
    }
    if !lint.findings.is_empty() {
        super::ui::note(&format!(
            "lint: {} finding(s) in the generated migration; review them before deploying",
            lint.findings.len()
        ));
    }
    Ok(())
}
