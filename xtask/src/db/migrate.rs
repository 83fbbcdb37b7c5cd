//! `cargo xtask db migrate ...`: crates/migrate, in process, against `DATABASE_URL` or, with
//! `--test`, `TEST_DATABASE_URL`. Deploy and reset back the database up first.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use nelo_migrate::{State, StatusReport};

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
    /// finding); `nelo-migrate lint` in crates/migrate is the same.
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
        /// Record NAME as applied without running it.
        #[arg(
            long,
            value_name = "NAME",
            conflicts_with = "rolled_back",
            required_unless_present = "rolled_back"
        )]
        applied: Option<String>,
        /// Mark the failed migration NAME as rolled back, so it runs again.
        #[arg(long, value_name = "NAME")]
        rolled_back: Option<String>,
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
        Command::Resolve {
            target,
            applied,
            rolled_back,
        } => resolve(ctx, &target, applied, rolled_back).await,
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
        print!("{}", status_table(&report));
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
    if !force && !ui::confirm_destruction(&url.database())? {
        anyhow::bail!("reset cancelled");
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
        seed_target(url).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `resolve`: records `applied` as applied, or marks the failed `rolled_back` as rolled back.
async fn resolve(
    ctx: &Context,
    target: &Target,
    applied: Option<String>,
    rolled_back: Option<String>,
) -> anyhow::Result<ExitCode> {
    let url = ctx.config.target_url(target.database());
    let migrator = migrator(ctx);
    match (applied, rolled_back) {
        (Some(name), _) => {
            migrator.resolve_applied(url.as_str(), &name).await?;
            ui::step(format!("recorded `{name}` as applied in {url}"));
        }
        (None, Some(name)) => {
            migrator.resolve_rolled_back(url.as_str(), &name).await?;
            ui::step(format!("marked `{name}` as rolled back in {url}"));
        }
        (None, None) => unreachable!("clap requires one of --applied and --rolled-back"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Lints the named migrations (all when none is named) and prints each finding.
fn lint(ctx: &Context, names: &[String]) -> anyhow::Result<ExitCode> {
    use nelo_migrate::lint::{Level, finding_text, lint_migration};
    let dir = nelo_migrate::MigrationsDir::load(&ctx.config.migrations_dir)?;
    if let Some(unknown) = names
        .iter()
        .find(|name| !dir.migrations.iter().any(|m| &m.name == *name))
    {
        anyhow::bail!("no migration `{unknown}` in {}", dir.path.display());
    }
    let mut errors = 0;
    let mut count = 0;
    for migration in &dir.migrations {
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

/// One line per migration, then what to do about each kind of problem, in xtask's commands.
fn status_table(report: &StatusReport) -> String {
    let width = report
        .entries
        .iter()
        .map(|entry| entry.name.len())
        .max()
        .unwrap_or(0)
        .max(9);
    let mut text = format!("{:width$}  STATE\n", "MIGRATION");
    for entry in &report.entries {
        text += &format!("{:width$}  {}\n", entry.name, entry.state);
    }
    let advice = [
        (
            State::Pending,
            "`cargo xtask db migrate deploy` applies them",
        ),
        (
            State::Failed,
            "fix it, then `cargo xtask db migrate resolve --rolled-back NAME`",
        ),
        (
            State::Modified,
            "restore the applied file, or add a new migration for the change",
        ),
        (State::Missing, "restore the folder from version control"),
    ];
    for (state, what_to_do) in advice {
        let count = report.in_state(state).count();
        if count > 0 {
            text += &format!("{count} {state}: {what_to_do}\n");
        }
    }
    if report.is_up_to_date() {
        text += "up to date\n";
    }
    text
}
