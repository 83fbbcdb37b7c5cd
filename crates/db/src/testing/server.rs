//! The statements of the test-database helpers to the server's `postgres` database that
//! are theirs alone. Creating and dropping databases is [`nelo_migrate::postgres`]'s,
//! templates are [`nelo_migrate::template`]'s.

use sqlx::PgConnection;

/// PostgreSQL's SQLSTATE for a database that does not exist.
pub const INVALID_CATALOG_NAME: &str = "3D000";

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
