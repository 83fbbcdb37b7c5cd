//! `nelo-migrate create`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use nelo_migrate::diff::Source;

use nelo_migrate_cli::print_stdout;

use super::args::{MigrationsArgs, ShadowArgs};

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
    #[command(flatten)]
    shadow: ShadowArgs,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, hide = true)]
    database_url: Option<String>,
    /// Seconds to keep retrying while the shadow server is unreachable or starting up
    #[arg(long, env = "NELO_CONNECT_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = super::args::parse_seconds)]
    connect_timeout: Duration,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bodies = match &args.from_schema {
        None => vec![nelo_migrate::EMPTY_MIGRATION.to_string()],
        Some(schema) => {
            let dir = &args.migrations.dir;
            let from = if dir.exists() {
                Source::Migrations(dir.clone())
            } else {
                Source::Empty
            };
            let options = args
                .shadow
                .options(args.database_url.as_deref(), args.connect_timeout);
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
            diff.migration_scripts()
        }
    };
    // A change that uses enum values it adds is two migrations: PostgreSQL accepts a new
    // value only once it is committed. The second is stamped a second later, so it sorts after.
    let now = chrono::Utc::now();
    let mut paths = Vec::new();
    for (index, body) in bodies.iter().enumerate() {
        let name = if index == 0 {
            args.name.clone()
        } else {
            format!("{}_after_enum_values", args.name)
        };
        let stamp = now + chrono::Duration::seconds(index as i64);
        let path = nelo_migrate::create_migration(&args.migrations.dir, &name, body, stamp)
            .with_context(|| format!("cannot create migration `{name}`"))?;
        paths.push(path);
    }
    if args.from_schema.is_some() {
        for path in &paths {
            lint_generated(&args.migrations.dir, path)?;
        }
        if paths.len() > 1 {
            super::ui::note(
                "the change uses enum values it adds, so it is two migrations: the second runs after the first commits",
            );
        }
    }
    for path in &paths {
        print_stdout(&format!("{}\n", path.display()))?;
    }
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
