//! `cargo xtask db migrate deploy`.

use std::process::ExitCode;

use super::Target;
use crate::context::Context;
use crate::docker;
use crate::workflow::deploy;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    /// Skip the pre-migration backup.
    #[arg(long)]
    no_backup: bool,
}

/// Pending migrations, after a backup unless `--no-backup`.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let url = ctx.config.target_url(args.target.database());
    let engine = if args.no_backup {
        None
    } else {
        Some(docker::connect().await?)
    };
    deploy::deploy(ctx, engine.as_ref(), url).await?;
    Ok(ExitCode::SUCCESS)
}
