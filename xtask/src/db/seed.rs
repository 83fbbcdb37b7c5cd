//! `cargo xtask db seed`.

use std::process::ExitCode;

use crate::context::Context;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`db seed` is not built yet")
}
