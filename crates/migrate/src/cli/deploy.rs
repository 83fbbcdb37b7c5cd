//! `nelo-migrate deploy`.

use std::process::ExitCode;

use anyhow::Context;

use super::args::{ConnectionArgs, LockArgs, MigrationsArgs, migrator};
use super::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    migrations: MigrationsArgs,
    #[command(flatten)]
    lock: LockArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = args.connection.url()?;
    let report = migrator(&args.migrations, &args.connection)
        .lock_timeout(args.lock.lock_timeout)
        .deploy(url.as_str(), ui::event)
        .await
        .with_context(|| format!("deploy to {url} stopped"))?;
    match report.applied.len() {
        0 => ui::note("no pending migrations; the database is up to date"),
        count => ui::note(&format!("applied {count} migration(s)")),
    }
    Ok(ExitCode::SUCCESS)
}
