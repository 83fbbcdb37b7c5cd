//! `cargo xtask db psql`.

use std::process::ExitCode;

use crate::context::Context;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`db psql` is not built yet")
}
