//! `diff`: the difference between two database schemas, and the SQL that turns one into the
//! other. Each side is materialised in a real database (a shadow, or the live one; a
//! migrations folder's shadow is a clone of its template, [`crate::template`]) and read
//! with one introspector over `pg_catalog` ([`catalog`]); the comparison ([`compare`]) and
//! the planner ([`plan`]) are pure. Every plan is applied to a shadow holding the `from` side
//! and compared with the `to` side again before it is returned.

pub mod catalog;
pub mod compare;
mod drift;
pub mod model;
pub mod plan;
mod push;
mod schema_file;
mod sides;
mod verify;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::database_url::url_schema;
use crate::shadow::ShadowServer;
use crate::{Error, redact_url};
pub use compare::{Change, Difference, NotCompared, Object, PossibleRename};
pub use drift::{Drift, drift};
pub use model::SchemaModel;
pub use plan::{AFTER_ENUM_VALUES_SUFFIX, ConcurrentIndex, Plan, PlanPart, Step};
pub use push::{PushOptions, Pushed, push, push_with_locks};
use sides::Context;

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
        "role `{role}` cannot create shadow databases on {server}: it needs CREATEDB (`ALTER ROLE \"{role}\" CREATEDB`), or the shadows go on another server with a role that can create databases"
    )]
    ShadowNotPermitted { role: String, server: String },

    #[error(
        "no server for shadow databases: neither a shadow database URL nor a database URL names one"
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
        "cannot check drift: {} applied migration(s) are missing from the folder ({}), so what they built cannot be replayed",
        missing.len(),
        missing.join(", ")
    )]
    DriftUnreplayable { missing: Vec<String> },

    #[error(
        "the change loses data, so nothing was applied:\n  {}",
        warnings.join("\n  ")
    )]
    DataLoss { warnings: Vec<String> },

    /// `push`'s second transaction failed (and was rolled back) after its first, which adds
    /// enum values the second uses, was committed: PostgreSQL accepts a new value only then.
    #[error(
        "applying the part of the change that uses the enum values it adds failed and was rolled back, but the part before it was committed first (PostgreSQL accepts a new enum value only once committed) and stays applied:\n{committed}"
    )]
    PushPartlyApplied {
        /// The script of the parts that committed before the failing one.
        committed: String,
        #[source]
        source: sqlx::Error,
    },

    /// Objects of kinds nelo does not model exist on one side only, or differ: whether the
    /// sides are the same cannot be told, so nothing was applied.
    #[error(
        "cannot tell whether {what} are the same: {} object(s) of kinds nelo does not compare exist on one side only or differ, so nothing was applied:\n  {}\nmake them the same by hand (nelo plans none of these kinds), then run again",
        objects.len(),
        objects.join("\n  ")
    )]
    CannotTell { what: String, objects: Vec<String> },

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

/// One migration of a change: what its name gets after the change's name, and its SQL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationScript {
    /// Empty for the first; `_after_enum_values`, or `_index_<name>` for a concurrent index.
    pub suffix: String,
    pub sql: String,
}

/// How to diff.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// A URL of any database on the server where shadows are created; by default the server
    /// of the `--from-url` or `--to-url` side.
    pub shadow_server_url: Option<String>,
    pub connect_timeout: Duration,
    /// Build new indexes on tables that already exist `CONCURRENTLY`, each in a migration
    /// of its own after the rest ([`Plan::concurrent`]): writes to a large table go on while
    /// its index builds.
    pub concurrent_indexes: bool,
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
    /// Why the script could not be verified, when it could not: only ever with objects that
    /// cannot be told ([`SchemaDiff::cannot_tell`]), which it may need (a table whose column
    /// is of a domain the script does not create). Without them, a failed verification is an
    /// error and no diff is returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
}

