//! `cargo xtask db seed [--test]`: Nelo's demo project, from crates/db, in process.

use std::process::ExitCode;

use crate::config::TargetDatabase;
use crate::context::Context;
use crate::workflow::database::seed_target;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seed the test database (TEST_DATABASE_URL).
    #[arg(long)]
    test: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let url = ctx
        .config
        .target_url(TargetDatabase::from_test_flag(args.test));
    seed_target(ctx, url).await?;
    Ok(ExitCode::SUCCESS)
}
