//! `cargo xtask bench ...`: each prints a Markdown table for BENCHMARKS.md, with the machine
//! and the date, and measures the reference it names in the same run.

mod backup;
mod diff;
mod faults;
mod lint;
mod locks;
mod machine;
mod migrate;
mod migrator;
mod scratch;
mod stats;
mod status;
mod testdb;
mod up;

use std::process::ExitCode;

use clap::Subcommand;

use crate::context::Context;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Deploy of generated and realistic folders vs the one-connection floor and sqlx-cli.
    Migrate(migrate::Args),
    /// `nelo-migrate status` on 10,000 applied migrations: wall and CPU time, against another
    /// binary run interleaved.
    Status(status::Args),
    /// `db up` cold, no-op and restart vs `docker run` + `psql`.
    Up(up::Args),
    /// `db backup` vs `docker exec pg_dump -Fc` on a generated database of 1 GB or more.
    Backup(backup::Args),
    /// An isolated test database: template clone vs create + deploy.
    Testdb(testdb::Args),
    /// `nelo-migrate lint` vs the `squawk` command line on 1,000 generated and 300 realistic
    /// migrations, and the findings per rule.
    Lint(lint::Args),
    /// Catalog introspection vs `pg_dump --schema-only`; drift checks cold (replay) and warm
    /// (template clone) on 1,000 generated and 300 realistic migrations.
    Diff(diff::Args),
    /// Time until the migration lock is free after a deploy's connection is cut
    /// mid-migration, vs a plain session lock without the server's client check.
    Faults(faults::Args),
    /// An application workload while a long reader holds its table and a deploy of an
    /// `ALTER TABLE` starts behind it: nelo's defaults vs `NELO_DDL_LOCK_TIMEOUT=0` (as
    /// Prisma) vs `psql -c`.
    Locks(locks::Args),
    /// The `nelo-migrate` image's size beside other migrators' published ones, and a no-op
    /// `docker run --rm nelo-migrate deploy` vs the binary run directly.
    Migrator(migrator::Args),
}

pub async fn run(ctx: &Context, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Migrate(args) => migrate::run(ctx, args).await,
        Command::Status(args) => status::run(ctx, args).await,
        Command::Up(args) => up::run(ctx, args).await,
        Command::Backup(args) => backup::run(ctx, args).await,
        Command::Testdb(args) => testdb::run(ctx, args).await,
        Command::Lint(args) => lint::run(ctx, args).await,
        Command::Diff(args) => diff::run(ctx, args).await,
        Command::Faults(args) => faults::run(ctx, args).await,
        Command::Locks(args) => locks::run(ctx, args).await,
        Command::Migrator(args) => migrator::run(ctx, args).await,
    }
}
