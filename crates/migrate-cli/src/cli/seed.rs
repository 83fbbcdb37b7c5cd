//! `nelo-migrate seed`.

use std::process::ExitCode;

use anyhow::Context;
use nelo_migrate::seed;

use nelo_migrate_cli::print_stdout;

use super::args::{ConnectionArgs, SeedArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    seed: SeedArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    run_seed(&args.seed, args.connection.url()?.as_str())?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the seed command and passes its output on.
pub fn run_seed(seed_args: &SeedArgs, database_url: &str) -> anyhow::Result<()> {
    let command = seed::configured_command(seed_args.seed_command.as_deref())?;
    let output = seed::run_command(command, database_url).context("seeding failed")?;
    print_stdout(&output.stdout)?;
    eprint!("{}", output.stderr);
    Ok(())
}
