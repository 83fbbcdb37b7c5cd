//! `cargo xtask db test-setup`: what the migrations guide's `scripts/setup-test-db.sh` did.
//! Creates `nelo_test` if missing, installs `vector` and applies the migrations, on a server
//! that is already running (`db up` starts it).

use std::process::ExitCode;

use crate::context::Context;
use crate::ui;
use crate::workflow::database::ensure_database_ready;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub async fn run(ctx: &Context, _args: Args) -> anyhow::Result<ExitCode> {
    let url = &ctx.config.test_database_url;
    // Test data is disposable: no backup before migrating it.
    ensure_database_ready(ctx, None, url).await?;
    ui::step(format!("test database ready: {url}"));
    Ok(ExitCode::SUCCESS)
}
