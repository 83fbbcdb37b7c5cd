//! `CREATE DATABASE`, `DROP DATABASE` and their look-ups, sent on a connection to another
//! database of the server (usually the maintenance one, [`super::connect_maintenance`]).
//!
//! The names are quoted with [`quote_identifier`], so any name is taken literally (case
//! included). Errors are the server's, as [`sqlx::Error`]: its SQLSTATE tells a caller what
//! happened (`42501` no privilege, `3D000` a missing template, `55006` a database in use),
//! and the caller says what it was doing.

use sqlx::{Executor, PgConnection};

use crate::sql::quote_identifier;

/// Whether database `name` exists on the server of `conn`.
pub async fn database_exists(conn: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
}

/// `CREATE DATABASE name`, or `CREATE DATABASE name TEMPLATE template` (a clone: the
/// template must have no other session).
pub async fn create_database(
    conn: &mut PgConnection,
    name: &str,
    template: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut statement = format!("CREATE DATABASE {}", quote_identifier(name));
    if let Some(template) = template {
        statement.push_str(&format!(" TEMPLATE {}", quote_identifier(template)));
    }
    conn.execute(statement.as_str()).await.map(drop)
}

/// Creates database `name` unless it exists; returns whether it was created here. Another
/// session creating it at the same moment counts as existing.
pub async fn ensure_database(conn: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    if database_exists(conn, name).await? {
        return Ok(false);
    }
    match create_database(conn, name, None).await {
        Ok(()) => Ok(true),
        Err(error) if is_concurrent_creation(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// `DROP DATABASE IF EXISTS name WITH (FORCE)`: its sessions are closed first (PostgreSQL
/// 13+); a database that does not exist is fine. A template database is refused by the
/// server (`42809`); see [`drop_template`].
pub async fn drop_database(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    let statement = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_identifier(name)
    );
    conn.execute(statement.as_str()).await.map(drop)
}

/// [`drop_database`] for a database that may be a template (`datistemplate`), which is made
/// an ordinary database first. Only for templates the caller made: never `template0` or
/// `template1`.
pub async fn drop_template(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    let is_template: Option<bool> =
        sqlx::query_scalar("SELECT datistemplate FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
    if is_template == Some(true) {
        let statement = format!(
            "ALTER DATABASE {} WITH IS_TEMPLATE false",
            quote_identifier(name)
        );
        conn.execute(statement.as_str()).await?;
    }
    drop_database(conn, name).await
}

/// Whether a `CREATE` failed because another session created the same thing at the same
/// moment (`42P04` duplicate database, `42710` duplicate object, `23505` unique violation in
/// a catalog).
pub fn is_concurrent_creation(error: &sqlx::Error) -> bool {
    matches!(
        error
            .as_database_error()
            .and_then(|database| database.code())
            .as_deref(),
        Some("42P04" | "42710" | "23505")
    )
}
