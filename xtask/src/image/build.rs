//! `cargo xtask image build`: the PostgreSQL 17 + pgvector image from Debian packages, with no
//! registry (see [`super::local_build`]).

use std::process::ExitCode;

use super::local_build::ensure_built;
use crate::context::Context;
use crate::docker;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image to create [default: NELO_PG_IMAGE, else pgvector/pgvector:pg17].
    #[arg(long)]
    tag: Option<String>,
    /// Build again even when an image with that tag exists.
    #[arg(long)]
    force: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let tag = args.tag.unwrap_or_else(|| ctx.config.image.clone());
    let engine = docker::connect().await?;
    ensure_built(ctx, &engine, &tag, args.force).await?;
    Ok(ExitCode::SUCCESS)
}
