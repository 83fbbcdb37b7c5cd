//! Shared helpers: a throwaway database per test on the server named by
//! `NELO_TEST_SERVER_URL`, and migration folders in temporary directories. The tests of the
//! `nelo-migrate` binary (crates/migrate-cli/tests) include this file too (`#[path]`), so it
//! knows nothing of the binary.
#![allow(dead_code)]

pub mod catalog;
pub mod pgbouncer;
pub mod prisma;

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tempfile::TempDir;

/// The superuser URL of the test server.
pub fn server_url() -> String {
    std::env::var("NELO_TEST_SERVER_URL").unwrap_or_else(|_| {
        panic!(
            "these tests need a PostgreSQL 17 + pgvector server: set NELO_TEST_SERVER_URL \
             (e.g. postgresql://postgres:postgres@127.0.0.1:55432/postgres) or run `cargo xtask test`"
        )
    })
}

/// `url` pointing at database `database` instead.
pub fn url_for_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("NELO_TEST_SERVER_URL is a URL");
    parsed.set_path(database);
    parsed.to_string()
}

/// A database of its own, dropped `WITH (FORCE)` when the guard is dropped, even on panic.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("nelo_mt_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server_url())
            .await
            .expect("connect to the test server");
        nelo_migrate::postgres::create_database(&mut admin, &name, None)
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        Self {
            url: url_for_database(&server_url(), &name),
            name,
        }
    }

    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    /// Runs a query returning one value.
    pub async fn scalar<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        let mut conn = self.connect().await;
        let (value,): (T,) = sqlx::query_as(sql)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
        value
    }

    pub async fn execute(&self, sql: &str) {
        let mut conn = self.connect().await;
        sqlx::raw_sql(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
    }

    pub async fn table_exists(&self, table: &str) -> bool {
        self.scalar::<bool>(&format!("SELECT to_regclass('{table}') IS NOT NULL"))
            .await
    }

    /// (migration_name, finished, rolled back, applied_steps_count, logs) ordered by start.
    pub async fn history(&self) -> Vec<(String, bool, bool, i32, Option<String>)> {
        let mut conn = self.connect().await;
        let rows = sqlx::query_as(
            "SELECT migration_name, finished_at IS NOT NULL, rolled_back_at IS NOT NULL, applied_steps_count, logs
             FROM _prisma_migrations ORDER BY started_at, migration_name",
        )
        .fetch_all(&mut conn)
        .await
        .expect("read _prisma_migrations");
        let _ = conn.close().await;
        rows
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = on_own_runtime(move || async move {
            let mut admin = PgConnection::connect(&server_url()).await?;
            nelo_migrate::postgres::drop_database(&mut admin, &name).await?;
            admin.close().await
        });
        if !dropped {
            eprintln!("warning: could not drop test database `{}`", self.name);
        }
    }
}

/// Runs `work` to its end on a thread with a runtime of its own (from `Drop`, which cannot be
/// async, even inside a test's runtime); whether it succeeded.
pub fn on_own_runtime<F>(make: impl FnOnce() -> F + Send + 'static) -> bool
where
    F: std::future::Future<Output = Result<(), sqlx::Error>>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .is_ok_and(|runtime| runtime.block_on(make()).is_ok())
    })
    .join()
    .unwrap_or(false)
}

/// Writes a migrations folder: Prisma's lock file and one folder per (name, sql).
pub fn folder(migrations: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_lock_file(dir.path());
    for (name, sql) in migrations {
        write_migration(dir.path(), name, sql);
    }
    dir
}

pub fn write_lock_file(dir: &Path) {
    std::fs::write(
        dir.join("migration_lock.toml"),
        "provider = \"postgresql\"\n",
    )
    .unwrap();
}

pub fn write_migration(dir: &Path, name: &str, sql: &str) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("migration.sql"), sql).unwrap();
}

/// Waits until `condition` holds, or panics after `deadline` naming `what`.
pub async fn wait_for<F, Fut>(what: &str, deadline: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn ignore_events(_event: nelo_migrate::Event) {}

/// A server-wide role name for one test. When the guard is dropped, even on panic and in any
/// order with the test's databases, what the role owns or was granted in any database is
/// dropped and then the role itself.
pub struct TestRole {
    pub name: String,
}

impl TestRole {
    pub fn new() -> Self {
        Self {
            name: format!(
                "nelo_role_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
        }
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = on_own_runtime(move || async move {
            let mut admin = PgConnection::connect(&server_url()).await?;
            let databases: Vec<(String,)> = sqlx::query_as(
                "SELECT DISTINCT d.datname::text FROM pg_shdepend s
                     JOIN pg_database d ON d.oid = s.dbid
                     WHERE s.refclassid = 'pg_authid'::regclass
                       AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)",
            )
            .bind(&name)
            .fetch_all(&mut admin)
            .await?;
            for (database,) in databases {
                let mut conn =
                    PgConnection::connect(&url_for_database(&server_url(), &database)).await?;
                sqlx::raw_sql(&format!("DROP OWNED BY \"{name}\" CASCADE"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
            }
            sqlx::raw_sql(&format!("DROP ROLE IF EXISTS \"{name}\""))
                .execute(&mut admin)
                .await?;
            admin.close().await
        });
        if !dropped {
            eprintln!("warning: could not drop test role `{}`", self.name);
        }
    }
}

/// Diff options with the shadows on the test server.
pub fn diff_options() -> nelo_migrate::diff::DiffOptions {
    nelo_migrate::diff::DiffOptions {
        shadow_server_url: Some(server_url()),
        connect_timeout: Duration::from_secs(10),
        concurrent_indexes: false,
    }
}

/// A `.sql` schema file holding `sql`, removed when dropped.
pub fn schema_file(sql: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".sql").tempfile().unwrap();
    std::fs::write(file.path(), sql).unwrap();
    file
}
