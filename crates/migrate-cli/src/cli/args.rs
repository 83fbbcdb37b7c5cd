//! Flag groups shared by the subcommands.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use nelo_migrate::diff::DiffOptions;
use nelo_migrate::{DatabaseUrl, Migrator};

use super::ui;

/// Where the database is.
#[derive(clap::Args, Debug)]
pub struct ConnectionArgs {
    /// URL of the target database, e.g. postgresql://nelo:PASSWORD@localhost:5432/nelo
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// Seconds to keep retrying while the server is unreachable or starting up
    #[arg(long, env = "NELO_CONNECT_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    pub connect_timeout: Duration,
}

impl ConnectionArgs {
    /// The parsed URL, checked before anything connects; what of it is ignored (as Prisma
    /// ignores it) is said once.
    pub fn url(&self) -> anyhow::Result<DatabaseUrl> {
        let url = DatabaseUrl::parse(&self.database_url)
            .context("cannot use DATABASE_URL (or --database-url)")?;
        for ignored in url.ignored() {
            ui::warning(&ignored);
        }
        Ok(url)
    }
}

/// Where the migrations are.
#[derive(clap::Args, Debug)]
pub struct MigrationsArgs {
    /// The migrations folder, in Prisma Migrate's layout
    #[arg(
        long = "migrations",
        env = "NELO_MIGRATIONS_DIR",
        value_name = "DIR",
        default_value = "migrations"
    )]
    pub dir: PathBuf,
}

/// How long to wait for another deploy.
#[derive(clap::Args, Debug)]
pub struct LockArgs {
    /// Seconds to wait for the migration lock while another deploy (or Prisma) holds it
    #[arg(long, env = "NELO_LOCK_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    pub lock_timeout: Duration,
}

/// Lock-safe DDL: how long a migration's statement waits for a table lock, and for how long
/// such waits are retried (deploy, reset, push).
#[derive(clap::Args, Debug)]
pub struct DdlLockArgs {
    /// Milliseconds a migration's statement waits for a table lock before its attempt is
    /// rolled back and retried, so that application queries never queue behind it for long
    /// (0: wait forever, as Prisma does)
    #[arg(long, env = "NELO_DDL_LOCK_TIMEOUT", value_name = "MS", default_value = "500", value_parser = parse_millis)]
    pub ddl_lock_timeout: Duration,

    /// Seconds to keep retrying lock timeouts before giving up (exit 75: nothing applied,
    /// run it again later)
    #[arg(long, env = "NELO_LOCK_RETRY_BUDGET", value_name = "SECS", default_value = "300", value_parser = parse_seconds)]
    pub lock_retry_budget: Duration,
}

impl DdlLockArgs {
    pub fn locks(&self) -> nelo_migrate::DdlLocks {
        nelo_migrate::DdlLocks {
            timeout: self.ddl_lock_timeout,
            budget: self.lock_retry_budget,
        }
    }
}

/// A whole number of milliseconds (`NELO_DDL_LOCK_TIMEOUT`, `--ddl-lock-timeout`).
pub fn parse_millis(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("`{text}` is not a whole number of milliseconds (such as `500`)"))
}

/// Where shadow databases go (diff, drift, push, create --from-schema).
#[derive(clap::Args, Debug)]
pub struct ShadowArgs {
    /// URL of any database on the server where shadow databases are created and dropped
    /// (default: the server of the database compared, else DATABASE_URL's; the role needs
    /// CREATEDB there)
    #[arg(
        long,
        env = "NELO_SHADOW_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub shadow_database_url: Option<String>,
}

impl ShadowArgs {
    /// The diff options: shadows on `--shadow-database-url`, else on `fallback`'s server.
    pub fn options(&self, fallback: Option<&str>, connect_timeout: Duration) -> DiffOptions {
        DiffOptions {
            shadow_server_url: self
                .shadow_database_url
                .clone()
                .or_else(|| fallback.map(String::from)),
            connect_timeout,
            concurrent_indexes: false,
        }
    }
}

/// The seed command.
#[derive(clap::Args, Debug)]
pub struct SeedArgs {
    /// Shell command that seeds the database; it runs with DATABASE_URL set
    #[arg(long, env = "NELO_SEED_COMMAND", value_name = "CMD")]
    pub seed_command: Option<String>,
}

impl SeedArgs {
    /// Runs the seed command against `database_url` and passes its output on (`seed`, and
    /// `reset` afterwards).
    pub fn run(&self, database_url: &str) -> anyhow::Result<()> {
        let command = nelo_migrate::seed::configured_command(self.seed_command.as_deref())?;
        let output =
            nelo_migrate::seed::run_command(command, database_url).context("seeding failed")?;
        nelo_migrate_cli::print_stdout(&output.stdout)?;
        eprint!("{}", output.stderr);
        Ok(())
    }
}

/// A migrator for the folder and server; commands that lock add their lock timeout.
pub fn migrator(migrations: &MigrationsArgs, connection: &ConnectionArgs) -> Migrator {
    Migrator::new(&migrations.dir).connect_timeout(connection.connect_timeout)
}

/// The one reader of timeout settings, shared with `cargo xtask`.
pub use nelo_migrate::postgres::parse_seconds;
