//! `diff`: the difference between two database schemas, and the SQL that turns one into the
//! other. Each side is materialised in a real database (a shadow, or the live one) and read
//! with one introspector over `pg_catalog` ([`catalog`]); the comparison ([`compare`]) and
//! the planner ([`plan`]) are pure. Every plan is applied to a shadow holding the `from` side
//! and compared with the `to` side again before it is returned.

pub mod catalog;
pub mod compare;
pub mod model;
pub mod plan;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::Connection;

use crate::shadow::{Shadow, ShadowServer};
use crate::split::split_statements;
use crate::store::run_script;
use crate::{Error, Migrator, connect, redact_url};
pub use compare::{Change, Difference, NotCompared, Object, PossibleRename};
pub use model::SchemaModel;
pub use plan::{Plan, Step};

/// One side of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A new database on the shadow server, as it comes.
    Empty,
    /// A migrations folder, deployed into a shadow with nelo's own deploy.
    Migrations(PathBuf),
    /// A live database, read only.
    Url(String),
    /// A SQL file, or a folder of `.sql` files applied in name order, in one transaction.
    Schema(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Empty => write!(formatter, "an empty database"),
            Source::Migrations(dir) => write!(formatter, "migrations `{}`", dir.display()),
            Source::Url(url) => write!(formatter, "database {}", redact_url(url)),
            Source::Schema(path) => write!(formatter, "schema `{}`", path.display()),
        }
    }
}

/// What went wrong in a diff.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    #[error(
        "role `{role}` cannot create shadow databases on {server}; grant it CREATEDB (`ALTER ROLE \"{role}\" CREATEDB`) or pass --shadow-database-url with a server and role that can create databases"
    )]
    ShadowNotPermitted { role: String, server: String },

    #[error(
        "no server for shadow databases: pass --shadow-database-url URL (any database on the server), or set DATABASE_URL"
    )]
    NoShadowServer,

    #[error("`{}` holds no `.sql` file; write the schema into `schema.sql` there", path.display())]
    EmptySchemaFolder { path: PathBuf },

    #[error("{}:{line}:{column}: {message}; nothing of the schema was kept", path.display())]
    SchemaFile {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("cannot build the `{side}` side ({source_text}) in a shadow database")]
    Materialise {
        side: &'static str,
        source_text: String,
        #[source]
        source: Box<Error>,
    },

    #[error(
        "the generated script fails on a shadow database holding the `from` side: {message}; nothing was written\n{script}"
    )]
    ScriptFailed { message: String, script: String },

    #[error(
        "the generated script does not reach the `to` side: after applying it to a shadow database, {} difference(s) remain; nothing was written:\n  {}\n{script}",
        remaining.len(),
        remaining.join("\n  ")
    )]
    Unverified {
        remaining: Vec<String>,
        script: String,
    },
}

impl From<DiffError> for Error {
    fn from(error: DiffError) -> Self {
        Error::Diff(Box::new(error))
    }
}

/// How to diff.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// A URL of any database on the server where shadows are created; by default the server
    /// of the `--from-url` or `--to-url` side.
    pub shadow_server_url: Option<String>,
    pub connect_timeout: Duration,
}

/// The outcome: what differs, the verified script, and what was not compared.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SchemaDiff {
    pub differences: Vec<Difference>,
    pub possible_renames: Vec<PossibleRename>,
    /// Objects of kinds nelo does not compare, on either side.
    pub not_compared: Vec<NotCompared>,
    /// Informational notes (extension versions).
    pub notes: Vec<String>,
    pub plan: Plan,
}

impl SchemaDiff {
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }

    /// The SQL script, with a comment listing what was not compared.
    pub fn script(&self) -> String {
        let mut script = String::new();
        if !self.not_compared.is_empty() {
            script.push_str(
                "-- Not compared (nelo does not diff these kinds; check them by hand):\n",
            );
            for object in &self.not_compared {
                script.push_str(&format!(
                    "--   {} {} ({})\n",
                    object.kind,
                    object.identity,
                    side_text(object.side)
                ));
            }
            script.push('\n');
        }
        script.push_str(&self.plan.script());
        script
    }
}

/// Which side has a not-compared object, in words.
pub fn side_text(side: &str) -> &'static str {
    match side {
        "from" => "only in `from`",
        "to" => "only in `to`",
        _ => "on both sides",
    }
}

/// The target schema: unqualified names in the script live there.
fn target_schema(from: &Source, to: &Source, options: &DiffOptions) -> String {
    [to, from]
        .into_iter()
        .find_map(|source| match source {
            Source::Url(url) => connect::url_schema(url),
            _ => None,
        })
        .or_else(|| {
            options
                .shadow_server_url
                .as_deref()
                .and_then(connect::url_schema)
        })
        .unwrap_or_else(|| "public".to_string())
}

/// Compares `from` with `to` and plans the change, verified on a shadow.
pub async fn diff(from: &Source, to: &Source, options: &DiffOptions) -> Result<SchemaDiff, Error> {
    let server_url = options
        .shadow_server_url
        .clone()
        .or_else(|| {
            [to, from].into_iter().find_map(|source| match source {
                Source::Url(url) => Some(url.clone()),
                _ => None,
            })
        })
        .ok_or(DiffError::NoShadowServer)?;
    let server = ShadowServer::new(&server_url, options.connect_timeout);
    server.sweep().await?;
    let search_path = target_schema(from, to, options);
    let context = Context {
        server,
        search_path,
        connect_timeout: options.connect_timeout,
    };
    let from_model = context.model(from, "from").await?;
    let to_model = context.model(to, "to").await?;
    let differences = compare::compare(&from_model, &to_model);
    let possible_renames = compare::possible_renames(&differences, &from_model, &to_model);
    let plan = plan::plan(&from_model, &to_model, &differences, &possible_renames);
    let result = SchemaDiff {
        not_compared: compare::not_compared(&from_model, &to_model),
        notes: compare::extension_notes(&from_model, &to_model),
        differences,
        possible_renames,
        plan,
    };
    if !result.is_empty() {
        context
            .verify(from, &from_model, &to_model, &result.plan.script())
            .await?;
    }
    Ok(result)
}

