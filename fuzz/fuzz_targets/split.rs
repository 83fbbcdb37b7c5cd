//! The statement splitter and the run-mode decision on arbitrary text.
//!
//! Properties, beyond "does not panic":
//! - every statement's `offset..offset + sql.len()` is a char-boundary slice of the script equal
//!   to `sql`, and `sql` is not empty and has no white space at either end (but at the end of
//!   the script, where a quote that is never closed keeps what follows it);
//! - statements and their COPY data come in increasing, non-overlapping order, the data after
//!   its statement;
//! - `run_plan` keeps the splitter's statements, and a refusal points at the first character of
//!   one of them (line and column inside the file);
//! - when no statement has COPY data, splitting the statements joined with ";\n" gives back the
//!   same statements. This holds because a statement's text runs from its first token to the end
//!   of its last one, the splitter's state (quotes, comments, parentheses, routine bodies) starts
//!   afresh after every top-level `;`, and what lay between two statements (white space,
//!   comments, empty statements) is dropped either way. A statement cut short by the end of the
//!   script (an unterminated quote or comment) can only be the last one, so it stays last.
//!   It does not hold with COPY data: the rows are not part of any statement, so joining loses
//!   them and the `\.` that ends them.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use nelo_migrate::split::{Statement, split_statements, top_level_words};
use nelo_migrate::{
    Migration, NO_TRANSACTION_MARKER, UnrunnableReason, checksum, line_column, run_plan,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(script) = std::str::from_utf8(data) {
        check_split(script);
        check_run_plan(script);
    }
});

fn check_split(script: &str) {
    let statements = split_statements(script);
    let mut covered_up_to = 0;
    for statement in &statements {
        let end = statement.offset + statement.sql.len();
        assert_eq!(
            script.get(statement.offset..end),
            Some(statement.sql),
            "statement at {} is not the script's slice",
            statement.offset
        );
        assert!(!statement.sql.is_empty(), "empty statement");
        let is_space = |c: char| c.is_ascii_whitespace();
        assert_eq!(
            statement.sql.trim_start_matches(is_space),
            statement.sql,
            "statement with white space at its start"
        );
        // At the end of the script, a quote cut short keeps the white space it holds.
        if end < script.len() {
            assert_eq!(
                statement.sql.trim_end_matches(is_space),
                statement.sql,
                "statement with white space at its end"
            );
        }
        assert!(
            statement.offset >= covered_up_to,
            "statement at {} overlaps what came before (up to {covered_up_to})",
            statement.offset
        );
        covered_up_to = end;
        if let Some(data) = statement.copy_data {
            let data_end = data.offset + data.text.len();
            assert_eq!(script.get(data.offset..data_end), Some(data.text));
            assert!(
                data.offset >= covered_up_to,
                "copy data at {} starts inside its statement",
                data.offset
            );
            if !data.terminated {
                assert_eq!(data_end, script.len(), "unterminated data ends the script");
            }
            covered_up_to = data_end;
        }
        let _ = top_level_words(statement.sql);
    }
    if statements
        .iter()
        .all(|statement| statement.copy_data.is_none())
    {
        let joined = statements
            .iter()
            .map(|statement| statement.sql)
            .collect::<Vec<_>>()
            .join(";\n");
        let again = split_statements(&joined);
        let sqls = |statements: &[Statement]| {
            statements
                .iter()
                .map(|statement| statement.sql.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(sqls(&again), sqls(&statements), "joined: {joined:?}");
    }
}

fn check_run_plan(script: &str) {
    let without_bom = script.strip_prefix('\u{feff}').unwrap_or(script);
    let migration = Migration {
        name: "0_fuzz".into(),
        path: PathBuf::from("migrations/0_fuzz/migration.sql"),
        sql: script.to_string(),
        checksum: checksum(script.as_bytes()),
        no_transaction: without_bom.lines().next().map(str::trim_end)
            == Some(NO_TRANSACTION_MARKER),
    };
    let sql = migration.sql_to_send();
    let statements = split_statements(sql);
    match run_plan(&migration) {
        Ok(plan) => assert_eq!(plan.statements, statements),
        Err(unrunnable) => {
            let position = (unrunnable.line, unrunnable.column);
            // A NUL is pointed at itself: the first one, wherever it is.
            if matches!(unrunnable.reason, UnrunnableReason::NulCharacter) {
                let nul = sql.find('\0').expect("a NUL refusal has a NUL");
                let nul_position = line_column(sql, sql[..nul].chars().count() + 1);
                assert_eq!(Some(position), nul_position, "{unrunnable}");
                return;
            }
            let starts = statements
                .iter()
                .map(|statement| {
                    let position = sql[..statement.offset].chars().count() + 1;
                    line_column(sql, position).expect("a statement starts inside the file")
                })
                .collect::<Vec<_>>();
            assert!(
                starts.contains(&position),
                "refusal at {position:?} is not where a statement starts ({starts:?}): {unrunnable}"
            );
        }
    }
}
