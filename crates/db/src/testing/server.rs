//! Every statement the test-database helpers send to the server's `postgres` database.
//! Identifiers are quoted here; the names come from [`super::names`], never from input.

use nelo_migrate::quote_identifier;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Executor, PgConnection};

/// Serialises template builds and template sweeps across every process using the server.
const TEMPLATE_LOCK_KEY: i64 = 0x6e65_6c6f_7470_6c00; // "nelotpl"

/// PostgreSQL's SQLSTATE for a database that does not exist.
pub const INVALID_CATALOG_NAME: &str = "3D000";

pub async fn connect(options: &PgConnectOptions) -> sqlx::Result<PgConnection> {
    options.connect().await
}

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

/// `CREATE DATABASE name [TEMPLATE template]`.
pub async fn create_database(
    conn: &mut PgConnection,
    name: &str,
    template: Option<&str>,
) -> sqlx::Result<()> {
    let statement = match template {
        Some(template) => format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_identifier(name),
            quote_identifier(template)
        ),
        None => format!("CREATE DATABASE {}", quote_identifier(name)),
    };
    conn.execute(statement.as_str()).await.map(drop)
}

/// Drops the database, template or not, closing its connections; absent is fine.
pub async fn drop_database(conn: &mut PgConnection, name: &str) -> sqlx::Result<()> {
    if database_is_template(conn, name).await? == Some(true) {
        let statement = format!(
            "ALTER DATABASE {} WITH IS_TEMPLATE false",
            quote_identifier(name)
        );
        conn.execute(statement.as_str()).await?;
    }
    let statement = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_identifier(name)
    );
    conn.execute(statement.as_str()).await.map(drop)
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

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_are_quote_identifier() {
        assert_eq!(super::quote_identifier("nelo_test_1"), r#""nelo_test_1""#);
        assert_eq!(super::quote_identifier(r#"a"b"#), r#""a""b""#);
    }
}
