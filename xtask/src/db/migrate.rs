//! `cargo xtask db migrate ...`: crates/migrate, in process, against `DATABASE_URL` or, with
//! `--test`, `TEST_DATABASE_URL`. Deploy and reset back the database up first.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use nelo_migrate::{Event, Migrator};
use nelo_migrate_cli::{Confirmation, ResolveArgs, confirm, status_table};

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::{self, Engine};
use crate::ui;

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

/// What a deploy did.
pub struct DeployOutcome {
    pub applied: Vec<String>,
}

pub async fn run(ctx: &Context, command: Command) -> anyhow::Result<ExitCode> {
    let migrator = migrator(ctx);
    match command {
        Command::Deploy { target, no_backup } => {
            let url = ctx.config.target_url(target.test);
            let engine = if no_backup {
                None
            } else {
                Some(docker::connect().await?)
            };
            deploy(ctx, engine.as_ref(), url).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { target, json } => {
            let url = ctx.config.target_url(target.test);
            let report = migrator
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
        Command::Lint { names } => lint(ctx, &names),
        Command::Create { name } => {
            let path = nelo_migrate::create_migration(
                &ctx.config.migrations_dir,
                &name,
                nelo_migrate::EMPTY_MIGRATION,
                chrono::Utc::now(),
            )?;
            println!("{}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Reset {
            target,
            force,
            skip_seed,
            no_backup,
        } => {
            let url = ctx.config.target_url(target.test);
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
            let report = migrator.reset(url.as_str(), progress(&bar)).await;
            ui::failed(&bar);
            let report = report.with_context(|| format!("cannot reset {url}"))?;
            ui::step(format!(
                "reset {url}: {} applied",
                ui::count(report.applied.len(), "migration")
            ));
            if !skip_seed {
                super::seed::seed_target(ctx, url).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Resolve { target, resolution } => {
            let url = ctx.config.target_url(target.test);
            ui::step(resolution.run(&migrator, url).await?);
            Ok(ExitCode::SUCCESS)
        }
    }
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

/// The engine's advice for a blocked deploy, in this tool's commands (`--test` for the test
/// database).
fn resolve_hint(error: &nelo_migrate::Error, test: bool) -> Option<String> {
    let command = format!(
        "cargo xtask db migrate resolve{}",
        if test { " --test" } else { "" }
    );
    match error {
        nelo_migrate::Error::FailedMigrationFound { name } => Some(format!(
            "; once the database is fixed: `{command} --rolled-back {name}` to run it again, or \
             `{command} --applied {name}` if you completed it by hand"
        )),
        nelo_migrate::Error::SchemaNotEmpty {
            first_migration: Some(name),
            ..
        } => Some(format!(
            "; if it already has the schema of `{name}`: `{command} --applied {name}`"
        )),
        nelo_migrate::Error::LockTimeout { .. } => Some(
            "; wait for that deploy to finish, or raise NELO_LOCK_TIMEOUT in `.env`".to_string(),
        ),
        nelo_migrate::Error::ConnectTimeout { .. } => Some(
            "; is the container up (`cargo xtask db status`)? NELO_CONNECT_TIMEOUT waits longer"
                .to_string(),
        ),
        nelo_migrate::Error::FolderMissing { .. } => Some(
            "; create a migration with `cargo xtask db migrate create --name NAME`, or set NELO_MIGRATIONS_DIR"
                .to_string(),
        ),
        _ => None,
    }
}

/// Deploys pending migrations to `url`, after a backup of the database when it holds data
/// (skipped when `engine` is `None`). `db migrate deploy` and [`super::ensure_database_ready`]
/// use it.
pub(crate) async fn deploy(
    ctx: &Context,
    engine: Option<&Engine>,
    url: &DatabaseUrl,
) -> anyhow::Result<DeployOutcome> {
    let migrator = migrator(ctx);
    let status = migrator
        .status(url.as_str())
        .await
        .with_context(|| format!("cannot read the migration status of {url}"))?;
    if status.pending().next().is_none() && status.failed().next().is_none() {
        ui::step(format!("{}: up to date", url.database()));
        return Ok(DeployOutcome {
            applied: Vec::new(),
        });
    }
    if let Some(engine) = engine {
        backup_first(ctx, engine, url, "pre-deploy").await?;
    }
    let bar = ui::spinner(format!("migrating {}", url.database()));
    let report = migrator.deploy(url.as_str(), progress(&bar)).await;
    ui::failed(&bar);
    let report = report.map_err(|error| {
        let hint = resolve_hint(&error, *url == ctx.config.test_database_url);
        anyhow::Error::new(error)
            .context(format!("cannot migrate {url}{}", hint.unwrap_or_default()))
    })?;
    ui::step(format!(
        "{}: applied {}",
        url.database(),
        ui::count(report.applied.len(), "migration")
    ));
    Ok(DeployOutcome {
        applied: report.applied,
    })
}

async fn backup_first(
    ctx: &Context,
    engine: &Engine,
    url: &DatabaseUrl,
    reason: &str,
) -> anyhow::Result<()> {
    let backup = super::backup::backup_before_change(ctx, engine, url, reason)
        .await
        .with_context(|| {
            format!(
                "the {reason} backup of {url} failed, so nothing was changed (--no-backup skips it)"
            )
        })?;
    if let Some(path) = backup {
        ui::step(format!(
            "backed up {} to {}",
            url.database(),
            path.display()
        ));
    }
    Ok(())
}

/// This tool's deploy and resolve commands for the target database, as the shared status
/// advice names them.
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

fn migrator(ctx: &Context) -> Migrator {
    Migrator::new(&ctx.config.migrations_dir)
        .lock_timeout(ctx.config.lock_timeout)
        .connect_timeout(ctx.config.connect_timeout)
}

/// Shows each migration on the spinner as it is applied.
fn progress(bar: &indicatif::ProgressBar) -> impl FnMut(Event) + '_ {
    move |event| match &event {
        Event::Applying { name, .. } => bar.set_message(format!("applying {name}")),
        Event::LintWarning { path, finding, .. } => {
            bar.suspend(|| eprint!("{}", nelo_migrate::lint::finding_text(path, finding)))
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_deploys_get_this_tools_resolve_command() {
        let failed = nelo_migrate::Error::FailedMigrationFound {
            name: "20250101000000_a".into(),
        };
        let hint = resolve_hint(&failed, true).unwrap();
        assert!(
            hint.contains("`cargo xtask db migrate resolve --test --rolled-back 20250101000000_a`"),
            "{hint}"
        );
        let not_empty = nelo_migrate::Error::SchemaNotEmpty {
            schema: "public".into(),
            objects: vec!["table \"User\"".into()],
            first_migration: Some("20250817000000_baseline".into()),
        };
        let hint = resolve_hint(&not_empty, false).unwrap();
        assert!(
            hint.contains("`cargo xtask db migrate resolve --applied 20250817000000_baseline`"),
            "{hint}"
        );
        assert_eq!(resolve_hint(&nelo_migrate::Error::NoSchema, false), None);
    }
}
