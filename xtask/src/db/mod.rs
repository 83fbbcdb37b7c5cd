//! `cargo xtask db ...`: one file (or folder) per subcommand; no subcommand imports another:
//! what several of them do lives in [`crate::workflow`].

mod backup;
mod backups;
mod destroy;
mod down;
mod logs;
mod migrate;
mod psql;
mod push;
mod restore;
mod seed;
mod status;
mod test_setup;
mod up;

use std::process::ExitCode;

use clap::Subcommand;

use crate::context::Context;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start PostgreSQL with pgvector, create `nelo` and `nelo_test`, apply migrations.
    Up(up::Args),
    /// Stop the container; the data stays in its volume.
    Down(down::Args),
    /// Remove the container and its volume (all data).
    Destroy(destroy::Args),
    /// Container, image, port, health and each database's migrations.
    Status(status::Args),
    /// The server's log.
    Logs(logs::Args),
    /// An interactive psql session in the container.
    Psql(psql::Args),
    /// Create `nelo_test` if missing, install `vector`, apply migrations.
    TestSetup(test_setup::Args),
    /// Run the migration engine against the development (or `--test`) database.
    #[command(subcommand)]
    Migrate(migrate::Command),
    /// Apply the declared schema directly, without a migration (prototyping).
    Push(push::Args),
    /// Load Nelo's demo data.
    Seed(seed::Args),
    /// Dump a database to `backups/` with pg_dump.
    Backup(backup::Args),
    /// Restore a dump into a database.
    Restore(restore::Args),
    /// List (and prune) backups.
    Backups(backups::Args),
}

pub async fn run(ctx: &Context, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        // psql handles Ctrl-C itself (it cancels the query); `logs --follow` ends on it.
        Command::Psql(args) => psql::run(ctx, args).await,
        Command::Logs(args) => logs::run(ctx, args).await,
        command => crate::signal::until_interrupted(run_stoppable(ctx, command)).await,
    }
    .map_err(crate::docker::explain_lost_connection)
}

/// The commands SIGINT and SIGTERM stop cleanly.
async fn run_stoppable(ctx: &Context, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up(args) => up::run(ctx, args).await,
        Command::Down(args) => down::run(ctx, args).await,
        Command::Destroy(args) => destroy::run(ctx, args).await,
        Command::Status(args) => status::run(ctx, args).await,
        Command::Logs(args) => logs::run(ctx, args).await,
        Command::Psql(args) => psql::run(ctx, args).await,
        Command::TestSetup(args) => test_setup::run(ctx, args).await,
        Command::Migrate(command) => migrate::run(ctx, command).await,
        Command::Push(args) => push::run(ctx, args).await,
        Command::Seed(args) => seed::run(ctx, args).await,
        Command::Backup(args) => backup::run(ctx, args).await,
        Command::Restore(args) => restore::run(ctx, args).await,
        Command::Backups(args) => backups::run(ctx, args).await,
    }
}
