//! xtask's side of [`nelo_migrate::postgres`], the workspace's one PostgreSQL access layer:
//! its functions, with what failed and what to do next in `cargo xtask`'s words.

use std::time::Duration;

use anyhow::Context as _;
use nelo_migrate::Error;
use sqlx::PgConnection;

use nelo_migrate::postgres;
pub use nelo_migrate::postgres::{CONNECT_TIMEOUT, PROBE_TIMEOUT, maintenance_url};

use crate::config::DatabaseUrl;

/// Identifiers are quoted the way the migration engine quotes them.
pub use nelo_migrate::sql::quote_identifier as quote_ident;

/// Connects to `url`, retrying while the server is unreachable or starting up until
/// `timeout` has passed ([`nelo_migrate::postgres::connect`]); a refusal (password, missing
/// database) is returned at once, with what to do about it.
pub async fn connect(url: &DatabaseUrl, timeout: Duration) -> anyhow::Result<PgConnection> {
    postgres::connect(url, timeout)
        .await
        .map_err(|error| advise(error, url))
}

/// [`connect`] to the maintenance database (`postgres`) of `url`'s server.
pub async fn connect_maintenance(
    url: &DatabaseUrl,
    timeout: Duration,
) -> anyhow::Result<PgConnection> {
    connect(&maintenance_url(url), timeout).await
}

/// The connection error with what to do next, in `cargo xtask`'s words.
fn advise(error: Error, url: &DatabaseUrl) -> anyhow::Error {
    let hint = match &error {
        // PostgreSQL answers the same for a wrong password and for a user that does not exist.
        Error::AuthenticationFailed { .. } => format!(
            "the server refused user `{}` with DATABASE_URL's password: the user or the \
             password is not what the data volume was initialised with; `cargo xtask db up` \
             says which and how to fix it without losing data",
            url.user()
        ),
        Error::Connect { source, .. } if sqlstate(source).as_deref() == Some("28000") => {
            format!("the server refused user `{}`", url.user())
        }
        Error::DatabaseMissing { .. } => format!(
            "database `{}` does not exist: `cargo xtask db up` creates it",
            url.database()
        ),
        _ => "is the server running? `cargo xtask db up` starts it".to_string(),
    };
    anyhow::Error::new(error).context(format!("cannot connect to {url}: {hint}"))
}

/// Whether `error` says the database does not exist (SQLSTATE `3D000`).
pub fn is_missing_database(error: &anyhow::Error) -> bool {
    connect_error(error).is_some_and(|error| matches!(error, Error::DatabaseMissing { .. }))
}

/// Whether `error` is the server refusing the password (SQLSTATE `28P01`, which PostgreSQL
/// also answers for a user that does not exist).
pub fn is_password_refusal(error: &anyhow::Error) -> bool {
    connect_error(error).is_some_and(|error| matches!(error, Error::AuthenticationFailed { .. }))
}

/// Whether the server answered a connection and refused it (a password, a missing database,
/// a rule of `pg_hba.conf`): waiting longer would not change the answer.
pub fn is_refusal(error: &anyhow::Error) -> bool {
    connect_error(error).is_some_and(|error| match error {
        Error::AuthenticationFailed { .. } | Error::DatabaseMissing { .. } => true,
        Error::Connect { source, .. } => source.as_database_error().is_some(),
        _ => false,
    })
}

/// The library's error anywhere in `error`'s chain.
fn connect_error(error: &anyhow::Error) -> Option<&Error> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Error>())
}

/// The SQLSTATE of an error the server sent.
fn sqlstate(error: &sqlx::Error) -> Option<std::borrow::Cow<'_, str>> {
    error.as_database_error().and_then(|db| db.code())
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