struct Context {
    server: ShadowServer,
    search_path: String,
    connect_timeout: Duration,
}

impl Context {
    /// The model of `source`.
    async fn model(&self, source: &Source, side: &'static str) -> Result<SchemaModel, Error> {
        if let Source::Url(url) = source {
            return self.introspect(url).await;
        }
        let shadow = self.server.create(side).await?;
        let outcome = self.build_and_read(&shadow, source, side).await;
        let removed = shadow.remove().await;
        let model = outcome?;
        removed?;
        Ok(model)
    }

    async fn build_and_read(
        &self,
        shadow: &Shadow,
        source: &Source,
        side: &'static str,
    ) -> Result<SchemaModel, Error> {
        self.materialise(shadow, source)
            .await
            .map_err(|error| DiffError::Materialise {
                side,
                source_text: source.to_string(),
                source: Box::new(error),
            })?;
        self.introspect(&shadow.url).await
    }

    async fn introspect(&self, url: &str) -> Result<SchemaModel, Error> {
        let mut conn = connect::connect(url, self.connect_timeout).await?;
        let model = catalog::introspect(&mut conn, &self.search_path).await;
        let _ = conn.close().await;
        model
    }

    /// Puts `source` into the empty database `shadow`.
    async fn materialise(&self, shadow: &Shadow, source: &Source) -> Result<(), Error> {
        match source {
            Source::Empty | Source::Url(_) => Ok(()),
            Source::Migrations(dir) => Migrator::new(dir)
                .connect_timeout(self.connect_timeout)
                .deploy(&self.shadow_url(shadow)?, |_| {})
                .await
                .map(drop),
            Source::Schema(path) => {
                let files = schema_files(path)?;
                let mut conn = connect::connect(&shadow.url, self.connect_timeout).await?;
                let outcome = apply_schema(&mut conn, &files).await;
                let _ = conn.close().await;
                outcome
            }
        }
    }

    /// The shadow's URL with the target schema as `?schema=` (deploy creates it).
    fn shadow_url(&self, shadow: &Shadow) -> Result<String, Error> {
        let mut url = url::Url::parse(&shadow.url).map_err(|error| Error::InvalidUrl {
            url: redact_url(&shadow.url),
            reason: error.to_string(),
        })?;
        if self.search_path != "public" && connect::url_schema(&shadow.url).is_none() {
            url.query_pairs_mut()
                .append_pair("schema", &self.search_path);
        }
        Ok(url.to_string())
    }

    /// Applies `script` to a shadow holding `from`, and compares the result with `to`.
    async fn verify(
        &self,
        from: &Source,
        from_model: &SchemaModel,
        to_model: &SchemaModel,
        script: &str,
    ) -> Result<(), Error> {
        let shadow = self.server.create("verify").await?;
        let outcome = self
            .verify_in(&shadow, from, from_model, to_model, script)
            .await;
        let removed = shadow.remove().await;
        outcome?;
        removed
    }

    async fn verify_in(
        &self,
        shadow: &Shadow,
        from: &Source,
        from_model: &SchemaModel,
        to_model: &SchemaModel,
        script: &str,
    ) -> Result<(), Error> {
        if let Source::Url(_) = from {
            // A live database cannot be copied: rebuild it from an empty one with the planner's
            // own script, checked the same way.
            let empty = self.introspect(&shadow.url).await?;
            let differences = compare::compare(&empty, from_model);
            let renames = compare::possible_renames(&differences, &empty, from_model);
            let base = plan::plan(&empty, from_model, &differences, &renames).script();
            self.apply_and_compare(shadow, from_model, &base).await?;
        } else {
            self.materialise(shadow, from)
                .await
                .map_err(|error| DiffError::Materialise {
                    side: "from",
                    source_text: from.to_string(),
                    source: Box::new(error),
                })?;
        }
        self.apply_and_compare(shadow, to_model, script).await
    }

    async fn apply_and_compare(
        &self,
        shadow: &Shadow,
        expected: &SchemaModel,
        script: &str,
    ) -> Result<(), Error> {
        let mut conn = connect::connect(&shadow.url, self.connect_timeout).await?;
        let applied = run_script(&mut conn, &format!("BEGIN;\n{script}\nCOMMIT;")).await;
        if let Err(error) = applied {
            let _ = run_script(&mut conn, "ROLLBACK").await;
            let _ = conn.close().await;
            return Err(DiffError::ScriptFailed {
                message: error.to_string(),
                script: script.to_string(),
            }
            .into());
        }
        let _ = conn.close().await;
        let reached = self.introspect(&shadow.url).await?;
        let remaining: Vec<String> = compare::compare(&reached, expected)
            .iter()
            .map(ToString::to_string)
            .collect();
        if remaining.is_empty() {
            Ok(())
        } else {
            Err(DiffError::Unverified {
                remaining,
                script: script.to_string(),
            }
            .into())
        }
    }
}

/// The schema's files: `path` itself, or the `.sql` files of the folder in name order.
fn schema_files(path: &Path) -> Result<Vec<(PathBuf, String)>, Error> {
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
async fn apply_schema(
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
