//! The history table `_prisma_migrations`, with Prisma's exact DDL.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use super::script::{SESSION_RESET, guarded_write, with_transaction_lock};
use super::{database_error, fetch_rows, run_script};
use crate::Error;
use crate::folder::Migration;
use crate::plan::HistoryRow;
use crate::sql::{quote_identifier, quote_literal};

const TABLE_NAME: &str = "_prisma_migrations";

/// `_prisma_migrations`, qualified with the schema it lives in (or is to be created in), so
/// that a migration changing `search_path` (as pg_dump output does) cannot hide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryTable {
    name: String,
    schema: Option<String>,
}

impl HistoryTable {
    /// The table in `schema`.
    pub fn in_schema(schema: &str) -> Self {
        Self {
            name: format!(
                "{}.{}",
                quote_identifier(schema),
                quote_identifier(TABLE_NAME)
            ),
            schema: Some(schema.to_string()),
        }
    }

    /// The table for a URL: in its `?schema=` when it names one (that is the search path, and
    /// through a transaction-mode pooler it is not set at connection start), else [`Self::locate`].
    pub async fn for_url(conn: &mut PgConnection, url_schema: Option<&str>) -> Result<Self, Error> {
        match url_schema {
            Some(schema) => Ok(Self::in_schema(schema)),
            None => Self::locate(conn).await,
        }
    }

    /// Where the table is, or else the schema it would be created in (`current_schema()`).
    pub async fn locate(conn: &mut PgConnection) -> Result<Self, Error> {
        let rows = fetch_rows(
            conn,
            "SELECT coalesce(
                 (SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.oid = to_regclass('\"_prisma_migrations\"')),
                 current_schema()::text)",
        )
        .await
        .map_err(database_error("looking for `_prisma_migrations`"))?;
        let schema: Option<String> = rows
            .first()
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(database_error("looking for `_prisma_migrations`"))?
            .flatten();
        schema
            .map(|schema| Self::in_schema(&schema))
            .ok_or(Error::NoSchema)
    }

    /// The quoted, possibly qualified name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The schema it is qualified with, if it is.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
}

/// Up to four of the tables, views and enums in `schema`, leaving out what extensions own
/// (pgvector's, say). Where the history table is missing, any of them was made without
/// migrations.
pub async fn unmigrated_objects(
    conn: &mut PgConnection,
    schema: &str,
) -> Result<Vec<String>, Error> {
    let sql = format!(
        r#"WITH here AS (SELECT oid FROM pg_namespace WHERE nspname = {}),
           objects AS (
               SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                     WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind,
                      c.relname AS name, 'pg_class'::regclass AS catalog, c.oid
               FROM pg_class c, here WHERE c.relnamespace = here.oid
                 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
               UNION ALL
               SELECT 'enum', t.typname, 'pg_type'::regclass, t.oid
               FROM pg_type t, here WHERE t.typnamespace = here.oid AND t.typtype = 'e')
           SELECT kind || ' ' || quote_ident(name) FROM objects o
           WHERE NOT EXISTS (SELECT FROM pg_depend d
                             WHERE d.classid = o.catalog AND d.objid = o.oid AND d.deptype = 'e')
           ORDER BY kind <> 'table', kind, name LIMIT 4"#,
        quote_literal(schema)
    );
    let action = "looking for objects made without migrations";
    fetch_rows(conn, &sql)
        .await
        .and_then(|rows| rows.iter().map(|row| row.try_get(0)).collect())
        .map_err(database_error(action))
}

/// Prisma's DDL for the history table, verbatim but for the qualified name.
pub(super) fn create_table_sql(table: &HistoryTable) -> String {
    format!(
        r#"CREATE TABLE IF NOT EXISTS {} (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);"#,
        table.name()
    )
}

/// Creates the history table with Prisma's DDL when it does not exist.
pub async fn ensure_table(conn: &mut PgConnection, table: &HistoryTable) -> Result<(), Error> {
    run_script(conn, &create_table_sql(table))
        .await
        .map_err(database_error("creating the `_prisma_migrations` table"))
}

