//! `cargo xtask db destroy`.

use std::process::ExitCode;

use crate::context::Context;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`db destroy` is not built yet")
}
