//! `nelo-migrate deploy`.

use std::process::ExitCode;

use anyhow::Context;
use nelo_migrate::lint::LintMode;

use super::args::{ConnectionArgs, DdlLockArgs, LockArgs, MigrationsArgs, migrator};
use super::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    migrations: MigrationsArgs,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    ddl_locks: DdlLockArgs,
    /// Lint the migrations about to run: `warn` stops only on findings that would fail at run
    /// time or break the migration's transaction, `deny` on every error, `off` skips it
    #[arg(long, env = "NELO_LINT", value_name = "MODE", default_value = "warn")]
    lint: LintMode,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = args.connection.url()?;
    let report = migrator(&args.migrations, &args.connection)
        .lock_timeout(args.lock.lock_timeout)
        .ddl_lock_timeout(args.ddl_locks.ddl_lock_timeout)
        .lock_retry_budget(args.ddl_locks.lock_retry_budget)
        .lint(args.lint)
        .deploy(url.as_str(), ui::event)
        .await
        .with_context(|| format!("deploy to {url} stopped"))?;
    match report.applied.len() {
        0 => ui::note("no pending migrations; the database is up to date"),
        applied => ui::note(&format!(
            "applied {}",
            nelo_migrate_cli::count(applied, "migration")
        )),
    }
    Ok(ExitCode::SUCCESS)
}
