//! `cargo xtask db test-setup`: what the migrations guide's `scripts/setup-test-db.sh` did.
//! Creates `nelo_test` if missing, installs `vector` and applies the migrations, on a server
//! that is already running (`db up` starts it).

use std::process::ExitCode;
use std::time::Duration;

use crate::context::Context;
use crate::{postgres, ui};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub async fn run(ctx: &Context, _args: Args) -> anyhow::Result<ExitCode> {
    let url = &ctx.config.test_database_url;
    let mut server =
        postgres::connect(&url.with_database("postgres"), Duration::from_secs(5)).await?;
    if postgres::ensure_database(&mut server, &url.database()).await? {
        ui::step(format!("created database {}", url.database()));
    }
    let mut conn = postgres::connect(url, Duration::from_secs(5)).await?;
    if postgres::ensure_extension(&mut conn, "vector").await? {
        ui::step(format!("installed extension vector in {}", url.database()));
    }
    // Test data is disposable: no backup before migrating it.
    super::migrate::deploy(ctx, None, url).await?;
    ui::step(format!("test database ready: {url}"));
    Ok(ExitCode::SUCCESS)
}
