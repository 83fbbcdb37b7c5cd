//! Questions and changes inside the connected database that the tools around migrations ask:
//! whether it holds data, and the extensions a database needs before its migrations run.

use sqlx::{Executor, PgConnection};

use super::databases::is_concurrent_creation;
use crate::sql::{quote_identifier, user_schema};

/// Whether the connected database holds any user table, partitioned or not, outside the
/// system schemas ([`user_schema`]).
pub async fn has_user_tables(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    let query = format!(
        "SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND {})",
        user_schema("n.nspname")
    );
    sqlx::query_scalar(&query).fetch_one(conn).await
}

/// Installs `extension` in the connected database unless it is there; returns whether it
/// was installed here. Another session installing it at the same moment counts as there.
pub async fn ensure_extension(
    conn: &mut PgConnection,
    extension: &str,
) -> Result<bool, sqlx::Error> {
    let present: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = $1)")
            .bind(extension)
            .fetch_one(&mut *conn)
            .await?;
    if present {
        return Ok(false);
    }
    let statement = format!(
        "CREATE EXTENSION IF NOT EXISTS {}",
        quote_identifier(extension)
    );
    // `IF NOT EXISTS` does not cover a concurrent creation, which fails on a unique index
    // (`23505`) or as a duplicate object.
    match conn.execute(statement.as_str()).await {
        Ok(_) => Ok(true),
        Err(error) if is_concurrent_creation(&error) => Ok(false),
        Err(error) => Err(error),
    }
}
