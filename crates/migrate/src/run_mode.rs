//! How a migration is sent to the server, decided from its text before anything runs.
//!
//! Prisma Migrate sends each `migration.sql` as one simple query with no BEGIN of its own
//! (prisma-engines, the Postgres flavour's `apply_migration_script`). A simple query of several
//! statements runs as one implicit transaction, and one of a single statement runs alone. So:
//! - a file of one statement that cannot run in a transaction block (`CREATE INDEX
//!   CONCURRENTLY`, `VACUUM`, ...) is sent alone, as Prisma sends it ([`RunMode::Alone`]);
//! - a file with its own `BEGIN`/`COMMIT` is sent as written, as Prisma sends it
//!   ([`RunMode::AsWritten`]);
//! - a file whose first line is `-- nelo:no-transaction` runs statement by statement;
//! - every other file runs in one transaction together with its history row (stronger than
//!   Prisma, which writes the row apart).
//!
//! A file that mixes a statement that cannot run in a transaction block with other statements
//! fails under Prisma too (SQLSTATE 25001); it is refused before anything runs.

use std::path::PathBuf;

use crate::folder::Migration;
use crate::position::{char_count_before, line_column};
use crate::split::{Statement, split_statements, top_level_words};

/// How a migration's SQL is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// In one transaction with its history row (the default).
    InTransaction,
    /// Statement by statement, each in its own implicit transaction (`-- nelo:no-transaction`).
    StatementByStatement,
    /// One statement that cannot run in a transaction block, sent alone; the history row is
    /// written once it succeeded.
    Alone,
    /// The file manages its own transactions (`BEGIN` ... `COMMIT`): sent as written; the
    /// history row is written with the statements after the last `COMMIT`.
    AsWritten,
}

impl std::fmt::Display for RunMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunMode::InTransaction => "in one transaction",
            RunMode::StatementByStatement => "statement by statement",
            RunMode::Alone => "alone, outside a transaction",
            RunMode::AsWritten => "with its own transactions",
        })
    }
}

/// Why a migration cannot run, found before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unrunnable {
    pub migration: String,
    pub path: PathBuf,
    /// 1-based line and column of the statement at fault.
    pub line: usize,
    pub column: usize,
    pub reason: UnrunnableReason,
}

/// What is wrong, as data; the front ends say what to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum UnrunnableReason {
    /// A statement that cannot run in a transaction block shares the file with others.
    NonTransactionalAmongOthers { statement: String },
    /// A `BEGIN` that no `COMMIT`, `END` or `ROLLBACK` closes.
    UnclosedTransaction,
    /// `COPY ... FROM STDIN` whose rows do not end with a line `\.`.
    UnterminatedCopyData,
    /// SQL after `COPY ... FROM STDIN;` on the same line.
    TextAfterCopy,
    /// `COPY ... TO STDOUT`: a migration has nowhere to send rows.
    CopyToStdout,
    /// A NUL character, which no PostgreSQL query can hold.
    NulCharacter,
}

impl std::fmt::Display for Unrunnable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "migration `{}` cannot run: {}:{}:{}: ",
            self.migration,
            self.path.display(),
            self.line,
            self.column
        )?;
        match &self.reason {
            UnrunnableReason::NonTransactionalAmongOthers { statement } => write!(
                f,
                "`{statement}` cannot run inside a transaction block, and a file of several statements runs as one transaction (under Prisma too: SQLSTATE 25001); move it to a migration folder of its own, or make the file's first line `-- nelo:no-transaction` to run it statement by statement"
            ),
            UnrunnableReason::UnclosedTransaction => f.write_str(
                "this `BEGIN` is never closed by `COMMIT`, `END` or `ROLLBACK`; close it at the end of the file",
            ),
            UnrunnableReason::UnterminatedCopyData => f.write_str(
                "the rows of this `COPY ... FROM STDIN` do not end with a line `\\.`; add it after the last row",
            ),
            UnrunnableReason::TextAfterCopy => f.write_str(
                "the rows of `COPY ... FROM STDIN` start on the next line; move what follows the semicolon to a line after the `\\.` line",
            ),
            UnrunnableReason::CopyToStdout => f.write_str(
                "`COPY ... TO STDOUT` sends rows to the client, and a migration has nowhere to put them; remove it",
            ),
            UnrunnableReason::NulCharacter => f.write_str(
                "a NUL character (byte 0), which PostgreSQL cannot take in a query; remove it (was the file saved in UTF-16?)",
            ),
        }
    }
}

/// A migration's statements and how to send them.
#[derive(Debug)]
pub struct RunPlan<'a> {
    pub mode: RunMode,
    /// The statements of [`Migration::sql_to_send`], with their COPY data.
    pub statements: Vec<Statement<'a>>,
}

