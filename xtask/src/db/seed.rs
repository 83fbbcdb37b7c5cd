//! `cargo xtask db seed [--test]`: Nelo's demo project, from crates/db, in process.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::{postgres, ui};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seed the test database (TEST_DATABASE_URL).
    #[arg(long)]
    test: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    seed_target(ctx, ctx.config.target_url(args.test)).await?;
    Ok(ExitCode::SUCCESS)
}

/// Loads the demo project into `url` in one transaction; running it again leaves the same data.
pub(crate) async fn seed_target(ctx: &Context, url: &DatabaseUrl) -> anyhow::Result<()> {
    let mut conn = postgres::connect(url, ctx.config.connect_timeout).await?;
    let bar = ui::spinner(format!("seeding {}", url.database()));
    let report = nelo_db::seed::seed(&mut conn).await;
    ui::failed(&bar);
    let report = report.with_context(|| {
        format!("cannot seed {url}; nothing was loaded (are its migrations applied? `cargo xtask db migrate status`)")
    })?;
    ui::step(format!("{}: {report}", url.database()));
    Ok(())
}
