//! `cargo xtask`: Nelo's developer orchestrator.
//!
//! Parses the command line, builds the [`Context`] and dispatches; every subcommand lives in
//! its own file.

mod bench;
mod config;
mod context;
mod db;
mod decision;
mod docker;
mod dump;
mod dump_file;
mod fuzz;
mod image;
#[cfg(unix)]
mod os;
mod postgres;
mod server;
mod signal;
mod spec;
mod test_suite;
#[cfg(test)]
mod tidy;
mod ui;
mod workflow;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::context::Context;

/// Nelo's database toolchain: Docker, migrations, backups, tests and benchmarks.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The local PostgreSQL + pgvector database in Docker.
    #[command(subcommand)]
    Db(db::Command),
    /// Docker images: PostgreSQL 17 + pgvector, and the `nelo-migrate` migrator.
    #[command(subcommand)]
    Image(image::Command),
    /// Run the whole test suite against a throwaway PostgreSQL container.
    Test(test_suite::Args),
    /// Benchmarks whose results go in BENCHMARKS.md.
    #[command(subcommand)]
    Bench(bench::Command),
    /// Run one libFuzzer target of `fuzz/` for a while (not part of CI).
    Fuzz(fuzz::Args),
}

fn main() -> ExitCode {
    let root = context::workspace_root();
    // Before the arguments; variables already set in the environment win over `.env`.
    // NELO_ENV_FILE names another file (the tests use it).
    let env_file = std::env::var_os("NELO_ENV_FILE").map_or_else(|| root.join(".env"), Into::into);
    if let Err(error) = nelo_migrate_cli::dotenv::load(&env_file) {
        return ui::report_error(&error.into());
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return ui::report_error(&anyhow::Error::new(error)),
    };
    let result = runtime.block_on(async {
        let ctx = Context::from_env(root)?;
        ctx.config.warnings().iter().for_each(ui::warn);
        match cli.command {
            Command::Db(command) => db::run(&ctx, command).await,
            Command::Image(command) => image::run(&ctx, command).await,
            Command::Test(args) => test_suite::run(&ctx, args).await,
            Command::Bench(command) => bench::run(&ctx, command).await,
            Command::Fuzz(args) => fuzz::run(&ctx, args),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => ui::report_error(&error),
    }
}
