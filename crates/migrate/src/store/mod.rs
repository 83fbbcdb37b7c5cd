//! The only module that writes SQL for the history table and the migration lock. Both are
//! Prisma Migrate's, so Prisma and nelo-migrate can take turns on one database.

mod history;
mod lock;
mod script;

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Executor, Row};

use crate::Error;
use crate::sql::{quote_identifier, quote_literal};

pub use history::{
    HistoryTable, delete_started_row, ensure_table, finish_row, mark_applied, mark_rolled_back,
    read_rows, read_rows_if_table_exists, record_failure, record_row_failure, record_steps,
    reset_session, start_row, unmigrated_objects,
};
pub use lock::{LOCK_KEY, acquire_lock, lock_holder, release_lock};
pub use script::{CLIENT_CHECK, Finish, TransactionLock, Wrapping, wrapped_script};

/// Sends `sql` (any number of statements) as one simple query.
///
/// Through `Executor::execute`, whose future is `Send` for every lifetime, unlike
/// `RawSql::execute`'s (which makes callers' futures impossible to `tokio::spawn`).
pub async fn run_script(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    (&mut *conn).execute(sqlx::raw_sql(sql)).await.map(drop)
}

/// Sends `sql` as one simple query and returns its rows (text format). Every query of the
/// history table and the lock goes this way, with its values as literals: no prepared
/// statement, named or not, so that a transaction-mode pooler (PgBouncer) can serve it.
pub async fn fetch_rows(conn: &mut PgConnection, sql: &str) -> Result<Vec<PgRow>, sqlx::Error> {
    (&mut *conn).fetch_all(sqlx::raw_sql(sql)).await
}

/// Creates `schema` unless it exists, as Prisma does for the URL's `?schema=`. Looks first,
/// because `CREATE SCHEMA IF NOT EXISTS` needs the CREATE privilege on the database even
/// when the schema is there.
pub async fn ensure_schema(conn: &mut PgConnection, schema: &str) -> Result<(), Error> {
    let action = "looking for the schema named by `?schema=`";
    let rows = fetch_rows(
        conn,
        &format!(
            "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = {})",
            quote_literal(schema)
        ),
    )
    .await
    .map_err(database_error(action))?;
    let exists: bool = rows
        .first()
        .map_or(Ok(false), |row| row.try_get(0))
        .map_err(database_error(action))?;
    if exists {
        return Ok(());
    }
    run_script(
        conn,
        &format!("CREATE SCHEMA IF NOT EXISTS {}", quote_identifier(schema)),
    )
    .await
    .map_err(database_error("creating the schema named by `?schema=`"))
}

/// The backend pid of `conn`'s session.
pub async fn backend_pid(conn: &mut PgConnection) -> Result<i32, Error> {
    let action = "asking the server for the session's backend pid";
    let rows = fetch_rows(conn, "SELECT pg_catalog.pg_backend_pid()")
        .await
        .map_err(database_error(action))?;
    rows.first()
        .ok_or(sqlx::Error::RowNotFound)
        .and_then(|row| row.try_get(0))
        .map_err(database_error(action))
}

fn database_error(action: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database { action, source }
}
