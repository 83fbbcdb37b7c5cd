//! The one script that applies a transactional migration together with its history row.

use sqlx::postgres::PgConnection;

use super::history::{HistoryTable, create_table_sql};
use super::{quote_literal, run_script};
use crate::folder::Migration;

/// A script sent to the server, and how many characters precede the migration's SQL in it
/// (server error positions are offsets into the whole script).
#[derive(Debug)]
pub struct Script {
    pub text: String,
    pub prefix_chars: usize,
}

/// The one script that applies a transactional migration: BEGIN, the history table when
/// it does not exist yet, the migration, RESET ALL, its history row, COMMIT; so a migration costs one
/// round trip. The row's values are a generated UUID, a hex checksum and a folder name
/// already restricted to `[A-Za-z0-9_-]`, quoted anyway.
pub fn transactional_script(
    migration: &Migration,
    id: &str,
    table: &HistoryTable,
    create_table: bool,
) -> Script {
    let sql = migration.sql_to_send();
    let mut text = String::with_capacity(sql.len() + 800);
    text.push_str("BEGIN;\n");
    if create_table {
        text.push_str(&create_table_sql(table));
        text.push('\n');
    }
    let prefix_chars = text.chars().count();
    text.push_str(sql);
    // RESET ALL: session settings a migration made (pg_dump output empties `search_path`)
    // end with it instead of leaking into the next one.
    text.push_str(&format!(
        "\n;\nRESET ALL;\nINSERT INTO {} (\"id\", \"checksum\", \"migration_name\", \"started_at\", \"finished_at\", \
         \"applied_steps_count\") VALUES ({}, {}, {}, now(), clock_timestamp(), 1);\nCOMMIT;",
        table.name(),
        quote_literal(id),
        quote_literal(&migration.checksum),
        quote_literal(&migration.name),
    ));
    Script { text, prefix_chars }
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
    table: &HistoryTable,
    create_table: bool,
) -> Result<(), ScriptError> {
    let id = uuid::Uuid::new_v4().to_string();
    let script = transactional_script(migration, &id, table, create_table);
    match run_script(conn, &script.text).await {
        Ok(()) => Ok(()),
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
        let table = HistoryTable::in_schema("app");
        let script = transactional_script(&migration, "id-1", &table, false);
        assert_eq!(script.prefix_chars, "BEGIN;\n".len());
        let text = script.text;
        assert!(text.starts_with("BEGIN;\nCREATE TABLE a"), "{text}");
        assert!(
            text.contains(
                "-- trailing comment\n;\nRESET ALL;\nINSERT INTO \"app\".\"_prisma_migrations\""
            ),
            "{text}"
        );
        assert!(text.contains("'20250101000000_it''s'"), "{text}");
        assert!(text.ends_with("COMMIT;"));
        let with_table = transactional_script(&migration, "id-1", &table, true);
        assert!(
            with_table
                .text
                .contains("CREATE TABLE IF NOT EXISTS \"app\".\"_prisma_migrations\" (")
        );
        assert_eq!(
            &with_table.text[with_table.prefix_chars..][..14],
            "CREATE TABLE a"
        );
    }
}
