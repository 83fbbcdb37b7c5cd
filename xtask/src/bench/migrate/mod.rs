//! `cargo xtask bench migrate`: `nelo-migrate deploy` against the floor (the same SQL over one
//! connection, one transaction per migration) and `sqlx migrate run`, on generated and
//! realistic folders, each run into a fresh database; then `nelo-migrate status` on 10,000
//! applied migrations.

mod measure;
mod report;
pub(super) mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use self::measure::{Case, Runner};
use self::report::Row;
use super::scratch::server_url;
use crate::bench::machine::Machine;
use crate::bench::stats::Summary;
use crate::context::Context;
use crate::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Superuser URL of the server's `postgres` database; the bench creates and drops its own
    /// databases [default: $NELO_TEST_SERVER_URL]
    #[arg(long, env = "NELO_BENCH_SERVER_URL", hide_env_values = true)]
    server_url: Option<String>,
    /// Runs of each measurement
    #[arg(long, default_value_t = 5)]
    iterations: usize,
    /// The `nelo-migrate` binary to measure [default: built with `cargo build --release`]
    #[arg(long, value_name = "PATH")]
    nelo_migrate: Option<PathBuf>,
    /// Applied migrations for the `status` measurement
    #[arg(long, default_value_t = 10_000)]
    status_migrations: usize,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.iterations > 0, "`--iterations` must be at least 1");
    let server = server_url(args.server_url.as_deref())?;
    let mut admin = crate::postgres::connect(&server, ctx.config.connect_timeout).await?;
    let tools = tools::ensure_tools(ctx, args.nelo_migrate).await?;
    let postgres = tools::postgres_version(&mut admin).await?;
    let machine = Machine::now();

    let work = tempfile::tempdir().context("cannot create a scratch directory")?;
    let cases = [
        Case::generated(work.path(), 100)?,
        Case::generated(work.path(), 1_000)?,
        Case::realistic(work.path(), 300)?,
    ];
    let runners = [
        Runner::Floor,
        Runner::SqlxCli,
        Runner::NeloProcess,
        Runner::NeloLibrary,
    ];
    let mut rows = Vec::new();
    for case in &cases {
        let bar = ui::spinner(format!("deploy {}", case.label));
        let mut timings = vec![Vec::new(); runners.len()];
        for iteration in 0..args.iterations {
            // Rotate the order so that no tool always runs first (or after a warm cache).
            for offset in 0..runners.len() {
                let slot = (iteration + offset) % runners.len();
                let elapsed = measure::deploy(&mut admin, &server, &tools, case, runners[slot])
                    .await
                    .with_context(|| format!("{} on {}", runners[slot].label(), case.label))?;
                timings[slot].push(elapsed);
            }
        }
        ui::done(&bar, format!("deploy {}", case.label));
        for (runner, samples) in runners.iter().zip(timings) {
            rows.push(Row {
                case: case.label.clone(),
                runner: *runner,
                summary: Summary::of(&samples),
            });
        }
    }

    let bar = ui::spinner(format!(
        "status on {} applied migrations",
        args.status_migrations
    ));
    let status = measure::status(
        &mut admin,
        &server,
        &tools,
        work.path(),
        args.status_migrations,
        args.iterations,
    )
    .await
    .context("status benchmark")?;
    ui::done(
        &bar,
        format!("status on {} applied migrations", args.status_migrations),
    );

    print!(
        "{}",
        report::markdown(&machine, &postgres, &tools, args.iterations, &rows, &status)
    );
    Ok(ExitCode::SUCCESS)
}
