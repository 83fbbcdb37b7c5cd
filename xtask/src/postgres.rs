//! xtask's side of [`nelo_migrate::postgres`], the workspace's one PostgreSQL access layer:
//! its functions, with what failed and what to do next in `cargo xtask`'s words.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};

use nelo_migrate::postgres;

use crate::config::DatabaseUrl;

/// Identifiers are quoted the way the migration engine quotes them.
pub use nelo_migrate::sql::quote_identifier as quote_ident;

/// Connects, retrying while the server is still starting (refused, reset, `57P03`), until
/// `deadline` has passed. Authentication and missing-database errors are returned at once.
pub async fn connect(url: &DatabaseUrl, deadline: Duration) -> anyhow::Result<PgConnection> {
    let options: PgConnectOptions = url.connect_options()?.application_name("nelo-xtask");
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        match PgConnection::connect_with(&options).await {
            Ok(conn) => return Ok(conn),
            Err(error) if is_transient(&error) && started.elapsed() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            Err(error) => {
                return Err(describe_connect_error(error, url));
            }
        }
    }
}

/// Whether a connection error may go away by itself while the server starts.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

fn describe_connect_error(error: sqlx::Error, url: &DatabaseUrl) -> anyhow::Error {
    let code = error
        .as_database_error()
        .and_then(|db| db.code().map(|c| c.to_string()));
    let hint = match code.as_deref() {
        // PostgreSQL answers the same for a wrong password and for a user that does not exist.
        Some("28P01") => format!(
            "the server refused user `{}` with DATABASE_URL's password: the user or the \
             password is not what the data volume was initialised with; `cargo xtask db up` \
             says which and how to fix it without losing data",
            url.user()
        ),
        Some("28000") => format!("the server refused user `{}`", url.user()),
        Some("3D000") => format!(
            "database `{}` does not exist: `cargo xtask db up` creates it",
            url.database()
        ),
        _ => "is the server running? `cargo xtask db up` starts it".to_string(),
    };
    anyhow::Error::new(error).context(format!("cannot connect to {url}: {hint}"))
}

/// Creates `name` unless it exists; returns whether it was created.
pub async fn ensure_database(conn: &mut PgConnection, name: &str) -> anyhow::Result<bool> {
    postgres::ensure_database(conn, name)
        .await
        .with_context(|| format!("cannot create database `{name}`"))
}

pub async fn database_exists(conn: &mut PgConnection, name: &str) -> anyhow::Result<bool> {
    postgres::database_exists(conn, name)
        .await
        .with_context(|| format!("cannot look up database `{name}`"))
}

/// Installs `extension` in the connected database unless present; returns whether it was
/// installed now.
pub async fn ensure_extension(conn: &mut PgConnection, extension: &str) -> anyhow::Result<bool> {
    postgres::ensure_extension(conn, extension)
        .await
        .with_context(|| format!("cannot install extension `{extension}`"))
}

/// Whether the connected database holds any user table (outside the system schemas).
pub async fn has_user_tables(conn: &mut PgConnection) -> anyhow::Result<bool> {
    postgres::has_user_tables(conn)
        .await
        .context("cannot look for user tables")
}
