//! `cargo xtask db migrate reset`.

use std::process::ExitCode;

use nelo_migrate_cli::{Confirmation, confirm};

use super::Target;
use crate::context::Context;
use crate::workflow::reset::{ResetOptions, reset};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    /// Do not ask for confirmation.
    #[arg(long)]
    force: bool,
    /// Do not load the seed data afterwards.
    #[arg(long)]
    skip_seed: bool,
    /// Skip the pre-reset backup.
    #[arg(long)]
    no_backup: bool,
}

/// After the confirmation (or `--force`) and a backup (unless `--no-backup`), drops every
/// schema, re-applies the migrations and seeds (unless `--skip-seed`).
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let url = ctx.config.target_url(args.target.database());
    if !args.force {
        confirm(&Confirmation {
            action: "reset",
            database: &url.database(),
            consequence: &format!("this drops every schema and all data in {url}"),
        })?;
    }
    let options = ResetOptions {
        backup: !args.no_backup,
        seed: !args.skip_seed,
    };
    reset(ctx, url, &options).await?;
    Ok(ExitCode::SUCCESS)
}
