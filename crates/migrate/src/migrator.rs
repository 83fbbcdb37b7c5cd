//! The configured engine: where the migrations are and how long to wait.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::{Error, connect, store};

/// Applies, inspects and resolves the migrations of one folder.
#[derive(Debug, Clone)]
pub struct Migrator {
    migrations_dir: PathBuf,
    lock_timeout: Duration,
    connect_timeout: Duration,
    lint: crate::lint::LintMode,
}

/// Progress reported by [`Migrator::deploy`] and [`Migrator::reset`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The migration lock is held; work starts.
    LockAcquired,
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
    /// A migration and its history row are committed.
    Applied { name: String, duration: Duration },
    /// A migration failed (the error follows as the result).
    Failed { name: String, duration: Duration },
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
    /// A migrator for the folder `migrations_dir`, waiting 10 s for the lock and the server.
    pub fn new(migrations_dir: impl Into<PathBuf>) -> Self {
        Self {
            migrations_dir: migrations_dir.into(),
            lock_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            lint: crate::lint::LintMode::default(),
        }
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

    pub(crate) async fn connect(&self, database_url: &str) -> Result<PgConnection, Error> {
        connect::connect(database_url, self.connect_timeout).await
    }

    /// A connection holding the migration lock; hand it back to [`Self::unlock`].
    /// The URL's `?schema=` is created first when it is missing.
    pub(crate) async fn connect_locked(&self, database_url: &str) -> Result<PgConnection, Error> {
        let mut conn = self.connect(database_url).await?;
        store::acquire_lock(&mut conn, self.lock_timeout).await?;
        if let Some(schema) = connect::url_schema(database_url)
            && let Err(error) = store::ensure_schema(&mut conn, &schema).await
        {
            return Self::unlock(conn, Err(error)).await;
        }
        Ok(conn)
    }

    /// Releases the lock and closes the connection, keeping the first error. A connection
    /// that was lost is only dropped: waiting on it could hang, and its lock ends with it.
    pub(crate) async fn unlock<T>(
        mut conn: PgConnection,
        outcome: Result<T, Error>,
    ) -> Result<T, Error> {
        if let Err(Error::ConnectionLost(_)) = outcome {
            drop(conn);
            return outcome;
        }
        let released = store::release_lock(&mut conn).await;
        let _ = conn.close().await;
        let value = outcome?;
        released?;
        Ok(value)
    }
}
