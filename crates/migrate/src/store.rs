//! The only module that writes SQL for the history table and the migration lock.
//! The table and the lock key are Prisma Migrate's, so Prisma and nelo-migrate can take
//! turns on one database and exclude each other.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::Executor;
use sqlx::postgres::PgConnection;

use crate::Error;
use crate::error::LockHolder;
use crate::folder::Migration;
use crate::plan::HistoryRow;

/// Prisma Migrate's advisory lock key.
pub const LOCK_KEY: i64 = 72707369;

/// Prisma's DDL for the history table, verbatim.
const CREATE_TABLE: &str = r#"CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);"#;

const SELECT_ROWS: &str = r#"SELECT "id", "checksum", "finished_at", "migration_name", "logs",
    "rolled_back_at", "started_at", "applied_steps_count"
FROM "_prisma_migrations""#;

type RowTuple = (
    String,
    String,
    Option<DateTime<Utc>>,
    String,
    Option<String>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    i32,
);

/// Sends `sql` (any number of statements) as one simple query.
///
/// Through `Executor::execute`, whose future is `Send` for every lifetime, unlike
/// `RawSql::execute`'s (which makes callers' futures impossible to `tokio::spawn`).
pub async fn run_script(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    (&mut *conn).execute(sqlx::raw_sql(sql)).await.map(drop)
}

type HolderTuple = (i32, String, Option<String>, Option<DateTime<Utc>>);

fn database_error(action: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database { action, source }
}

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

/// Creates `_prisma_migrations` with Prisma's DDL when it does not exist.
pub async fn ensure_table(conn: &mut PgConnection) -> Result<(), Error> {
    run_script(conn, CREATE_TABLE)
        .await
        .map_err(database_error("creating the `_prisma_migrations` table"))?;
    Ok(())
}

/// Every row of the history table.
pub async fn read_rows(conn: &mut PgConnection) -> Result<Vec<HistoryRow>, Error> {
    let rows: Vec<RowTuple> = sqlx::query_as(SELECT_ROWS)
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading `_prisma_migrations`"))?;
    let mut rows: Vec<HistoryRow> = rows.into_iter().map(history_row).collect();
    rows.sort_by_key(|row| row.started_at);
    Ok(rows)
}

/// Every row of the history table, or `None` when the table does not exist yet.
pub async fn read_rows_if_table_exists(
    conn: &mut PgConnection,
) -> Result<Option<Vec<HistoryRow>>, Error> {
    match read_rows(conn).await {
        Ok(rows) => Ok(Some(rows)),
        Err(Error::Database {
            source: sqlx::Error::Database(db),
            ..
        }) if db.code().as_deref() == Some("42P01") => Ok(None),
        Err(error) => Err(error),
    }
}

fn history_row(row: RowTuple) -> HistoryRow {
    let (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, steps) = row;
    HistoryRow {
        id,
        checksum,
        finished_at,
        migration_name,
        logs,
        rolled_back_at,
        started_at,
        applied_steps_count: steps,
    }
}

/// A single-quoted SQL literal (standard_conforming_strings is on in every supported server).
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The one script that applies a transactional migration: BEGIN, the history table when
/// it does not exist yet, the migration, its history row, COMMIT; so a migration costs one
/// round trip. The row's values are a generated UUID, a hex checksum and a folder name
/// already restricted to `[A-Za-z0-9_-]`, quoted anyway.
pub fn transactional_script(migration: &Migration, id: &str, create_table: bool) -> Script {
    let sql = migration.sql_to_send();
    let mut text = String::with_capacity(CREATE_TABLE.len() + sql.len() + 300);
    text.push_str("BEGIN;\n");
    if create_table {
        text.push_str(CREATE_TABLE);
        text.push('\n');
    }
    let prefix_chars = text.chars().count();
    text.push_str(sql);
    text.push_str(&format!(
        "\n;\nINSERT INTO \"_prisma_migrations\" (\"id\", \"checksum\", \"migration_name\", \
         \"started_at\", \"finished_at\", \"applied_steps_count\") \
         VALUES ({}, {}, {}, now(), clock_timestamp(), 1);\nCOMMIT;",
        sql_literal(id),
        sql_literal(&migration.checksum),
        sql_literal(&migration.name),
    ));
    Script { text, prefix_chars }
}

/// A script sent to the server, and how many characters precede the migration's SQL in it
/// (server error positions are offsets into the whole script).
#[derive(Debug)]
pub struct Script {
    pub text: String,
    pub prefix_chars: usize,
}

/// A failed script: the error and the script's prefix length.
#[derive(Debug)]
pub struct ScriptError {
    pub error: sqlx::Error,
    pub prefix_chars: usize,
}

/// Applies a migration and records it in one transaction, creating the history table in it
/// when asked. On error the transaction is rolled back before returning; nothing is recorded.
pub async fn apply_in_transaction(
    conn: &mut PgConnection,
    migration: &Migration,
    create_table: bool,
) -> Result<(), ScriptError> {
    let script = transactional_script(migration, &uuid::Uuid::new_v4().to_string(), create_table);
    match run_script(conn, &script.text).await {
        Ok(_) => Ok(()),
        Err(error) => {
            // The connection may be gone, in which case the server rolled back already.
            let _ = run_script(conn, "ROLLBACK").await;
            Err(ScriptError {
                error,
                prefix_chars: script.prefix_chars,
            })
        }
    }
}

