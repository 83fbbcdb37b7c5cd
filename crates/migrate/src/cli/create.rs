//! `nelo-migrate create`.

use std::process::ExitCode;

use anyhow::Context;

use super::args::MigrationsArgs;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Name of the migration; it is turned into snake_case
    #[arg(long)]
    name: String,
    #[command(flatten)]
    migrations: MigrationsArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = nelo_migrate::create_migration(
        &args.migrations.dir,
        &args.name,
        nelo_migrate::EMPTY_MIGRATION,
        chrono::Utc::now(),
    )
    .with_context(|| format!("cannot create migration `{}`", args.name))?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}
