//! Prisma Migrate's advisory lock: session-level, so it dies with a killed process's connection.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::{database_error, fetch_rows, run_script};
use crate::Error;
use crate::error::LockHolder;

/// Prisma Migrate's advisory lock key, so that Prisma and nelo-migrate exclude each other.
pub const LOCK_KEY: i64 = 72707369;

/// Takes the session-level migration lock, polling until `timeout`; the error names the holder.
pub async fn acquire_lock(conn: &mut PgConnection, timeout: Duration) -> Result<(), Error> {
    let started = Instant::now();
    let mut backoff = Duration::from_millis(10);
    loop {
        let action = "taking the migration lock";
        let rows = fetch_rows(conn, &format!("SELECT pg_try_advisory_lock({LOCK_KEY})"))
            .await
            .map_err(database_error(action))?;
        let locked: bool = rows
            .first()
            .map_or(Ok(false), |row| row.try_get(0))
            .map_err(database_error(action))?;
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
    let action = "looking up the holder of the migration lock";
    let rows = fetch_rows(
        conn,
        &format!(
            "SELECT a.pid, coalesce(a.application_name, ''), host(a.client_addr), a.backend_start
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted
               AND l.classid::bigint = ({LOCK_KEY}::bigint >> 32)
               AND l.objid::bigint = ({LOCK_KEY}::bigint & 4294967295)
               AND l.objsubid = 1
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             LIMIT 1"
        ),
    )
    .await
    .map_err(database_error(action))?;
    rows.first()
        .map(|row| -> Result<LockHolder, sqlx::Error> {
            let since: Option<DateTime<Utc>> = row.try_get(3)?;
            Ok(LockHolder {
                pid: row.try_get(0)?,
                application_name: row.try_get(1)?,
                client: row.try_get(2)?,
                since,
            })
        })
        .transpose()
        .map_err(database_error(action))
}

/// Releases the migration lock taken by [`acquire_lock`] on this connection.
pub async fn release_lock(conn: &mut PgConnection) -> Result<(), Error> {
    run_script(conn, &format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
        .await
        .map_err(database_error("releasing the migration lock"))
}
