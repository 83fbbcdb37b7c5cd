//! The statements of the test-database helpers to the server's `postgres` database that
//! are theirs alone: templates and their lock. Creating and dropping databases is
//! [`nelo_migrate::postgres`]'s. Identifiers are quoted; the names come from
//! [`super::names`], never from input.

use nelo_migrate::sql::quote_identifier;
use sqlx::{Executor, PgConnection};

/// Serialises template builds and template sweeps across every process using the server.
const TEMPLATE_LOCK_KEY: i64 = 0x6e65_6c6f_7470_6c00; // "nelotpl"

/// PostgreSQL's SQLSTATE for a database that does not exist.
pub const INVALID_CATALOG_NAME: &str = "3D000";

/// `Some(is_template)` when the database exists.
pub async fn database_is_template(
    conn: &mut PgConnection,
    name: &str,
) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar("SELECT datistemplate FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(conn)
        .await
}

pub async fn databases_with_prefix(
    conn: &mut PgConnection,
    prefix: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
    )
    .bind(prefix)
    .fetch_all(conn)
    .await
}

/// The templates whose name starts with `prefix`, with their comments.
pub async fn templates_with_prefix(
    conn: &mut PgConnection,
    prefix: &str,
) -> sqlx::Result<Vec<(String, Option<String>)>> {
    sqlx::query_as(
        "SELECT datname::text, shobj_description(oid, 'pg_database') FROM pg_database
         WHERE starts_with(datname, $1) AND datistemplate ORDER BY 1",
    )
    .bind(prefix)
    .fetch_all(conn)
    .await
}

/// Makes `name` a template nobody can connect to (so no session can block a clone) and
/// records `comment` on it. Closes the connections still open to it first.
pub async fn make_template(conn: &mut PgConnection, name: &str, comment: &str) -> sqlx::Result<()> {
    let statement = format!(
        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
        quote_identifier(name)
    );
    conn.execute(statement.as_str()).await?;
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    // COMMENT takes no parameters: let the server quote the literal.
    let comment_statement: String =
        sqlx::query_scalar("SELECT format('COMMENT ON DATABASE %I IS %L', $1::text, $2::text)")
            .bind(name)
            .bind(comment)
            .fetch_one(&mut *conn)
            .await?;
    conn.execute(comment_statement.as_str()).await?;
    let statement = format!(
        "ALTER DATABASE {} WITH IS_TEMPLATE true",
        quote_identifier(name)
    );
    conn.execute(statement.as_str()).await.map(drop)
}

/// Waits for the session-level template lock; the session's end releases it too.
pub async fn lock_templates(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn unlock_templates(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(conn)
        .await
        .map(drop)
}
