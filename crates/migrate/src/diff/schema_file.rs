//! A declarative schema: a `.sql` file, or a folder of them applied in name order, run
//! statement by statement in one transaction so that an error can name file:line:column.

use std::path::{Path, PathBuf};

use super::DiffError;
use crate::Error;
use crate::split::split_statements;
use crate::store::run_script;

/// The schema's files: `path` itself, or the `.sql` files of the folder in name order.
pub(super) fn schema_files(path: &Path) -> Result<Vec<(PathBuf, String)>, Error> {
    let read = |file: &Path| {
        std::fs::read_to_string(file).map_err(|source| Error::Io {
            path: file.to_path_buf(),
            source,
        })
    };
    if !path.is_dir() {
        return Ok(vec![(path.to_path_buf(), read(path)?)]);
    }
    let entries = std::fs::read_dir(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|file| file.is_file() && file.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DiffError::EmptySchemaFolder {
            path: path.to_path_buf(),
        }
        .into());
    }
    files
        .into_iter()
        .map(|file| Ok((file.clone(), read(&file)?)))
        .collect()
}

/// Runs every statement of `files` in one transaction; a failure names file:line:column.
pub(super) async fn apply_schema(
    conn: &mut sqlx::postgres::PgConnection,
    files: &[(PathBuf, String)],
) -> Result<(), Error> {
    run_script(conn, "BEGIN")
        .await
        .map_err(|source| Error::Database {
            action: "starting the transaction that applies the schema",
            source,
        })?;
    for (path, text) in files {
        for statement in split_statements(text) {
            let (sql, offset, failure) = match without_dump_markers(statement.sql) {
                Err(meta) => (
                    statement.sql,
                    statement.offset,
                    Some((
                        0,
                        format!(
                            "psql meta-command `{meta}` has no place in a schema file (it is sent to the server as SQL); remove it"
                        ),
                    )),
                ),
                Ok(("", _)) => continue,
                Ok((sql, skipped)) => (sql, statement.offset + skipped, None),
            };
            let failure = if failure.is_some() {
                failure
            } else if statement.copy_data.is_some() {
                Some((
                    0,
                    "`COPY ... FROM STDIN` has no place in a schema file; load data elsewhere"
                        .to_string(),
                ))
            } else {
                run_script(conn, sql).await.err().map(|error| {
                    let position = error
                        .as_database_error()
                        .and_then(|database| {
                            database.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                        })
                        .and_then(|database| match database.position() {
                            Some(sqlx::postgres::PgErrorPosition::Original(position)) => {
                                Some(position)
                            }
                            _ => None,
                        })
                        .unwrap_or(1);
                    (position, error.to_string())
                })
            };
            if let Some((position, message)) = failure {
                let _ = run_script(conn, "ROLLBACK").await;
                let start = crate::position::char_count_before(text, offset);
                let (line, column) =
                    crate::line_column(text, start + position.max(1)).unwrap_or((1, 1));
                return Err(DiffError::SchemaFile {
                    path: path.clone(),
                    line,
                    column,
                    message,
                }
                .into());
            }
        }
    }
    run_script(conn, "COMMIT")
        .await
        .map_err(|source| Error::Database {
            action: "committing the schema",
            source,
        })
}

/// `sql` (one statement as split) without the `\restrict KEY` and `\unrestrict KEY` lines
/// that lead it: pg_dump (17.6, 16.10 and later) writes them around its output, psql's
/// guard against meta-commands in the dump, so `pg_dump --schema-only` output is a schema
/// file. Returns what is left (empty when nothing) and the bytes skipped; any other leading
/// meta-command line is `Err` with that line.
fn without_dump_markers(sql: &str) -> Result<(&str, usize), &str> {
    let mut rest = sql;
    while rest.starts_with('\\') {
        let end = rest.find('\n').unwrap_or(rest.len());
        let line = rest[..end].trim_end();
        let word = line.split_whitespace().next().unwrap_or_default();
        if !matches!(word, "\\restrict" | "\\unrestrict") {
            return Err(line);
        }
        rest = rest[end..].trim_start();
    }
    Ok((rest, sql.len() - rest.len()))
}

#[cfg(test)]
mod tests {
    use super::without_dump_markers;

    #[test]
    fn pg_dumps_restrict_lines_are_skipped_and_other_meta_commands_refused() {
        let sql = "\\restrict AbC123\nSET statement_timeout = 0";
        assert_eq!(
            without_dump_markers(sql),
            Ok(("SET statement_timeout = 0", 17))
        );
        assert_eq!(without_dump_markers("\\unrestrict AbC123"), Ok(("", 18)));
        assert_eq!(
            without_dump_markers("CREATE TABLE t ()"),
            Ok(("CREATE TABLE t ()", 0))
        );
        assert_eq!(
            without_dump_markers("\\connect other\nCREATE TABLE t ()"),
            Err("\\connect other")
        );
        assert_eq!(without_dump_markers("\\restrictx k"), Err("\\restrictx k"));
    }
}
