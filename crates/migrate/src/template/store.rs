//! The statements about templates and their lock, on a connection to any database of the
//! server. Identifiers are quoted; the names come from [`super::naming`], never from input.

use sqlx::{Executor, PgConnection};

use crate::sql::quote_identifier;

/// Serialises template builds and template sweeps across every process using the server
/// (the key `nelo_db` has used since its templates were its own: "nelotpl").
pub const TEMPLATE_LOCK_KEY: i64 = 0x6e65_6c6f_7470_6c00;

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

/// Of `names`, those that are finished templates.
pub async fn existing_templates(
    conn: &mut PgConnection,
    names: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datistemplate AND datname = ANY($1)",
    )
    .bind(names)
    .fetch_all(conn)
    .await
}

/// A database whose name starts with the template prefix, that the current role may drop.
pub struct Candidate {
    pub name: String,
    pub is_template: bool,
    pub comment: Option<String>,
}

/// The databases whose name starts with `prefix` and that the current role owns (directly,
/// by membership, or as a superuser), with their comments.
pub async fn owned_with_prefix(
    conn: &mut PgConnection,
    prefix: &str,
) -> sqlx::Result<Vec<Candidate>> {
    let rows: Vec<(String, bool, Option<String>)> = sqlx::query_as(
        "SELECT datname::text, datistemplate, shobj_description(oid, 'pg_database')
         FROM pg_database
         WHERE starts_with(datname, $1) AND pg_has_role(current_user, datdba, 'MEMBER')
         ORDER BY 1",
    )
    .bind(prefix)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, is_template, comment)| Candidate {
            name,
            is_template,
            comment,
        })
        .collect())
}

/// Makes `name` a template nobody can connect to (so no session can block a clone) and
/// records `comment` on it. Closes the connections still open to it first. `IS_TEMPLATE`
/// is the last step: a template is finished exactly when `datistemplate` is true.
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
