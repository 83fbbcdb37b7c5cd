//! `nelo-migrate resolve`.

use std::process::ExitCode;

use anyhow::Context;

use super::args::{ConnectionArgs, LockArgs, MigrationsArgs, migrator};
use super::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    resolution: Resolution,
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    migrations: MigrationsArgs,
    #[command(flatten)]
    lock: LockArgs,
}

#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
struct Resolution {
    /// Record migration NAME as applied without running it (baselining, or fixed by hand)
    #[arg(long, value_name = "NAME")]
    applied: Option<String>,
    /// Mark the failed migration NAME rolled back, so that the next deploy runs it again
    #[arg(long, value_name = "NAME")]
    rolled_back: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let migrator =
        migrator(&args.migrations, &args.connection).lock_timeout(args.lock.lock_timeout);
    let url = args.connection.url()?;
    let url = url.as_str();
    match (&args.resolution.applied, &args.resolution.rolled_back) {
        (Some(name), _) => {
            migrator
                .resolve_applied(url, name)
                .await
                .with_context(|| format!("cannot mark `{name}` applied"))?;
            ui::note(&format!("marked `{name}` applied"));
        }
        (None, Some(name)) => {
            migrator
                .resolve_rolled_back(url, name)
                .await
                .with_context(|| format!("cannot mark `{name}` rolled back"))?;
            ui::note(&format!(
                "marked `{name}` rolled back; the next deploy runs it again"
            ));
        }
        (None, None) => unreachable!("clap requires one of --applied and --rolled-back"),
    }
    Ok(ExitCode::SUCCESS)
}