impl SchemaDiff {
    /// No difference in what nelo compares (objects of kinds it does not compare may still
    /// differ: [`SchemaDiff::cannot_tell`]).
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }

    /// The objects of kinds nelo does not compare that exist on one side only or differ:
    /// while there is one, the sides cannot be called the same.
    pub fn cannot_tell(&self) -> Vec<&NotCompared> {
        self.not_compared
            .iter()
            .filter(|object| object.cannot_tell())
            .collect()
    }

    /// The sides are the same: no difference, and nothing that cannot be told.
    pub fn is_in_sync(&self) -> bool {
        self.is_empty() && self.cannot_tell().is_empty()
    }

    /// The SQL script, with a comment listing what was not compared.
    pub fn script(&self) -> String {
        let mut script = self.not_compared_header();
        script.push_str(&self.plan.script());
        script
    }

    /// The script as migrations ([`Plan::parts`]): one; two when the change uses enum labels
    /// it adds; and one more per concurrent index. The first carries the not-compared
    /// comment.
    pub fn migration_scripts(&self) -> Vec<MigrationScript> {
        self.plan
            .parts()
            .into_iter()
            .enumerate()
            .map(|(index, part)| {
                let mut sql = if index == 0 {
                    self.not_compared_header()
                } else {
                    String::new()
                };
                sql.push_str(&part.plan.script());
                MigrationScript {
                    suffix: part.suffix,
                    sql,
                }
            })
            .collect()
    }

    fn not_compared_header(&self) -> String {
        let mut script = String::new();
        if let Some(reason) = &self.unverified {
            script.push_str("-- NOT VERIFIED: on a shadow database this script fails or falls short, as it\n-- lacks what nelo cannot diff (below):\n");
            for line in reason.lines().take(3) {
                script.push_str(&format!("--   {line}\n"));
            }
            script.push('\n');
        }
        let (differ, same): (Vec<&NotCompared>, Vec<&NotCompared>) = self
            .not_compared
            .iter()
            .partition(|object| object.cannot_tell());
        if !differ.is_empty() {
            script.push_str(
                "-- CANNOT TELL: these objects exist on one side only or differ, and nelo does not\n\
                 -- diff their kinds; this script leaves them as they are (write them by hand):\n",
            );
            for object in differ {
                script.push_str(&format!("--   {}\n", object.describe(side_text)));
            }
            script.push('\n');
        }
        if !same.is_empty() {
            script.push_str(
                "-- Not compared (nelo does not diff these kinds; the same on both sides):\n",
            );
            for object in same {
                script.push_str(&format!("--   {} {}\n", object.kind, object.identity));
            }
            script.push('\n');
        }
        script
    }
}

/// Which side has a not-compared object, in words.
pub fn side_text(side: &str) -> &'static str {
    match side {
        "from" => "only in `from`",
        "to" => "only in `to`",
        "changed" => "differs",
        _ => "on both sides",
    }
}

/// The target schema: unqualified names in the script live there.
fn target_schema(from: &Source, to: &Source, options: &DiffOptions) -> String {
    [to, from]
        .into_iter()
        .find_map(|source| match source {
            Source::Url(url) => url_schema(url),
            _ => None,
        })
        .or_else(|| options.shadow_server_url.as_deref().and_then(url_schema))
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
    let search_path = target_schema(from, to, options);
    let server = ShadowServer::new(&server_url, &search_path, options.connect_timeout)?;
    server.sweep().await?;
    let scope = [to, from].into_iter().find_map(|source| match source {
        Source::Url(url) => url_schema(url),
        _ => None,
    });
    let context = Context {
        server,
        search_path,
        scope,
        connect_timeout: options.connect_timeout,
    };
    let from_model = context.model(from, "from").await?;
    let to_model = context.model(to, "to").await?;
    let differences = compare::compare(&from_model, &to_model);
    let possible_renames = compare::possible_renames(&differences, &from_model, &to_model);
    let plan = plan::plan_with(
        &from_model,
        &to_model,
        &differences,
        &possible_renames,
        options.concurrent_indexes,
    );
    let mut result = SchemaDiff {
        not_compared: compare::not_compared(&from_model, &to_model),
        notes: compare::extension_notes(&from_model, &to_model),
        differences,
        possible_renames,
        plan,
        unverified: None,
    };
    if !result.is_empty() {
        let verified = context
            .verify(from, &from_model, &to_model, &result.plan)
            .await;
        match verified {
            Ok(()) => {}
            // The script cannot hold what nelo does not model: said, not hidden.
            Err(error) if !result.cannot_tell().is_empty() => {
                result.unverified = Some(error.to_string());
            }
            Err(error) => return Err(error),
        }
    }
    Ok(result)
}
