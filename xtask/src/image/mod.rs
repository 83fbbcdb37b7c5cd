//! `cargo xtask image ...`.

mod build;
#[cfg(target_os = "linux")]
mod debootstrap;
#[cfg(target_os = "linux")]
mod folder;
pub(crate) mod local_build;
mod migrator;
mod recipe;
#[cfg(target_os = "linux")]
mod rootfs;

use std::process::ExitCode;

pub(crate) use migrator::build_release_binary as migrator_release_binary;

use clap::Subcommand;

use crate::context::Context;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the PostgreSQL 17 + pgvector image from Debian packages, without a registry.
    Build(build::Args),
    /// Build the `nelo-migrate` image (non-root, no shell, migrations baked at /migrations)
    /// from the release binary, without a registry.
    Migrator(migrator::Args),
}

pub async fn run(ctx: &Context, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Build(args) => build::run(ctx, args).await,
        Command::Migrator(args) => migrator::run(ctx, args).await,
    }
}
