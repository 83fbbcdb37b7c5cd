//! `cargo xtask db migrate ...`: crates/migrate, in process, against `DATABASE_URL` or, with
//! `--test`, `TEST_DATABASE_URL`. Deploy and reset back the database up first.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use nelo_migrate_cli::{Confirmation, ResolveArgs, confirm, status_table};

use crate::config::TargetDatabase;
use crate::context::Context;
use crate::docker;
use crate::ui;
use crate::workflow::database::seed_target;
use crate::workflow::deploy::{self, backup_first, migrator, progress};

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending migrations, after a backup of the database when it holds data.
    Deploy {
        #[command(flatten)]
        target: Target,
        /// Skip the pre-migration backup.
        #[arg(long)]
        no_backup: bool,
    },
    /// Applied, pending, failed, modified and missing migrations (exit 1 when any needs attention).
    Status {
        #[command(flatten)]
        target: Target,
        /// Machine-readable output on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Review migrations with squawk's rules before they run (exit 1 on an error-level
    /// finding); `nelo-migrate lint` (crates/migrate-cli) is the same.
    Lint {
        /// Migrations to lint, by folder name (default: all).
        names: Vec<String>,
    },
    /// Create a new, empty migration folder.
    Create {
        /// What the migration does, e.g. `add_scene_summary`.
        #[arg(long)]
        name: String,
    },
    /// Drop every schema, re-apply all migrations, then seed (after a backup).
    Reset {
        #[command(flatten)]
        target: Target,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
        /// Do not load the seed data afterwards.
        #[arg(long)]
        skip_seed: bool,
        /// Skip the pre-reset backup.
        #[arg(long)]
        no_backup: bool,
    },
    /// Record a migration as applied (baselining) or a failed one as rolled back.
    Resolve {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        resolution: ResolveArgs,
    },
}

#[derive(clap::Args, Debug)]
pub struct Target {
    /// Work on the test database (TEST_DATABASE_URL).
    #[arg(long)]
    test: bool,
}

impl Target {
    fn database(&self) -> TargetDatabase {
        TargetDatabase::from_test_flag(self.test)
    }
}

pub async fn run(ctx: &Context, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Deploy { target, no_backup } => deploy(ctx, &target, no_backup).await,
        Command::Status { target, json } => status(ctx, &target, json).await,
        Command::Lint { names } => lint(ctx, &names),
        Command::Create { name } => create(ctx, &name),
        Command::Reset {
            target,
            force,
            skip_seed,
            no_backup,
        } => reset(ctx, &target, force, skip_seed, no_backup).await,
        Command::Resolve { target, resolution } => resolve(ctx, &target, &resolution).await,
    }
}

/// `deploy`: pending migrations, after a backup unless `no_backup`.
async fn deploy(ctx: &Context, target: &Target, no_backup: bool) -> anyhow::Result<ExitCode> {
    let url = ctx.config.target_url(target.database());
    let engine = if no_backup {
        None
    } else {
        Some(docker::connect().await?)
    };
    deploy::deploy(ctx, engine.as_ref(), url).await?;
    Ok(ExitCode::SUCCESS)
}

/// `status`: the table (or `--json`); exit 1 when something needs attention.
async fn status(ctx: &Context, target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let url = ctx.config.target_url(target.database());
    let report = migrator(ctx)
        .status(url.as_str())
        .await
        .with_context(|| format!("cannot read the migration status of {url}"))?;
    if json {
        let json = serde_json::json!({
            "database": url.database(),
            "up_to_date": report.is_up_to_date(),
            "entries": report.entries,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        let commands = Commands::for_target(target.test);
        print!("{}", status_table(&report, commands.as_commands()));
    }
    Ok(if report.is_up_to_date() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `create`: a new, empty migration folder; prints its path.
fn create(ctx: &Context, name: &str) -> anyhow::Result<ExitCode> {
    let path = nelo_migrate::create_migration(
        &ctx.config.migrations_dir,
        name,
        nelo_migrate::EMPTY_MIGRATION,
        chrono::Utc::now(),
    )?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// `reset`: after the confirmation (or `force`) and a backup (unless `no_backup`), drops every
/// schema, re-applies the migrations and seeds (unless `skip_seed`).
async fn reset(
    ctx: &Context,
    target: &Target,
    force: bool,
    skip_seed: bool,
    no_backup: bool,
) -> anyhow::Result<ExitCode> {
    let url = ctx.config.target_url(target.database());
    if !force {
        confirm(&Confirmation {
            action: "reset",
            database: &url.database(),
            consequence: &format!("this drops every schema and all data in {url}"),
        })?;
    }
    if !no_backup {
        let engine = docker::connect().await?;
        backup_first(ctx, &engine, url, "pre-reset").await?;
    }
    let bar = ui::spinner(format!("resetting {url}"));
    let report = migrator(ctx).reset(url.as_str(), progress(&bar)).await;
    ui::clear(&bar);
    let report = report.with_context(|| format!("cannot reset {url}"))?;
    ui::step(format!(
        "reset {url}: {} applied",
        ui::count(report.applied.len(), "migration")
    ));
    if !skip_seed {
        seed_target(ctx, url).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `resolve`: records a migration as applied, or marks a failed one as rolled back.
async fn resolve(
    ctx: &Context,
    target: &Target,
    resolution: &ResolveArgs,
) -> anyhow::Result<ExitCode> {
    let url = ctx.config.target_url(target.database());
    ui::step(resolution.run(&migrator(ctx), url).await?);
    Ok(ExitCode::SUCCESS)
}

/// Lints the named migrations (all when none is named) and prints each finding.
fn lint(ctx: &Context, names: &[String]) -> anyhow::Result<ExitCode> {
    use nelo_migrate::lint::{Level, finding_text, lint_migration};
    let dir = &ctx.config.migrations_dir;
    let migrations = nelo_migrate::load(dir)?;
    if let Some(unknown) = names
        .iter()
        .find(|name| !migrations.iter().any(|m| &m.name == *name))
    {
        anyhow::bail!("no migration `{unknown}` in {}", dir.display());
    }
    let mut errors = 0;
    let mut count = 0;
    for migration in &migrations {
        if names.is_empty() || names.contains(&migration.name) {
            let lint = lint_migration(migration);
            lint.findings
                .iter()
                .for_each(|finding| print!("{}", finding_text(&lint.path, finding)));
            errors += lint.count(Level::Error);
            count += 1;
        }
    }
    ui::step(format!(
        "linted {}: {}",
        ui::count(count, "migration"),
        ui::count(errors, "error")
    ));
    Ok(if errors > 0 {
        ExitCode::from(1)
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
