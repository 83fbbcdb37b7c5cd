//! `nelo-migrate reset`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, bail};
use nelo_migrate::DatabaseUrl;

use super::args::{ConnectionArgs, LockArgs, MigrationsArgs, SeedArgs, migrator};
use super::{seed, ui};

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
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = args.connection.url()?;
    if !args.force {
        confirm(&url)?;
    }
    let report = migrator(&args.migrations, &args.connection)
        .lock_timeout(args.lock.lock_timeout)
        .reset(url.as_str(), ui::event)
        .await
        .with_context(|| format!("reset of {url} stopped"))?;
    ui::note(&format!(
        "reset `{}`: applied {} migration(s)",
        url.database(),
        report.applied.len()
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
    seed::run_seed(&args.seed, url.as_str())?;
    Ok(ExitCode::SUCCESS)
}

/// Asks the person to type the database name; never asks in CI or without a terminal.
fn confirm(url: &DatabaseUrl) -> anyhow::Result<()> {
    let database = url.database();
    if std::env::var_os("CI").is_some() || !std::io::stdin().is_terminal() {
        bail!(
            "refusing to reset `{database}` without --force: not an interactive terminal (or CI is set)"
        );
    }
    eprintln!(
        "this drops every schema and all data in {url}\ntype the database name (`{database}`) to confirm:"
    );
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the confirmation")?;
    if answer.trim() != database {
        bail!("reset cancelled: `{}` is not `{database}`", answer.trim());
    }
    Ok(())
}
