//! Sending a migration's SQL: simple queries whose statements are counted as they complete,
//! and the rows of `COPY ... FROM STDIN`.

use futures_util::TryStreamExt;
use sqlx::Executor;
use sqlx::postgres::{PgConnection, PgDatabaseError, PgSeverity};

/// A failed simple query: the error, and how many of its statements completed before it
/// (the server answers each with a CommandComplete, so the failing one is the next).
#[derive(Debug)]
pub struct CountedError {
    pub error: sqlx::Error,
    pub completed: usize,
}

/// Sends `sql` as one simple query, counting the statements that complete.
pub async fn run_counted(conn: &mut PgConnection, sql: &str) -> Result<usize, CountedError> {
    let mut completed = 0;
    let mut stream = (&mut *conn).fetch_many(sqlx::raw_sql(sql));
    loop {
        match stream.try_next().await {
            Ok(Some(either)) => {
                if either.is_left() {
                    completed += 1;
                }
            }
            Ok(None) => return Ok(completed),
            Err(error) => return Err(CountedError { error, completed }),
        }
    }
}

/// Runs `COPY ... FROM STDIN` with `rows` (text or CSV, as the statement says) as its data.
pub async fn copy_in(
    conn: &mut PgConnection,
    statement: &str,
    rows: &str,
) -> Result<u64, sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    if !rows.is_empty()
        && let Err(error) = copy.send(rows.as_bytes()).await
    {
        // The server's own error (a bad row) arrives when the copy ends.
        return match copy.finish().await {
            Err(server_error) => Err(server_error),
            Ok(_) => Err(error),
        };
    }
    copy.finish().await
}

/// Whether the connection can still be used after `error`: only after an ERROR the server
/// sent (it then waits for the next query). After a FATAL or PANIC (the server ends the
/// session: terminated backend, shutdown) or any other error (I/O, a reply the protocol does
/// not allow here) the session is gone or in an unknown state, and waiting on it could hang.
pub fn connection_usable(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|database| database.try_downcast_ref::<PgDatabaseError>())
        .is_some_and(|database| {
            !matches!(database.severity(), PgSeverity::Fatal | PgSeverity::Panic)
        })
}
