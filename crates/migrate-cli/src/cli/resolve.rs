//! `nelo-migrate resolve`.

use std::process::ExitCode;

use nelo_migrate_cli::ResolveArgs;

use super::args::{ConnectionArgs, LockArgs, MigrationsArgs, migrator};
use super::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    resolution: ResolveArgs,
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    migrations: MigrationsArgs,
    #[command(flatten)]
    lock: LockArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let migrator =
        migrator(&args.migrations, &args.connection).lock_timeout(args.lock.lock_timeout);
    let url = args.connection.url()?;
    let done = args.resolution.run(&migrator, &url).await?;
    ui::note(&done);
    Ok(ExitCode::SUCCESS)
}
