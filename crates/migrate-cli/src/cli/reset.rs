//! `nelo-migrate reset`.

use std::process::ExitCode;

use anyhow::Context;
use nelo_migrate_cli::{Confirmation, confirm};

use super::args::{ConnectionArgs, DdlLockArgs, LockArgs, MigrationsArgs, SeedArgs, migrator};
use super::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not ask for confirmation
    #[arg(long)]
    force: bool,
    /// Do not run the seed command afterwards
    #[arg(long)]
    skip_seed: bool,
    #[command(flatten)]
    seed: SeedArgs,
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    migrations: MigrationsArgs,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    ddl_locks: DdlLockArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = args.connection.url()?;
    if !args.force {
        confirm(&Confirmation {
            action: "reset",
            database: &url.database(),
            consequence: &format!("this drops every schema and all data in {url}"),
        })?;
    }
    let report = migrator(&args.migrations, &args.connection)
        .lock_timeout(args.lock.lock_timeout)
        .ddl_lock_timeout(args.ddl_locks.ddl_lock_timeout)
        .lock_retry_budget(args.ddl_locks.lock_retry_budget)
        .reset(url.as_str(), ui::event)
        .await
        .with_context(|| format!("reset of {url} stopped"))?;
    ui::note(&format!(
        "reset `{}`: applied {}",
        url.database(),
        nelo_migrate_cli::count(report.applied.len(), "migration")
    ));
    if args.skip_seed {
        return Ok(ExitCode::SUCCESS);
    }
    if args
        .seed
        .seed_command
        .as_deref()
        .is_none_or(|command| command.trim().is_empty())
    {
        ui::note("no seed command configured (NELO_SEED_COMMAND or --seed-command); skipping seed");
        return Ok(ExitCode::SUCCESS);
    }
    args.seed.run(url.as_str())?;
    Ok(ExitCode::SUCCESS)
}