/// Records a failed attempt (finished_at NULL), in its own statement, after the rollback.
pub async fn record_failure(
    conn: &mut PgConnection,
    migration: &Migration,
    started_at: DateTime<Utc>,
    logs: &str,
) -> Result<(), Error> {
    sqlx::query(
        r#"INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "logs", "started_at", "applied_steps_count")
           VALUES ($1, $2, $3, $4, $5, 0)"#,
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&migration.checksum)
    .bind(&migration.name)
    .bind(logs)
    .bind(started_at)
    .execute(&mut *conn)
    .await
    .map_err(database_error("recording a failed migration"))?;
    Ok(())
}

/// Inserts the row of a migration that runs outside a transaction, before its first step.
pub async fn start_row(conn: &mut PgConnection, migration: &Migration) -> Result<String, Error> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        r#"INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "applied_steps_count")
           VALUES ($1, $2, $3, now(), 0)"#,
    )
    .bind(&id)
    .bind(&migration.checksum)
    .bind(&migration.name)
    .execute(&mut *conn)
    .await
    .map_err(database_error("recording the start of a migration"))?;
    Ok(id)
}

/// Records how many statements of a no-transaction migration have run.
pub async fn record_steps(conn: &mut PgConnection, id: &str, steps: i32) -> Result<(), Error> {
    sqlx::query(r#"UPDATE "_prisma_migrations" SET "applied_steps_count" = $2 WHERE "id" = $1"#)
        .bind(id)
        .bind(steps)
        .execute(&mut *conn)
        .await
        .map_err(database_error("recording the progress of a migration"))?;
    Ok(())
}

/// Marks a row finished.
pub async fn finish_row(conn: &mut PgConnection, id: &str) -> Result<(), Error> {
    sqlx::query(
        r#"UPDATE "_prisma_migrations" SET "finished_at" = clock_timestamp() WHERE "id" = $1"#,
    )
    .bind(id)
    .execute(&mut *conn)
    .await
    .map_err(database_error("recording the end of a migration"))?;
    Ok(())
}

/// Stores the error of a failed no-transaction migration in its row.
pub async fn record_row_failure(
    conn: &mut PgConnection,
    id: &str,
    logs: &str,
) -> Result<(), Error> {
    sqlx::query(r#"UPDATE "_prisma_migrations" SET "logs" = $2 WHERE "id" = $1"#)
        .bind(id)
        .bind(logs)
        .execute(&mut *conn)
        .await
        .map_err(database_error("recording a failed migration"))?;
    Ok(())
}

/// Records `migration` as applied without running it; failed attempts become rolled back.
pub async fn mark_applied(conn: &mut PgConnection, migration: &Migration) -> Result<(), Error> {
    sqlx::query(
        r#"WITH rolled_back AS (
               UPDATE "_prisma_migrations" SET "rolled_back_at" = now()
               WHERE "migration_name" = $3 AND "finished_at" IS NULL AND "rolled_back_at" IS NULL
           )
           INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "finished_at", "applied_steps_count")
           VALUES ($1, $2, $3, now(), now(), 0)"#,
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&migration.checksum)
    .bind(&migration.name)
    .execute(&mut *conn)
    .await
    .map_err(database_error("recording a migration as applied"))?;
    Ok(())
}

/// Marks the failed attempts of `name` rolled back; returns how many rows changed.
pub async fn mark_rolled_back(conn: &mut PgConnection, name: &str) -> Result<u64, Error> {
    let result = sqlx::query(
        r#"UPDATE "_prisma_migrations" SET "rolled_back_at" = now()
           WHERE "migration_name" = $1 AND "finished_at" IS NULL AND "rolled_back_at" IS NULL"#,
    )
    .bind(name)
    .execute(&mut *conn)
    .await
    .map_err(database_error("marking a migration rolled back"))?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_wraps_migration_and_history_row() {
        let migration = Migration {
            name: "20250101000000_it's".into(),
            path: "m".into(),
            sql: "CREATE TABLE a (id int) -- trailing comment".into(),
            checksum: "abc".into(),
            no_transaction: false,
        };
        let script = transactional_script(&migration, "id-1", false);
        assert_eq!(script.prefix_chars, "BEGIN;\n".len());
        let script = script.text;
        assert!(script.starts_with("BEGIN;\nCREATE TABLE a"), "{script}");
        assert!(
            script.contains("-- trailing comment\n;\nINSERT"),
            "{script}"
        );
        assert!(script.contains("'20250101000000_it''s'"), "{script}");
        assert!(script.ends_with("COMMIT;"));
        let with_table = transactional_script(&migration, "id-1", true);
        assert!(
            with_table
                .text
                .contains("CREATE TABLE IF NOT EXISTS \"_prisma_migrations\"")
        );
        assert_eq!(
            &with_table.text[with_table.prefix_chars..][..14],
            "CREATE TABLE a"
        );
    }
}
