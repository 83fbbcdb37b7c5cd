//! The history writes that travel in the same simple query as a migration's SQL, and the
//! session reset that ends every migration.

use std::time::Duration;

use super::history::{HistoryTable, create_table_sql};
use super::lock::LOCK_KEY;
use crate::folder::Migration;
use crate::sql::{quote_identifier, quote_literal};

/// What ends every migration: the session as the connection started it, so that what a
/// migration changed (`SET ROLE`, `SET SESSION AUTHORIZATION`, `search_path` and other
/// settings, temporary tables, cursors, `LISTEN`) reaches neither nelo's history writes nor
/// the next migration. `RESET ALL` alone leaves the role and the session authorization
/// (PostgreSQL's `GUC_NO_RESET_ALL`); `DEALLOCATE ALL` ends its prepared statements (nelo
/// prepares none: every query of its own is a simple query). Each of these may run inside a
/// transaction block.
pub const SESSION_RESET: &str = concat!(
    "RESET SESSION AUTHORIZATION;\nRESET ROLE;\nRESET ALL;\n",
    "DISCARD TEMP;\nCLOSE ALL;\nUNLISTEN *;\nDEALLOCATE ALL;\n",
    client_check!(),
);

/// Makes the server check every second, during a long statement, that the client is still
/// there (PostgreSQL 14+'s `client_connection_check_interval`; older servers skip it): when
/// the connection is cut or the process interrupted, the migration's transaction is rolled
/// back and the session's migration lock released within about a second, not when the
/// statement ends. Set at connection and again after every session reset.
macro_rules! client_check {
    () => {
        "SELECT pg_catalog.set_config('client_connection_check_interval', '1000', false) \
         WHERE pg_catalog.current_setting('server_version_num')::int >= 140000;\n"
    };
}
use client_check;

/// [`client_check`] as a statement of its own.
pub const CLIENT_CHECK: &str = client_check!();

/// What precedes and follows a piece of a migration's SQL in the query that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wrapping<'a> {
    /// Open a transaction block first (`BEGIN`).
    pub begin: bool,
    /// Create the history table first.
    pub create_table: Option<&'a HistoryTable>,
    /// Reset the session and record the migration finished after the SQL.
    pub finish: Option<Finish<'a>>,
    /// Commit the transaction block last (`COMMIT`).
    pub commit: bool,
    /// Take the migration lock for this transaction only, and check that the migration was
    /// not recorded meanwhile (through a transaction-mode pooler; see `crate::pooler`).
    pub lock: Option<TransactionLock<'a>>,
    /// `SET LOCAL lock_timeout` to this before the SQL (lock-safe DDL, `crate::lock_retry`).
    pub ddl_lock_timeout: Option<Duration>,
}

/// How a finished migration is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish<'a> {
    /// Insert its row (id given), finished: a migration in one transaction with its row.
    Insert(&'a HistoryTable, &'a Migration, &'a str),
    /// Mark the row started before it ran (this id) finished, as Prisma does.
    Update(&'a HistoryTable, &'a str),
}

/// The migration lock taken by the transaction that applies a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionLock<'a> {
    /// How long to wait for the lock.
    pub timeout: Duration,
    /// The `?schema=` to set as the transaction's `search_path`.
    pub search_path: Option<&'a str>,
    /// The history table and the migration that no row may name yet.
    pub guard: (&'a HistoryTable, &'a Migration),
}

/// A piece of a migration wrapped for sending, and where the migration's SQL sits in it
/// (server error positions and completed-statement counts are relative to the whole text).
#[derive(Debug)]
pub struct Script {
    pub text: String,
    /// Characters before the migration's SQL.
    pub prefix_chars: usize,
    /// Statements before the migration's SQL.
    pub prefix_statements: usize,
    /// 0-based statement numbers of the transaction lock and of the check that the migration
    /// was not recorded meanwhile, when [`Wrapping::lock`] asked for them.
    pub lock_statement: Option<usize>,
    pub guard_statement: Option<usize>,
}

