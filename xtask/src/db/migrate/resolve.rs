//! `cargo xtask db migrate resolve`.

use std::process::ExitCode;

use nelo_migrate_cli::ResolveArgs;

use super::Target;
use crate::context::Context;
use crate::ui;
use crate::workflow::deploy::migrator;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    resolution: ResolveArgs,
}

/// Records a migration as applied, or marks a failed one as rolled back.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let url = ctx.config.target_url(args.target.database());
    ui::step(args.resolution.run(&migrator(ctx), url).await?);
    Ok(ExitCode::SUCCESS)
}
