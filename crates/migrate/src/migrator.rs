//! The configured engine: where the migrations are and how long to wait.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::database_url::url_schema;
use crate::{DatabaseUrl, Error, pooler, postgres, store, wire};

/// How a run holds the migration lock (advisory lock [`store::LOCK_KEY`], Prisma's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locking {
    /// Session-level, for the whole run: a direct connection.
    Session,
    /// Transaction-level, in each migration's transaction: through a transaction-mode
    /// pooler (`pgbouncer=true`), where a session lock would stay on one server connection.
    PerTransaction { timeout: Duration },
}

impl Locking {
    /// For [`Locking::PerTransaction`]: how long each transaction waits for the lock.
    pub(crate) fn timeout(self) -> Option<Duration> {
        match self {
            Locking::Session => None,
            Locking::PerTransaction { timeout } => Some(timeout),
        }
    }
}

/// Applies, inspects and resolves the migrations of one folder.
#[derive(Debug, Clone)]
pub struct Migrator {
    migrations_dir: PathBuf,
    lock_timeout: Duration,
    connect_timeout: Duration,
    lint: crate::lint::LintMode,
    ddl_locks: crate::lock_retry::DdlLocks,
}

/// Progress reported by [`Migrator::deploy`] and [`Migrator::reset`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `reset` dropped this schema.
    SchemaDropped { schema: String },
    /// An applied migration's file changed since (deploy leaves it alone).
    Modified { name: String },
    /// An applied migration is no longer in the folder (deploy leaves it alone).
    Missing { name: String },
    /// Lint found this in a migration about to be applied; it does not stop the deploy.
    LintWarning {
        migration: String,
        path: PathBuf,
        finding: crate::lint::Finding,
    },
    /// A migration starts, to run as `mode` says.
    Applying {
        name: String,
        mode: crate::run_mode::RunMode,
    },
    /// A statement of a migration run statement by statement completed (1-based).
    StepApplied {
        name: String,
        step: usize,
        total: usize,
    },
    /// Through a transaction-mode pooler: another deploy recorded this migration after this
    /// one read the history; it was left alone and the history is read again.
    RecordedMeanwhile { name: String },
    /// A migration and its history row are committed.
    Applied { name: String, duration: Duration },
    /// A migration failed (the error follows as the result).
    Failed { name: String, duration: Duration },
    /// A statement of a migration waited its `lock_timeout` for a table lock and timed out;
    /// what it did was rolled back, and it is tried again after the backoff given
    /// ([`crate::lock_retry`]).
    LockWait(crate::lock_retry::LockWait),
}

/// What a deploy or reset did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeployReport {
    /// The migrations applied, in order.
    pub applied: Vec<String>,
    /// Applied migrations whose file changed since.
    pub modified: Vec<String>,
    /// Applied migrations no longer in the folder.
    pub missing: Vec<String>,
    /// Schemas dropped (reset only).
    pub dropped_schemas: Vec<String>,
}

impl Migrator {
    /// A migrator for the folder `migrations_dir`, waiting [`postgres::LOCK_TIMEOUT`] for the
    /// lock and [`postgres::CONNECT_TIMEOUT`] for the server (10 s each).
    pub fn new(migrations_dir: impl Into<PathBuf>) -> Self {
        Self {
            migrations_dir: migrations_dir.into(),
            lock_timeout: postgres::LOCK_TIMEOUT,
            connect_timeout: postgres::CONNECT_TIMEOUT,
            lint: crate::lint::LintMode::default(),
            ddl_locks: crate::lock_retry::DdlLocks::default(),
        }
    }

    /// The `lock_timeout` each migration's statements wait for a table lock before the
    /// attempt is rolled back and retried ([`crate::lock_retry`]; 500 ms by default; zero:
    /// wait forever, as Prisma does).
    pub fn ddl_lock_timeout(mut self, timeout: Duration) -> Self {
        self.ddl_locks.timeout = timeout;
        self
    }

    /// How long lock timeouts are retried before the deploy gives up with
    /// [`Error::LockRetryBudgetSpent`] (300 s by default).
    pub fn lock_retry_budget(mut self, budget: Duration) -> Self {
        self.ddl_locks.budget = budget;
        self
    }

    pub(crate) fn ddl_locks(&self) -> crate::lock_retry::DdlLocks {
        self.ddl_locks
    }

    /// How long to wait for the migration lock held by another deploy.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// How long to keep retrying a server that is not reachable yet.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// What the lint before deploy stops ([`crate::lint::LintMode`]; `warn` by default).
    pub fn lint(mut self, mode: crate::lint::LintMode) -> Self {
        self.lint = mode;
        self
    }

    pub(crate) fn lint_mode(&self) -> crate::lint::LintMode {
        self.lint
    }

    pub fn migrations_dir(&self) -> &Path {
        &self.migrations_dir
    }

    /// A connection whose server watches for the client going away ([`store::CLIENT_CHECK`]).
    pub(crate) async fn connect(&self, database_url: &str) -> Result<PgConnection, Error> {
        let mut conn =
            postgres::connect(&DatabaseUrl::parse(database_url)?, self.connect_timeout).await?;
        store::run_script(&mut conn, store::CLIENT_CHECK)
            .await
            .map_err(|source| Error::Database {
                action: "asking the server to watch the connection",
                source,
            })?;
        Ok(conn)
    }

    /// How a run on `database_url` holds the migration lock.
    pub(crate) fn locking(&self, database_url: &str) -> Locking {
        if pooler::is_transaction_pooler(database_url) {
            Locking::PerTransaction {
                timeout: self.lock_timeout,
            }
        } else {
            Locking::Session
        }
    }

    /// A connection holding the migration lock (through a transaction-mode pooler: a plain
    /// connection, each migration's transaction takes the lock); hand it back to
    /// [`Self::unlock`]. The URL's `?schema=` is created first when it is missing.
    pub(crate) async fn connect_locked(
        &self,
        database_url: &str,
    ) -> Result<(PgConnection, Locking), Error> {
        let locking = self.locking(database_url);
        let mut conn = self.connect(database_url).await?;
        if locking == Locking::Session {
            store::acquire_lock(&mut conn, self.lock_timeout).await?;
        }
        if let Some(schema) = url_schema(database_url)
            && let Err(error) = store::ensure_schema(&mut conn, &schema).await
        {
            return Self::unlock(conn, locking, Err(error)).await;
        }
        Ok((conn, locking))
    }

    /// Releases the lock and closes the connection, keeping the first error. A connection
    /// that was lost is only dropped: waiting on it could hang, and its lock ends with it.
    pub(crate) async fn unlock<T>(
        mut conn: PgConnection,
        locking: Locking,
        outcome: Result<T, Error>,
    ) -> Result<T, Error> {
        if outcome.as_ref().err().is_some_and(connection_gone) {
            drop(conn);
            return outcome;
        }
        if locking != Locking::Session {
            let _ = conn.close().await;
            return outcome;
        }
        let released = store::release_lock(&mut conn).await;
        let _ = conn.close().await;
        let value = outcome?;
        released?;
        Ok(value)
    }
}

/// Whether `error` leaves the connection lost or in an unknown state ([`wire::connection_usable`]):
/// then nothing more is sent on it.
fn connection_gone(error: &Error) -> bool {
    match error {
        Error::ConnectionLost(_) => true,
        Error::Database { source, .. } => !wire::connection_usable(source),
        _ => false,
    }
}