/// `body` with what `wrapping` asks for around it:
/// `[BEGIN;] [CREATE TABLE ...;] body ; [session reset; INSERT row;] [COMMIT;]`.
/// The row's values are a generated UUID, a hex checksum and the folder name, as literals.
pub fn wrapped_script(body: &str, wrapping: Wrapping<'_>) -> Script {
    let mut text = String::with_capacity(body.len() + 800);
    let mut prefix_statements = 0;
    let (mut lock_statement, mut guard_statement) = (None, None);
    if wrapping.begin {
        text.push_str("BEGIN;\n");
        prefix_statements += 1;
    }
    if let Some(lock) = wrapping.lock {
        text.push_str(&format!(
            "SET LOCAL lock_timeout = '{}ms';\n",
            lock.timeout.as_millis().max(1)
        ));
        lock_statement = Some(prefix_statements + 1);
        text.push_str(&format!(
            "SELECT pg_advisory_xact_lock({LOCK_KEY});\nSET LOCAL lock_timeout TO DEFAULT;\n"
        ));
        prefix_statements += 3;
        if let Some(schema) = lock.search_path {
            text.push_str(&format!(
                "SET LOCAL search_path TO {};\n",
                quote_identifier(schema)
            ));
            prefix_statements += 1;
        }
    }
    if let Some(timeout) = wrapping.ddl_lock_timeout {
        text.push_str(&format!(
            "SET LOCAL lock_timeout = '{}ms';\n",
            timeout.as_millis().max(1)
        ));
        prefix_statements += 1;
    }
    if let Some(table) = wrapping.create_table {
        text.push_str(&create_table_sql(table));
        text.push('\n');
        prefix_statements += 1;
    }
    if let Some(TransactionLock {
        guard: (table, migration),
        ..
    }) = wrapping.lock
    {
        guard_statement = Some(prefix_statements);
        text.push_str(&recorded_meanwhile_check(table, migration));
        prefix_statements += 1;
    }
    let prefix_chars = text.chars().count();
    text.push_str(body);
    if let Some(finish) = wrapping.finish {
        // A line break first: the body may end in a `--` comment.
        text.push_str("\n;\n");
        text.push_str(SESSION_RESET);
        text.push_str(&match finish {
            Finish::Insert(table, migration, id) => finished_row_sql(table, migration, id),
            Finish::Update(table, id) => format!(
                "UPDATE {} SET \"finished_at\" = pg_catalog.clock_timestamp(), \
                 \"applied_steps_count\" = 1 WHERE \"id\" = {};",
                table.name(),
                quote_literal(id)
            ),
        });
    }
    if wrapping.commit {
        text.push_str("\n;\nCOMMIT;");
    }
    Script {
        text,
        prefix_chars,
        prefix_statements,
        lock_statement,
        guard_statement,
    }
}

/// A statement that fails when a row of `_prisma_migrations` names `migration` and is not
/// rolled back: another deploy applied it (or failed on it) after this one read the history.
fn recorded_meanwhile_check(table: &HistoryTable, migration: &Migration) -> String {
    let tag = format!("$nelo_{}$", uuid::Uuid::new_v4().simple());
    format!(
        "DO {tag} BEGIN IF EXISTS (SELECT FROM {} WHERE \"migration_name\" = {} \
         AND \"rolled_back_at\" IS NULL) THEN RAISE EXCEPTION 'recorded by another deploy'; \
         END IF; END {tag};\n",
        table.name(),
        quote_literal(&migration.name)
    )
}

/// The INSERT of a migration's finished history row, as Prisma's columns have it.
fn finished_row_sql(table: &HistoryTable, migration: &Migration, id: &str) -> String {
    format!(
        "INSERT INTO {} (\"id\", \"checksum\", \"migration_name\", \"started_at\", \"finished_at\", \
         \"applied_steps_count\") VALUES ({}, {}, {}, pg_catalog.now(), pg_catalog.clock_timestamp(), 1);",
        table.name(),
        quote_literal(id),
        quote_literal(&migration.checksum),
        quote_literal(&migration.name),
    )
}

/// `write` in a transaction that takes the migration lock first, when `lock_timeout` is given
/// (through a transaction-mode pooler); else `write` as it is.
pub fn with_transaction_lock(write: &str, lock_timeout: Option<Duration>) -> String {
    match lock_timeout {
        None => write.to_string(),
        Some(timeout) => format!(
            "BEGIN;\nSET LOCAL lock_timeout = '{}ms';\nSELECT pg_advisory_xact_lock({LOCK_KEY});\n\
             SET LOCAL lock_timeout TO DEFAULT;\n{write};\nCOMMIT;",
            timeout.as_millis().max(1)
        ),
    }
}

