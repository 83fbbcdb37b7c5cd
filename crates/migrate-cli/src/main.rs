//! `nelo-migrate`: Prisma-compatible migrations for PostgreSQL.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Prisma Migrate-compatible migrations for PostgreSQL.
///
/// Reads `<dir>/<timestamp>_<name>/migration.sql` folders and records them in
/// `_prisma_migrations`, so Prisma and nelo-migrate can take turns on one database.
#[derive(Parser)]
#[command(name = "nelo-migrate", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply every pending migration, in order, each in its own transaction
    Deploy(cli::deploy::Args),
    /// Show which migrations are applied, pending, failed, modified or missing
    /// (exit 0: up to date, 1: needs attention, 2: could not tell)
    Status(cli::status::Args),
    /// Create a migration folder stamped with the current UTC time: empty, or with
    /// --from-schema the verified difference to a schema file (two folders when the change
    /// uses enum values it adds)
    Create(cli::create::Args),
    /// Drop every schema, re-apply all migrations, then seed
    Reset(cli::reset::Args),
    /// Mark a migration applied (baselining) or a failed one rolled back
    Resolve(cli::resolve::Args),
    /// Run the configured seed command against the database
    Seed(cli::seed::Args),
    /// Compare two schemas (empty, migrations, a database, a schema file) and print the
    /// difference, or with --script the verified SQL (exit 2 with --exit-code: different)
    Diff(cli::diff::Args),
    /// Make the database what a schema file declares, without a migration (prototyping;
    /// refuses data loss without --accept-data-loss)
    Push(cli::push::Args),
    /// Review migrations with squawk's rules before they run
    /// (exit 0: no error-level finding, 1: findings at error level, 2: could not lint)
    Lint(cli::lint::Args),
}

fn main() -> ExitCode {
    // Before the arguments: clap reads DATABASE_URL and the others from the environment.
    if let Err(error) = load_env_file() {
        cli::ui::error(&error);
        // `status` exits 2 when it cannot tell.
        let status = std::env::args().nth(1).as_deref() == Some("status");
        return ExitCode::from(if status { 2 } else { 1 });
    }
    let cli = Cli::parse();
    let failure_code = match cli.command {
        Command::Status(_) | Command::Lint(_) => 2,
        _ => 1,
    };
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(cli::signal::until_interrupted(run(cli.command))));
    match outcome {
        Ok(code) => code,
        // The reader of stdout closed it: it has all it wanted (as ripgrep does).
        Err(error) if nelo_migrate_cli::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            cli::ui::error(&error);
            // 75 (EX_TEMPFAIL): a table-lock retry budget spent is transient, retry later.
            let transient = error.chain().any(|cause| {
                matches!(
                    cause.downcast_ref(),
                    Some(nelo_migrate::Error::LockRetryBudgetSpent { .. })
                )
            });
            ExitCode::from(if transient { 75 } else { failure_code })
        }
    }
}

/// `.env` in the working folder or the nearest one above it, if any.
fn load_env_file() -> anyhow::Result<()> {
    let here = std::env::current_dir()?;
    if let Some(path) = nelo_migrate_cli::dotenv::find(&here) {
        nelo_migrate_cli::dotenv::load(&path)?;
    }
    Ok(())
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Deploy(args) => cli::deploy::run(args).await,
        Command::Status(args) => cli::status::run(args).await,
        Command::Create(args) => cli::create::run(args).await,
        Command::Reset(args) => cli::reset::run(args).await,
        Command::Resolve(args) => cli::resolve::run(args).await,
        Command::Seed(args) => cli::seed::run(args),
        Command::Diff(args) => cli::diff::run(args).await,
        Command::Push(args) => cli::push::run(args).await,
        Command::Lint(args) => cli::lint::run(args).await,
    }
}
