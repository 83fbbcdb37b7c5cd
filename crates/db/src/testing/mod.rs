//! A fresh, fully migrated database for each Rust test, in the time of one `CREATE DATABASE`.
//!
//! ```no_run
//! # async fn example() {
//! let db = nelo_db::testing::TestDatabase::new().await;
//! sqlx::query(r#"SELECT count(*) FROM "Scene""#).fetch_one(db.pool()).await.unwrap();
//! # }
//! ```
//!
//! The server is `NELO_TEST_SERVER_URL`, a superuser URL to its `postgres` database (`cargo
//! xtask test` sets it). Each migrations folder gets a template database, `nelo_tpl_<key>`,
//! migrated once and keyed by the checksums of the migrations, so that editing or adding a
//! migration builds a new template (and drops the old one): [`nelo_migrate::template`],
//! which `nelo-migrate diff` uses for its shadows too (a test database and a diff of the
//! same folder share one template). A test's
//! database is cloned from it with `CREATE DATABASE ... TEMPLATE` and dropped with the guard.
//! Databases left by killed runs are swept by the next run, see [`names`]. The statements
//! to the server run on a runtime of the process's own, over a few shared connections, so
//! that a test pays for the clone and little else.

mod admin;
pub mod names;
mod server;
mod sweep;
mod template;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nelo_migrate::{DatabaseUrl, postgres};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres};

pub use sweep::sweep_leftovers;
use template::MigrationsFolder;

/// The variable that names the test server.
pub const SERVER_URL_VAR: &str = "NELO_TEST_SERVER_URL";