/// Every row of the history table.
pub async fn read_rows(
    conn: &mut PgConnection,
    table: &HistoryTable,
) -> Result<Vec<HistoryRow>, Error> {
    // Timestamps as microseconds since the epoch: the simple protocol returns text, and an
    // integer parses in a fraction of the time a timestamp does (10,000 rows for `status`).
    let sql = format!(
        r#"SELECT "id", "checksum", {}, "migration_name", "logs", {}, {},
               "applied_steps_count" FROM {}"#,
        micros("finished_at"),
        micros("rolled_back_at"),
        micros("started_at"),
        table.name()
    );
    let mut rows = fetch_rows(conn, &sql)
        .await
        .and_then(|rows| rows.iter().map(history_row).collect::<Result<Vec<_>, _>>())
        .map_err(database_error("reading `_prisma_migrations`"))?;
    rows.sort_by_key(|row| row.started_at);
    Ok(rows)
}

/// Every row of the history table, or `None` when the table does not exist yet.
pub async fn read_rows_if_table_exists(
    conn: &mut PgConnection,
    table: &HistoryTable,
) -> Result<Option<Vec<HistoryRow>>, Error> {
    match read_rows(conn, table).await {
        Ok(rows) => Ok(Some(rows)),
        Err(Error::Database {
            source: sqlx::Error::Database(db),
            ..
        }) if db.code().as_deref() == Some("42P01") => Ok(None),
        Err(error) => Err(error),
    }
}

/// `column` (a timestamptz) as whole microseconds since the Unix epoch, exactly.
fn micros(column: &str) -> String {
    format!("(extract(epoch FROM \"{column}\") * 1000000)::int8")
}

fn timestamp(row: &PgRow, index: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let micros: Option<i64> = row.try_get(index)?;
    micros
        .map(|micros| {
            DateTime::from_timestamp_micros(micros).ok_or_else(|| {
                sqlx::Error::Decode(format!("timestamp out of range: {micros} µs").into())
            })
        })
        .transpose()
}

fn history_row(row: &PgRow) -> Result<HistoryRow, sqlx::Error> {
    Ok(HistoryRow {
        id: row.try_get(0)?,
        checksum: row.try_get(1)?,
        finished_at: timestamp(row, 2)?,
        migration_name: row.try_get(3)?,
        logs: row.try_get(4)?,
        rolled_back_at: timestamp(row, 5)?,
        started_at: timestamp(row, 6)?
            .ok_or_else(|| sqlx::Error::Decode("`started_at` is NULL".into()))?,
        applied_steps_count: row.try_get(7)?,
    })
}

/// Records a failed attempt (finished_at NULL), in its own statement, after ending the failed
/// transaction and what the migration left in the session.
pub async fn record_failure(
    conn: &mut PgConnection,
    table: &HistoryTable,
    migration: &Migration,
    started_at: DateTime<Utc>,
    logs: &str,
) -> Result<(), Error> {
    reset_session(conn).await?;
    let sql = format!(
        r#"INSERT INTO {} ("id", "checksum", "migration_name", "logs", "started_at", "applied_steps_count")
           VALUES ({}, {}, {}, {}, {}::timestamptz, 0)"#,
        table.name(),
        quote_literal(&uuid::Uuid::new_v4().to_string()),
        quote_literal(&migration.checksum),
        quote_literal(&migration.name),
        quote_literal(logs),
        quote_literal(&started_at.to_rfc3339()),
    );
    run_script(conn, &sql)
        .await
        .map_err(database_error("recording a failed migration"))
}

/// Inserts the row of a migration that runs outside a transaction, before its first step.
pub async fn start_row(
    conn: &mut PgConnection,
    table: &HistoryTable,
    migration: &Migration,
) -> Result<String, Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let sql = format!(
        r#"INSERT INTO {} ("id", "checksum", "migration_name", "started_at", "applied_steps_count")
           VALUES ({}, {}, {}, now(), 0)"#,
        table.name(),
        quote_literal(&id),
        quote_literal(&migration.checksum),
        quote_literal(&migration.name),
    );
    run_script(conn, &sql)
        .await
        .map_err(database_error("recording the start of a migration"))?;
    Ok(id)
}

/// Records how many statements of a migration that runs statement by statement have run.
/// Written as the connecting user in a transaction of its own, whatever role or settings the
/// migration's statements so far have set (they stay set for its next statement).
pub async fn record_steps(
    conn: &mut PgConnection,
    table: &HistoryTable,
    id: &str,
    steps: i32,
) -> Result<(), Error> {
    let write = format!(
        r#"UPDATE {} SET "applied_steps_count" = {steps} WHERE "id" = {}"#,
        table.name(),
        quote_literal(id)
    );
    run_script(conn, &guarded_write(&write))
        .await
        .map_err(database_error("recording the progress of a migration"))
}

