//! `cargo xtask db migrate ...`: crates/migrate, in process, against `DATABASE_URL` or, with
//! `--test`, `TEST_DATABASE_URL`. Deploy, reset and dev back the database up first. One file
//! per subcommand; what they share with other commands lives in [`crate::workflow`].

mod create;
mod deploy;
mod dev;
mod diff;
mod lint;
mod reset;
mod resolve;
mod status;

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::TargetDatabase;
use crate::context::Context;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending migrations, after a backup of the database when it holds data.
    Deploy(deploy::Args),
    /// Applied, pending, failed, modified and missing migrations, and drift (exit 1 when any
    /// needs attention).
    Status(status::Args),
    /// Review migrations with squawk's rules before they run (exit 1 on an error-level
    /// finding); `nelo-migrate lint` (crates/migrate-cli) is the same.
    Lint(lint::Args),
    /// Create a new migration folder: empty, or with `--from-schema` the change from the
    /// migrations to the declared schema.
    Create(create::Args),
    /// The everyday command (interactive): the change to the declared schema as a new
    /// migration, reviewed, written, and applied to the development and test databases.
    Dev(dev::Args),
    /// Compare two schemas (migrations, a live database, a schema file, or empty); exit 2
    /// with `--exit-code` when they differ.
    Diff(diff::Args),
    /// Drop every schema, re-apply all migrations, then seed (after a backup).
    Reset(reset::Args),
    /// Record a migration as applied (baselining) or a failed one as rolled back.
    Resolve(resolve::Args),
}

#[derive(clap::Args, Debug)]
pub struct Target {
    /// Work on the test database (TEST_DATABASE_URL).
    #[arg(long)]
    test: bool,
}

impl Target {
    fn database(&self) -> TargetDatabase {
        TargetDatabase::from_test_flag(self.test)
    }
}

pub async fn run(ctx: &Context, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Deploy(args) => deploy::run(ctx, args).await,
        Command::Status(args) => status::run(ctx, args).await,
        Command::Lint(args) => lint::run(ctx, args),
        Command::Create(args) => create::run(ctx, args).await,
        Command::Dev(args) => dev::run(ctx, args).await,
        Command::Diff(args) => diff::run(ctx, args).await,
        Command::Reset(args) => reset::run(ctx, args).await,
        Command::Resolve(args) => resolve::run(ctx, args).await,
    }
}
