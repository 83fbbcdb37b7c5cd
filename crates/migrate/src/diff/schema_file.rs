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
            let failure = if statement.copy_data.is_some() {
                Some((
                    0,
                    "`COPY ... FROM STDIN` has no place in a schema file; load data elsewhere"
                        .to_string(),
                ))
            } else {
                run_script(conn, statement.sql).await.err().map(|error| {
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
                let start = crate::position::char_count_before(text, statement.offset);
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