/// Why a test database could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "{SERVER_URL_VAR} is not set; run the tests with `cargo xtask test`, or set it to a \
         superuser URL of a server's `postgres` database, e.g. \
         postgresql://postgres:postgres@127.0.0.1:55432/postgres"
    )]
    ServerUrlMissing,
    #[error("{SERVER_URL_VAR} `{url}` is not a PostgreSQL URL: {reason}")]
    InvalidServerUrl { url: String, reason: String },
    #[error("cannot read the migrations folder `{}`", path.display())]
    Folder {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("failed to deploy `{}` into a new template database", path.display())]
    Deploy {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot make the template database on the test server")]
    Template {
        #[source]
        source: nelo_migrate::Error,
    },
    #[error("cannot connect to the test server")]
    Connect {
        #[source]
        source: nelo_migrate::Error,
    },
    #[error("failed to {step} on the test server")]
    Database {
        step: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

/// A database of its own for one test, dropped (even when the test fails) with this guard.
pub struct TestDatabase {
    name: String,
    template: String,
    url: String,
    pool: PgPool,
    server: Server,
}

impl TestDatabase {
    /// A fresh database with Nelo's migrations (`migrations/` of the workspace) deployed.
    ///
    /// # Panics
    /// When `NELO_TEST_SERVER_URL` is not set, or the database cannot be made.
    pub async fn new() -> TestDatabase {
        TestDatabase::with_migrations(crate::migrations_dir()).await
    }

    /// A fresh database with the migrations of `dir` deployed.
    ///
    /// # Panics
    /// When `NELO_TEST_SERVER_URL` is not set, or the database cannot be made.
    pub async fn with_migrations(dir: impl AsRef<Path>) -> TestDatabase {
        let server_url = match std::env::var(SERVER_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => panic!("{}", Error::ServerUrlMissing),
        };
        match TestDatabase::create(&server_url, dir.as_ref()).await {
            Ok(db) => db,
            Err(error) => panic!("cannot make a test database: {}", error_chain(&error)),
        }
    }

    /// A fresh database on the server at `server_url` with the migrations of `dir` deployed.
    pub async fn create(server_url: &str, dir: &Path) -> Result<TestDatabase, Error> {
        let server = Server::parse(server_url)?;
        let folder = MigrationsFolder::read(dir)?;
        let name = names::test_database_name(
            now_unix_secs(),
            server.host_tag(),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed),
        );
        let template = admin::run({
            let (server, name) = (server.clone(), name.clone());
            async move { clone_template(&server, &folder, &name).await }
        })
        .await?;
        // In the caller's runtime: that is where its connections will live.
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(server.options.clone().database(&name));
        Ok(TestDatabase {
            url: server.database_url(&name),
            name,
            template,
            pool,
            server,
        })
    }

    /// The database's name, `nelo_test_...`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The template it was cloned from, `nelo_tpl_<key>`.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// A URL to the database, with the server's credentials (do not print it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A pool of up to 5 connections, opened on first use.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection of its own, outside the pool.
    pub async fn connect(&self) -> sqlx::Result<PgConnection> {
        PgConnection::connect_with(&self.server.options.clone().database(&self.name)).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = std::mem::take(&mut self.name);
        let dropped = admin::run_blocking(async move {
            let mut admin = server.admin().await?;
            postgres::drop_database(&mut admin, &name)
                .await
                .map_err(at("drop the test database"))
        });
        let problem = match dropped {
            Some(Ok(())) => return,
            Some(Err(error)) => error_chain(&error),
            None => "dropping it panicked".to_string(),
        };
        // Nowhere to return an error to: say it, the next run sweeps the database.
        eprintln!("warning: test database left behind (the next run drops it): {problem}");
    }
}

/// Makes `name` a clone of the template of `folder` (built first if need be). Runs on the
/// admin runtime.
async fn clone_template(
    server: &Server,
    folder: &MigrationsFolder,
    name: &str,
) -> Result<String, Error> {
    sweep::sweep_once(server).await?;
    let template = template::ensure_template(server, folder).await?;
    let mut admin = server.admin().await?;
    match postgres::create_database(&mut admin, name, Some(&template)).await {
        // Another run dropped the template (it superseded it) between the two steps:
        // build it again, under the same name.
        Err(error) if has_sqlstate(&error, server::INVALID_CATALOG_NAME) => {
            drop(admin);
            template::ensure_template(server, folder).await?;
            let mut admin = server.admin().await?;
            postgres::create_database(&mut admin, name, Some(&template))
                .await
                .map_err(at("clone the template"))?;
        }
        cloned => cloned.map_err(at("clone the template"))?,
    }
    Ok(template)
}

/// The name of the template that databases with the migrations of `dir` are cloned from,
/// `nelo_tpl_<key>`, whether it exists yet or not.
pub fn template_name(dir: &Path) -> Result<String, Error> {
    Ok(MigrationsFolder::read(dir)?.template_name())
}

/// The server: how to reach its `postgres` database and the other databases on it.
#[derive(Clone)]
struct Server {
    url: DatabaseUrl,
    /// `url`'s, for the pools.
    options: PgConnectOptions,
}

impl Server {
    fn parse(server_url: &str) -> Result<Server, Error> {
        let (url, options) = DatabaseUrl::parse(server_url)
            .and_then(|url| Ok((url.clone(), url.connect_options_unpinned()?)))
            .map_err(|error| Error::InvalidServerUrl {
                url: error.url,
                reason: error.problem,
            })?;
        Ok(Server { url, options })
    }

    fn database_url(&self, database: &str) -> String {
        self.url.with_database(database).as_str().to_string()
    }

    fn host_tag(&self) -> Option<&'static str> {
        this_host_tag()
    }

    /// A pooled connection to the `postgres` database; only on the admin runtime.
    async fn admin(&self) -> Result<PoolConnection<Postgres>, Error> {
        admin::pool(self.url.as_str(), &self.options)
            .acquire()
            .await
            .map_err(at("connect to the server"))
    }
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// The tag of this boot, machine and pid namespace in test database names (see [`names`]).
pub fn this_host_tag() -> Option<&'static str> {
    static TAG: OnceLock<Option<String>> = OnceLock::new();
    TAG.get_or_init(|| {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok();
        let pid_namespace = std::fs::read_link("/proc/self/ns/pid").ok();
        let pid_namespace = pid_namespace.as_ref().map(|link| link.to_string_lossy());
        names::host_tag(boot_id.as_deref(), pid_namespace.as_deref())
    })
    .as_deref()
}

fn now_unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn has_sqlstate(error: &sqlx::Error, sqlstate: &str) -> bool {
    matches!(error, sqlx::Error::Database(database_error)
        if database_error.code().as_deref() == Some(sqlstate))
}

fn at(step: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database { step, source }
}

/// `error: cause: cause`, the way `anyhow` prints `{:#}`.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_server_url_says_what_to_do() {
        let message = Error::ServerUrlMissing.to_string();
        assert!(message.contains("NELO_TEST_SERVER_URL"), "{message}");
        assert!(message.contains("cargo xtask test"), "{message}");
    }

    #[test]
    fn server_urls_are_checked_and_redacted() {
        let error = Server::parse("mysql://root:secret@localhost/postgres")
            .err()
            .unwrap();
        assert!(!error.to_string().contains("secret"), "{error}");
        let error = Server::parse("postgresql://postgres:s3c#r/et@127.0.0.1:55432/postgres")
            .err()
            .unwrap();
        assert!(!error.to_string().contains("s3c"), "{error}");
        let server = Server::parse("postgresql://postgres:pw@127.0.0.1:55432/postgres").unwrap();
        assert_eq!(
            server.database_url("nelo_test_1"),
            "postgresql://postgres:pw@127.0.0.1:55432/nelo_test_1"
        );
    }
}