/// Decides how `migration` runs, or why it cannot.
pub fn run_plan(migration: &Migration) -> Result<RunPlan<'_>, Box<Unrunnable>> {
    let sql = migration.sql_to_send();
    let statements = split_statements(sql);
    let unrunnable = |statement: &Statement, reason| {
        let (line, column) =
            line_column(sql, char_count_before(sql, statement.offset) + 1).unwrap_or((1, 1));
        Box::new(Unrunnable {
            migration: migration.name.clone(),
            path: migration.path.clone(),
            line,
            column,
            reason,
        })
    };
    if let Some(nul) = sql.find('\0') {
        let (line, column) = line_column(sql, char_count_before(sql, nul) + 1).unwrap_or((1, 1));
        return Err(Box::new(Unrunnable {
            migration: migration.name.clone(),
            path: migration.path.clone(),
            line,
            column,
            reason: UnrunnableReason::NulCharacter,
        }));
    }
    let mut open_transaction: Option<&Statement> = None;
    let mut has_transaction_control = false;
    let mut non_transactional = None;
    for statement in &statements {
        let words = top_level_words(statement.sql);
        if let Some(data) = statement.copy_data {
            if data.trailing_text {
                return Err(unrunnable(statement, UnrunnableReason::TextAfterCopy));
            }
            if !data.terminated {
                return Err(unrunnable(
                    statement,
                    UnrunnableReason::UnterminatedCopyData,
                ));
            }
        } else if is_copy_to_stdout(&words) {
            return Err(unrunnable(statement, UnrunnableReason::CopyToStdout));
        }
        match transaction_control(&words) {
            Some(TransactionControl::Open) => {
                has_transaction_control = true;
                open_transaction = Some(statement);
            }
            Some(TransactionControl::Close) => {
                has_transaction_control = true;
                open_transaction = None;
            }
            None => {}
        }
        if non_transactional.is_none()
            && let Some(description) = non_transactional_statement(&words)
        {
            non_transactional = Some((statement, description));
        }
    }
    if (migration.no_transaction || has_transaction_control)
        && let Some(statement) = open_transaction
    {
        return Err(unrunnable(statement, UnrunnableReason::UnclosedTransaction));
    }
    let mode = if migration.no_transaction {
        RunMode::StatementByStatement
    } else if let Some((statement, description)) = non_transactional {
        if statements.len() > 1 {
            return Err(unrunnable(
                statement,
                UnrunnableReason::NonTransactionalAmongOthers {
                    statement: description,
                },
            ));
        }
        RunMode::Alone
    } else if let [statement] = &statements[..]
        && controls_transactions_inside(statement.sql)
    {
        // Prisma sends it alone, where a procedure or DO block may COMMIT.
        RunMode::Alone
    } else if has_transaction_control {
        RunMode::AsWritten
    } else {
        RunMode::InTransaction
    };
    Ok(RunPlan { mode, statements })
}

/// What a statement does to the transaction block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransactionControl {
    Open,
    Close,
}

fn keyword(words: &[&str], index: usize, expected: &str) -> bool {
    words
        .get(index)
        .is_some_and(|word| word.eq_ignore_ascii_case(expected))
}

/// `BEGIN`/`START TRANSACTION` open a transaction block; `COMMIT`, `END`, `ROLLBACK`,
/// `ABORT` and `PREPARE TRANSACTION` close it (`COMMIT PREPARED` and `ROLLBACK TO` do not).
pub(crate) fn transaction_control(words: &[&str]) -> Option<TransactionControl> {
    let is = |index: usize, expected: &str| keyword(words, index, expected);
    if is(0, "begin") || (is(0, "start") && is(1, "transaction")) {
        Some(TransactionControl::Open)
    } else if is(0, "end")
        || is(0, "abort")
        || (is(0, "prepare") && is(1, "transaction"))
        || (is(0, "commit") && !is(1, "prepared"))
        // ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name stays in the block.
        || (is(0, "rollback") && !is(1, "prepared") && !is(1, "to") && !is(2, "to"))
    {
        Some(TransactionControl::Close)
    } else {
        None
    }
}

/// Whether the statement commits the transaction block (`COMMIT`, `END`, `PREPARE
/// TRANSACTION`), so that what ran before it stays even if a later statement fails.
pub(crate) fn commits(words: &[&str]) -> bool {
    transaction_control(words) == Some(TransactionControl::Close)
        && !keyword(words, 0, "rollback")
        && !keyword(words, 0, "abort")
}

