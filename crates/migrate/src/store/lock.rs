//! Prisma Migrate's advisory lock: session-level, so it dies with a killed process's connection.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;

use super::database_error;
use crate::Error;
use crate::error::LockHolder;

/// Prisma Migrate's advisory lock key, so that Prisma and nelo-migrate exclude each other.
pub const LOCK_KEY: i64 = 72707369;

type HolderTuple = (i32, String, Option<String>, Option<DateTime<Utc>>);

/// Takes the session-level migration lock, polling until `timeout`; the error names the holder.
pub async fn acquire_lock(conn: &mut PgConnection, timeout: Duration) -> Result<(), Error> {
    let started = Instant::now();
    let mut backoff = Duration::from_millis(10);
    loop {
        let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut *conn)
            .await
            .map_err(database_error("taking the migration lock"))?;
        if locked {
            return Ok(());
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(Error::LockTimeout {
                key: LOCK_KEY,
                waited: timeout,
                holder: lock_holder(conn).await?,
            });
        }
        tokio::time::sleep(backoff.min(timeout - waited)).await;
        backoff = (backoff * 2).min(Duration::from_millis(200));
    }
}

/// The backend holding the migration lock on this database, if any.
pub async fn lock_holder(conn: &mut PgConnection) -> Result<Option<LockHolder>, Error> {
    let row: Option<HolderTuple> = sqlx::query_as(
        "SELECT a.pid, coalesce(a.application_name, ''), host(a.client_addr), a.backend_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted
           AND l.classid::bigint = ($1 >> 32) AND l.objid::bigint = ($1 & 4294967295)
           AND l.objsubid = 1
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         LIMIT 1",
    )
    .bind(LOCK_KEY)
    .fetch_optional(&mut *conn)
    .await
    .map_err(database_error(
        "looking up the holder of the migration lock",
    ))?;
    Ok(
        row.map(|(pid, application_name, client, since)| LockHolder {
            pid,
            application_name,
            client,
            since,
        }),
    )
}

/// Releases the migration lock taken by [`acquire_lock`] on this connection.
pub async fn release_lock(conn: &mut PgConnection) -> Result<(), Error> {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(database_error("releasing the migration lock"))?;
    Ok(())
}
