//! `nelo-migrate seed`.

use std::process::ExitCode;

use super::args::{ConnectionArgs, SeedArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    seed: SeedArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.seed.run(args.connection.url()?.as_str())?;
    Ok(ExitCode::SUCCESS)
}