/// `write` in a transaction of its own, as the connecting user with no statement or lock
/// timeout, whatever the session's state (role, settings) at that point: `SET LOCAL` ends with
/// the transaction, so a migration that runs statement by statement keeps its own settings.
pub fn guarded_write(write: &str) -> String {
    format!(
        "BEGIN READ WRITE;\nSET LOCAL SESSION AUTHORIZATION DEFAULT;\nSET LOCAL ROLE NONE;\n\
         SET LOCAL statement_timeout = 0;\nSET LOCAL lock_timeout = 0;\n{write};\nCOMMIT;"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::split_statements;

    fn migration() -> Migration {
        Migration {
            name: "20250101000000_it's \\ odd".into(),
            path: "m".into(),
            sql: "CREATE TABLE a (id int) -- trailing comment".into(),
            checksum: "abc".into(),
            no_transaction: false,
        }
    }

    #[test]
    fn transaction_wraps_migration_reset_and_history_row() {
        let migration = migration();
        let table = HistoryTable::in_schema("app");
        let wrapping = Wrapping {
            begin: true,
            create_table: None,
            finish: Some(Finish::Insert(&table, &migration, "id-1")),
            commit: true,
            lock: None,
            ddl_lock_timeout: None,
        };
        let script = wrapped_script(migration.sql_to_send(), wrapping);
        assert_eq!(script.prefix_chars, "BEGIN;\n".len());
        assert_eq!(script.prefix_statements, 1);
        let text = &script.text;
        assert!(text.starts_with("BEGIN;\nCREATE TABLE a"), "{text}");
        assert!(
            text.contains(
                "-- trailing comment\n;\nRESET SESSION AUTHORIZATION;\nRESET ROLE;\nRESET ALL;"
            ),
            "{text}"
        );
        assert!(
            text.contains("INSERT INTO \"app\".\"_prisma_migrations\""),
            "{text}"
        );
        // Quotes doubled; a backslash kept literal whatever standard_conforming_strings says.
        assert!(text.contains(r"E'20250101000000_it''s \\ odd'"), "{text}");
        assert!(text.ends_with("COMMIT;"));
        // The statements the server counts: BEGIN, the body, the reset, the INSERT, COMMIT.
        assert_eq!(split_statements(text).len(), 1 + 1 + 8 + 1 + 1);
    }

    #[test]
    fn table_creation_comes_before_the_body() {
        let migration = migration();
        let table = HistoryTable::in_schema("app");
        let script = wrapped_script(
            migration.sql_to_send(),
            Wrapping {
                begin: false,
                create_table: Some(&table),
                finish: None,
                commit: false,
                lock: None,
                ddl_lock_timeout: None,
            },
        );
        assert!(
            script
                .text
                .starts_with("CREATE TABLE IF NOT EXISTS \"app\".\"_prisma_migrations\" (")
        );
        assert_eq!(script.prefix_statements, 1);
        assert_eq!(&script.text[script.prefix_chars..][..14], "CREATE TABLE a");
        assert!(!script.text.contains("COMMIT"));
    }

    #[test]
    fn a_transaction_lock_comes_first_and_its_statements_are_counted() {
        let migration = migration();
        let table = HistoryTable::in_schema("app");
        let script = wrapped_script(
            migration.sql_to_send(),
            Wrapping {
                begin: true,
                create_table: Some(&table),
                finish: Some(Finish::Insert(&table, &migration, "id-1")),
                commit: true,
                lock: Some(TransactionLock {
                    timeout: Duration::from_secs(10),
                    search_path: Some("app"),
                    guard: (&table, &migration),
                }),
                ddl_lock_timeout: Some(Duration::from_millis(500)),
            },
        );
        let statements = split_statements(&script.text);
        assert_eq!(statements[1].sql, "SET LOCAL lock_timeout = '10000ms'");
        let lock = script.lock_statement.unwrap();
        assert_eq!(
            statements[lock].sql,
            "SELECT pg_advisory_xact_lock(72707369)"
        );
        assert_eq!(statements[lock + 2].sql, "SET LOCAL search_path TO \"app\"");
        // The migration's lock_timeout comes after the lock's own (reset to default).
        assert_eq!(statements[lock + 3].sql, "SET LOCAL lock_timeout = '500ms'");
        let guard = script.guard_statement.unwrap();
        assert!(statements[guard].sql.starts_with("DO $nelo_"));
        assert_eq!(guard + 1, script.prefix_statements);
        // The statement after the prefix is the migration's first (its comment is not part).
        assert_eq!(
            statements[script.prefix_statements].sql,
            "CREATE TABLE a (id int)"
        );
    }

    #[test]
    fn guarded_writes_run_as_the_connecting_user() {
        let text = guarded_write("UPDATE t SET a = 1");
        assert!(text.starts_with("BEGIN READ WRITE;\nSET LOCAL SESSION AUTHORIZATION DEFAULT;"));
        assert!(text.ends_with("UPDATE t SET a = 1;\nCOMMIT;"));
    }
}