/// A `CALL` (a procedure may commit) or a `DO` block whose body commits or rolls back:
/// transaction control inside needs the statement to run outside a transaction block.
fn controls_transactions_inside(sql: &str) -> bool {
    let words = top_level_words(sql);
    if keyword(&words, 0, "call") {
        return true;
    }
    keyword(&words, 0, "do")
        && sql
            .split(|character: char| !(character.is_alphanumeric() || character == '_'))
            .any(|word| {
                word.eq_ignore_ascii_case("commit") || word.eq_ignore_ascii_case("rollback")
            })
}

fn is_copy_to_stdout(words: &[&str]) -> bool {
    keyword(words, 0, "copy")
        && words.windows(2).any(|pair| {
            pair[0].eq_ignore_ascii_case("to") && pair[1].eq_ignore_ascii_case("stdout")
        })
}

/// The statement's kind when PostgreSQL refuses to run it inside a transaction block
/// (`PreventInTransactionBlock` in the server's sources), e.g. `CREATE INDEX CONCURRENTLY`.
pub fn non_transactional_statement(words: &[&str]) -> Option<String> {
    let is = |index: usize, expected: &str| keyword(words, index, expected);
    let has = |expected: &str| words.iter().any(|word| word.eq_ignore_ascii_case(expected));
    let kind = if is(0, "create") && (is(1, "index") && is(2, "concurrently")) {
        "CREATE INDEX CONCURRENTLY"
    } else if is(0, "create") && is(1, "unique") && is(2, "index") && is(3, "concurrently") {
        "CREATE UNIQUE INDEX CONCURRENTLY"
    } else if is(0, "drop") && is(1, "index") && is(2, "concurrently") {
        "DROP INDEX CONCURRENTLY"
    } else if is(0, "reindex") && (has("concurrently") || is(1, "schema") || is(1, "database")) {
        "REINDEX"
    } else if is(0, "reindex") && is(1, "system") {
        "REINDEX SYSTEM"
    } else if is(0, "vacuum") {
        "VACUUM"
    } else if is(0, "alter") && is(1, "system") {
        "ALTER SYSTEM"
    } else if (is(0, "create") || is(0, "drop"))
        && (is(1, "database") || is(1, "tablespace") || is(1, "subscription"))
        || (is(0, "commit") || is(0, "rollback")) && is(1, "prepared")
    {
        // The first two words name it: CREATE DATABASE, DROP SUBSCRIPTION, COMMIT PREPARED.
        return Some(format!(
            "{} {}",
            words[0].to_ascii_uppercase(),
            words[1].to_ascii_uppercase()
        ));
    } else if is(0, "alter") && is(1, "database") && has("tablespace") && has("set") {
        "ALTER DATABASE ... SET TABLESPACE"
    } else if is(0, "alter") && is(1, "table") && has("detach") && has("concurrently") {
        "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"
    } else if is(0, "alter") && is(1, "subscription") && has("refresh") {
        "ALTER SUBSCRIPTION ... REFRESH PUBLICATION"
    } else if is(0, "discard") && is(1, "all") {
        "DISCARD ALL"
    } else if is(0, "cluster") && words.len() == 1 {
        "CLUSTER"
    } else {
        return None;
    };
    Some(kind.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(sql: &str) -> Migration {
        Migration {
            name: "0_test".into(),
            path: "migrations/0_test/migration.sql".into(),
            sql: sql.into(),
            checksum: String::new(),
            no_transaction: crate::folder::is_no_transaction(sql),
        }
    }

    fn mode(sql: &str) -> RunMode {
        run_plan(&migration(sql)).unwrap().mode
    }

    fn refusal(sql: &str) -> (usize, usize, UnrunnableReason) {
        let error = run_plan(&migration(sql)).unwrap_err();
        (error.line, error.column, error.reason)
    }

    #[test]
    fn lone_non_transactional_statements_run_alone() {
        for sql in [
            "CREATE INDEX CONCURRENTLY \"Post_title_idx\" ON \"Post\"(\"title\");",
            "-- An index\ncreate unique index concurrently if not exists i on t (a);\n",
            "DROP INDEX CONCURRENTLY IF EXISTS \"i\";",
            "REINDEX INDEX CONCURRENTLY i;",
            "REINDEX (VERBOSE) TABLE CONCURRENTLY t",
            "REINDEX DATABASE app;",
            "VACUUM (ANALYZE) \"Post\";",
            "ALTER SYSTEM SET work_mem = '64MB';",
            "CREATE DATABASE other;",
            "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;",
            "CLUSTER;",
            "DISCARD ALL;",
            "CALL archive_old_posts();",
            "DO $$ BEGIN UPDATE t SET a = 1; COMMIT; END $$;",
        ] {
            assert_eq!(mode(sql), RunMode::Alone, "{sql}");
        }
    }

    #[test]
    fn ordinary_files_run_in_one_transaction() {
        for sql in [
            "CREATE TABLE t (id int);\nCREATE INDEX i ON t (id);",
            "CREATE INDEX \"concurrently\" ON t (a);",
            "REINDEX INDEX i;",
            "CLUSTER t USING i;",
            "ALTER TYPE \"Role\" ADD VALUE 'ADMIN';",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;",
            "ROLLBACK TO SAVEPOINT a;",
            "DO $$ BEGIN CREATE TYPE e AS ENUM ('a'); EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
            "CALL p();\nSELECT 1;",
            "",
        ] {
            assert_eq!(mode(sql), RunMode::InTransaction, "{sql}");
        }
    }

    #[test]
    fn files_with_their_own_transactions_run_as_written() {
        let enum_change = "-- AlterEnum\nBEGIN;\nCREATE TYPE \"Role_new\" AS ENUM ('USER', 'ADMIN');\n\
            ALTER TABLE \"User\" ALTER COLUMN \"role\" TYPE \"Role_new\" USING (\"role\"::text::\"Role_new\");\n\
            ALTER TYPE \"Role\" RENAME TO \"Role_old\";\nALTER TYPE \"Role_new\" RENAME TO \"Role\";\n\
            DROP TYPE \"Role_old\";\nCOMMIT;\n";
        assert_eq!(mode(enum_change), RunMode::AsWritten);
        assert_eq!(
            mode("ALTER TYPE e ADD VALUE 'b';\nCOMMIT;\nUPDATE t SET e = 'b';"),
            RunMode::AsWritten
        );
        assert_eq!(
            mode("START TRANSACTION; SELECT 1; END;"),
            RunMode::AsWritten
        );
    }

    #[test]
    fn the_marker_runs_statement_by_statement_whatever_the_statements() {
        assert_eq!(
            mode(
                "-- nelo:no-transaction\nCREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY i ON t (a);"
            ),
            RunMode::StatementByStatement
        );
    }

    #[test]
    fn a_non_transactional_statement_among_others_is_refused_at_its_line() {
        let (line, column, reason) =
            refusal("CREATE TABLE t (a int);\n\n  CREATE INDEX CONCURRENTLY i ON t (a);\n");
        assert_eq!((line, column), (3, 3));
        assert_eq!(
            reason,
            UnrunnableReason::NonTransactionalAmongOthers {
                statement: "CREATE INDEX CONCURRENTLY".into()
            }
        );
        let (line, _, _) = refusal("BEGIN;\nVACUUM t;\nCOMMIT;");
        assert_eq!(line, 2);
    }

    #[test]
    fn an_unclosed_begin_is_refused() {
        let (line, _, reason) = refusal("SELECT 1;\nBEGIN;\nCREATE TABLE t (a int);\n");
        assert_eq!(line, 2);
        assert_eq!(reason, UnrunnableReason::UnclosedTransaction);
    }

    #[test]
    fn copy_problems_are_refused_at_the_copy() {
        let (line, _, reason) = refusal("SELECT 1;\nCOPY t (a) FROM stdin;\n1\n2\n");
        assert_eq!((line, reason), (2, UnrunnableReason::UnterminatedCopyData));
        let (line, _, reason) = refusal("COPY (SELECT 1) TO STDOUT;");
        assert_eq!((line, reason), (1, UnrunnableReason::CopyToStdout));
        let (_, _, reason) = refusal("COPY t FROM stdin; SELECT 1\n1\n\\.\n");
        assert_eq!(reason, UnrunnableReason::TextAfterCopy);
        let with_rows = migration("COPY t (a) FROM stdin;\n1\n\\.\nSELECT 1;");
        let plan = run_plan(&with_rows).unwrap();
        assert_eq!(plan.mode, RunMode::InTransaction);
        assert!(plan.statements[0].copy_data.is_some());
    }

    #[test]
    fn a_nul_character_is_refused_at_its_line() {
        let (line, column, reason) = refusal("SELECT 1;\nSELECT '\0';");
        assert_eq!(
            (line, column, reason),
            (2, 9, UnrunnableReason::NulCharacter)
        );
    }

    #[test]
    fn refusals_say_where_and_what_to_do() {
        let error = run_plan(&migration("SELECT 1;\nVACUUM;")).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("migrations/0_test/migration.sql:2:1"),
            "{text}"
        );
        assert!(text.contains("`VACUUM`"), "{text}");
        assert!(text.contains("-- nelo:no-transaction"), "{text}");
    }
}