/// Deletes the started row of a migration that was given up before any of it applied
/// (every attempt timed out waiting for a lock): nothing is left to resolve.
pub async fn delete_started_row(
    conn: &mut PgConnection,
    table: &HistoryTable,
    id: &str,
) -> Result<(), Error> {
    let write = format!(
        r#"DELETE FROM {} WHERE "id" = {} AND "finished_at" IS NULL"#,
        table.name(),
        quote_literal(id)
    );
    run_script(conn, &guarded_write(&write))
        .await
        .map_err(database_error(
            "removing the row of a migration that was not applied",
        ))
}

/// Ends what the last migration left in the session: an open or failed transaction block,
/// and every session setting, role and temporary object ([`SESSION_RESET`]).
pub async fn reset_session(conn: &mut PgConnection) -> Result<(), Error> {
    // ROLLBACK outside a transaction block only warns.
    run_script(conn, &format!("ROLLBACK;\n{SESSION_RESET}"))
        .await
        .map_err(database_error("resetting the session after a migration"))
}

/// Marks a row finished, after ending the session state the migration made.
pub async fn finish_row(
    conn: &mut PgConnection,
    table: &HistoryTable,
    id: &str,
) -> Result<(), Error> {
    reset_session(conn).await?;
    let sql = format!(
        r#"UPDATE {} SET "finished_at" = clock_timestamp() WHERE "id" = {}"#,
        table.name(),
        quote_literal(id)
    );
    run_script(conn, &sql)
        .await
        .map_err(database_error("recording the end of a migration"))
}

/// Stores the error of a failed migration that runs statement by statement in its row.
pub async fn record_row_failure(
    conn: &mut PgConnection,
    table: &HistoryTable,
    id: &str,
    logs: &str,
) -> Result<(), Error> {
    reset_session(conn).await?;
    let sql = format!(
        r#"UPDATE {} SET "logs" = {} WHERE "id" = {}"#,
        table.name(),
        quote_literal(logs),
        quote_literal(id)
    );
    run_script(conn, &sql)
        .await
        .map_err(database_error("recording a failed migration"))
}

/// Records `migration` as applied without running it; failed attempts become rolled back.
/// The row is Prisma's (`mark_migration_applied`): `logs` empty, no steps, started when finished.
pub async fn mark_applied(
    conn: &mut PgConnection,
    table: &HistoryTable,
    migration: &Migration,
    transaction_lock: Option<Duration>,
) -> Result<(), Error> {
    let sql = format!(
        r#"WITH rolled_back AS (
               UPDATE {table} SET "rolled_back_at" = now()
               WHERE "migration_name" = {name} AND "finished_at" IS NULL AND "rolled_back_at" IS NULL
           )
           INSERT INTO {table} ("id", "checksum", "migration_name", "logs", "started_at", "finished_at", "applied_steps_count")
           VALUES ({id}, {checksum}, {name}, '', now(), now(), 0)"#,
        table = table.name(),
        id = quote_literal(&uuid::Uuid::new_v4().to_string()),
        checksum = quote_literal(&migration.checksum),
        name = quote_literal(&migration.name),
    );
    run_script(conn, &with_transaction_lock(&sql, transaction_lock))
        .await
        .map_err(database_error("recording a migration as applied"))
}

/// Marks the failed attempts of `name` rolled back.
pub async fn mark_rolled_back(
    conn: &mut PgConnection,
    table: &HistoryTable,
    name: &str,
    transaction_lock: Option<Duration>,
) -> Result<(), Error> {
    let sql = format!(
        r#"UPDATE {} SET "rolled_back_at" = now()
           WHERE "migration_name" = {} AND "finished_at" IS NULL AND "rolled_back_at" IS NULL"#,
        table.name(),
        quote_literal(name)
    );
    run_script(conn, &with_transaction_lock(&sql, transaction_lock))
        .await
        .map_err(database_error("marking a migration rolled back"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_quoted() {
        assert_eq!(
            HistoryTable::in_schema("my \"app\"").name(),
            "\"my \"\"app\"\"\".\"_prisma_migrations\""
        );
    }
}
