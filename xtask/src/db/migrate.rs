//! `cargo xtask db migrate ...`: crates/migrate, in process.

use std::process::ExitCode;

use clap::Subcommand;

use crate::context::Context;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending migrations.
    Deploy,
}

pub async fn run(_ctx: &Context, _command: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`db migrate` is not built yet")
}
