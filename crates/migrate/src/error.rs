//! The library's error type: every variant carries what a caller branches on.
//!
//! Messages state facts (what failed, where, why); they name no command or flag of any front
//! end. Each binary adds its own next step (`nelo-migrate`'s `cli::advice`, xtask's
//! `db::migrate` hints), since `resolve --applied NAME` is spelt differently in each.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Everything that can go wrong in `nelo_migrate`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("migrations folder `{}` does not exist", path.display())]
    FolderMissing { path: PathBuf },

    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{}` does not fit the migrations layout: {reason}", path.display())]
    Layout { path: PathBuf, reason: String },

    /// A line that looks like the `-- nelo:no-transaction` marker where it is not read as one:
    /// below the first line, or written differently (case, spacing). Silently running the
    /// migration in a transaction would not be what its author meant.
    #[error(
        "`{}:{line}`: `{text}` looks like the marker `-- nelo:no-transaction`, which counts only \
         as the file's first line, written exactly so; move it there to run the migration \
         statement by statement outside a transaction, or remove it",
        path.display()
    )]
    MisplacedMarker {
        path: PathBuf,
        /// 1-based.
        line: usize,
        text: String,
    },

    #[error("`{}` sets provider `{provider}`, but only `postgresql` is supported (Prisma's P3019)", path.display())]
    Provider { path: PathBuf, provider: String },

    #[error(transparent)]
    InvalidUrl(#[from] crate::UrlError),

    #[error("password authentication failed for user `{user}` at {target}")]
    AuthenticationFailed { user: String, target: String },

    #[error("database `{database}` does not exist on {server}")]
    DatabaseMissing { database: String, server: String },

    #[error("cannot connect to {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("cannot connect to {url} within {:.1} s (last error: {last_error}); is the server running?", waited.as_secs_f32())]
    ConnectTimeout {
        url: String,
        waited: Duration,
        last_error: String,
    },

    #[error("the migration lock (advisory lock {key}) is still held after {:.1} s{}; another deploy is running", waited.as_secs_f32(), holder_text(holder))]
    LockTimeout {
        key: i64,
        waited: Duration,
        holder: Option<LockHolder>,
    },

    /// Every attempt of a migration timed out waiting for a table lock until the retry
    /// budget was spent (see `crate::lock_retry`). Each attempt was rolled back: nothing of
    /// the migration is applied or recorded, no INVALID index is left, and running deploy
    /// again later is safe. Transient: worth retrying (the CLI exits 75, EX_TEMPFAIL).
    #[error(
        "migration `{migration}` was not applied: for {:.0} s every attempt waited {} ms for a table lock and timed out ({attempts} attempts){}; nothing of it was applied or recorded, so running deploy again once the lock is free is safe",
        budget.as_secs_f32(),
        lock_timeout.as_millis(),
        lock.as_ref().map(|lock| format!("; it waited for {lock}")).unwrap_or_default()
    )]
    LockRetryBudgetSpent {
        /// The migration (or `push`).
        migration: String,
        budget: Duration,
        /// Each attempt's `lock_timeout`.
        lock_timeout: Duration,
        attempts: u32,
        /// The last lock waited for and its blocker, when seen.
        lock: Option<Box<crate::lock_retry::LockWaitInfo>>,
    },

    #[error(
        "migration `{name}` failed in an earlier deploy and blocks new ones until it is resolved: fix the database, then mark it rolled back to run it again, or applied if you completed it by hand (Prisma's P3009)"
    )]
    FailedMigrationFound { name: String },

    #[error(
        "no schema to create `_prisma_migrations` in: the search_path names no existing schema; create the schema, or name it with `?schema=` in DATABASE_URL (deploy creates that one)"
    )]
    NoSchema,

    #[error("{0}")]
    MigrationFailed(Box<MigrationFailure>),

    /// Found before anything ran: nothing was applied.
    #[error("{0}; nothing was applied")]
    Unrunnable(Box<crate::run_mode::Unrunnable>),

    #[error("{0}")]
    ConnectionLost(Box<ConnectionLoss>),

    #[error(
        "{what} cannot be kept under the migration lock through a transaction-mode pooler (`pgbouncer=true` in the URL): {why}; nothing was applied. Run it through a direct connection to the server (as Prisma's `directUrl`)"
    )]
    NeedsDirectConnection { what: String, why: String },

    /// Found before anything ran: nothing was applied.
    #[error("{0}")]
    LintRefused(Box<crate::lint::LintRefusal>),

    #[error("database query failed while {action}")]
    Database {
        action: &'static str,
        #[source]
        source: sqlx::Error,
    },

    #[error(
        "schema `{schema}` already holds {} but has no `_prisma_migrations`, so deploy cannot tell which migrations it reflects (Prisma's P3005); to adopt it, mark as applied each migration it already has{} (baselining), then deploy; or deploy into an empty database",
        objects_text(objects),
        first_migration.as_ref().map(|name| format!(" (the first is `{name}`)")).unwrap_or_default()
    )]
    SchemaNotEmpty {
        schema: String,
        /// A few of its tables, views and enums, e.g. `table "User"`.
        objects: Vec<String>,
        /// The first migration of the folder, the usual baseline.
        first_migration: Option<String>,
    },

    #[error(
        "no migration named `{name}` in the migrations folder; {}",
        choices_text(choices)
    )]
    UnknownMigration { name: String, choices: Vec<String> },

    #[error(
        "migration `{name}` is {state}, so it cannot be {wanted}; {}",
        choices_text(choices)
    )]
    WrongState {
        name: String,
        state: crate::State,
        wanted: &'static str,
        choices: Vec<String>,
    },

    #[error(
        "invalid migration name `{name}`: after normalisation it must match [a-z0-9_]+ (got `{normalized}`)"
    )]
    InvalidName { name: String, normalized: String },

    #[error("a migration with timestamp {timestamp} already exists: `{}`; wait a second and retry", path.display())]
    TimestampTaken { timestamp: String, path: PathBuf },

    #[error("no seed command is configured")]
    SeedNotConfigured,

    #[error("cannot start seed command `{command}`")]
    SeedSpawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error("seed command `{command}` exited with {status}{}", stderr_text(stderr))]
    SeedFailed {
        command: String,
        status: String,
        stderr: String,
    },

    /// A schema diff could not be made or verified.
    #[error(transparent)]
    Diff(Box<crate::diff::DiffError>),

    #[error("cannot build the template database `{template}` from `{}`; nothing was kept", folder.display())]
    TemplateDeploy {
        template: String,
        folder: PathBuf,
        #[source]
        source: Box<Error>,
    },
}

/// The backend holding the migration lock, as `pg_stat_activity` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockHolder {
    pub pid: i32,
    pub application_name: String,
    pub client: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

/// A migration whose SQL failed: where, and what the server said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationFailure {
    pub migration: String,
    pub path: PathBuf,
    /// 1-based line and column in `migration.sql`, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// 1-based statement number for `-- nelo:no-transaction` migrations.
    pub step: Option<usize>,
    /// The first line of the failing statement, when it is known.
    pub statement: Option<String>,
    /// For a migration with its own `COMMIT`s: the line of the last one that ran before the
    /// failure; what ran up to it stays applied.
    pub committed_through_line: Option<usize>,
    pub sqlstate: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl std::fmt::Display for MigrationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "migration `{}` failed at {}",
            self.migration,
            self.path.display()
        )?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(step) = self.step {
            write!(f, " (statement {step})")?;
        }
        match &self.sqlstate {
            Some(code) => write!(f, ": {} (SQLSTATE {code})", self.message)?,
            None => write!(f, ": {}", self.message)?,
        }
        if let Some(statement) = &self.statement {
            write!(f, "\nstatement: {statement}")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, "\ndetail: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        if let Some(line) = self.committed_through_line {
            write!(
                f,
                "\nnote: the migration's own COMMIT at line {line} ran before the failure, so what ran up to it stays applied; the rest was rolled back"
            )?;
        }
        Ok(())
    }
}

/// The connection broke, or the server answered outside the protocol, during a migration.
/// The session is then abandoned: the server rolls back its open transaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionLoss {
    pub migration: String,
    /// Whether the migration ran in one transaction (so nothing of it is applied).
    pub atomic: bool,
    /// What the driver said.
    pub message: String,
}

impl std::fmt::Display for ConnectionLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the connection to the server was lost while applying migration `{}` ({}); ",
            self.migration, self.message
        )?;
        if self.atomic {
            f.write_str("its transaction ends with the connection, so nothing of it is applied and running deploy again is safe")
        } else {
            f.write_str("it runs outside a single transaction, so part of it may be applied; check the database before running deploy again")
        }
    }
}

fn objects_text(objects: &[String]) -> String {
    match objects {
        [] => "objects".to_string(),
        [first, second, third, _, ..] => format!("{first}, {second}, {third} and more"),
        _ => objects.join(", "),
    }
}

fn holder_text(holder: &Option<LockHolder>) -> String {
    match holder {
        None => String::new(),
        Some(holder) => {
            let mut text = format!(" by backend pid {}", holder.pid);
            if !holder.application_name.is_empty() {
                text += &format!(" (`{}`", holder.application_name);
            } else {
                text += " (no application_name";
            }
            if let Some(client) = &holder.client {
                text += &format!(" from {client}");
            }
            if let Some(since) = holder.since {
                text += &format!(
                    ", connected since {}",
                    since.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            text + ")"
        }
    }
}

fn choices_text(choices: &[String]) -> String {
    if choices.is_empty() {
        "there is no migration in a state that allows it".to_string()
    } else {
        format!("valid choices: {}", choices.join(", "))
    }
}

fn stderr_text(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!(":\n{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_objects_are_named_and_a_fourth_means_more() {
        let objects =
            |names: &[&str]| objects_text(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert_eq!(objects(&["table a", "enum b"]), "table a, enum b");
        assert_eq!(
            objects(&["table a", "table b", "view c", "enum d"]),
            "table a, table b, view c and more"
        );
    }

    #[test]
    fn failure_names_file_line_column_and_sqlstate() {
        let failure = MigrationFailure {
            migration: "20250101000000_init".into(),
            path: PathBuf::from("migrations/20250101000000_init/migration.sql"),
            line: Some(3),
            column: Some(8),
            step: None,
            statement: Some("SELECT * FROM nope".into()),
            committed_through_line: None,
            sqlstate: Some("42P01".into()),
            message: "relation \"nope\" does not exist".into(),
            detail: None,
            hint: Some("create it first".into()),
        };
        let text = failure.to_string();
        assert!(
            text.contains("20250101000000_init/migration.sql:3:8"),
            "{text}"
        );
        assert!(text.contains("SQLSTATE 42P01"), "{text}");
        assert!(text.contains("hint: create it first"), "{text}");
        assert!(text.contains("\nstatement: SELECT * FROM nope"), "{text}");
    }

    #[test]
    fn lock_timeout_names_holder() {
        let error = Error::LockTimeout {
            key: 72707369,
            waited: Duration::from_secs(2),
            holder: Some(LockHolder {
                pid: 42,
                application_name: "prisma".into(),
                client: None,
                since: None,
            }),
        };
        let text = error.to_string();
        assert!(text.contains("pid 42"), "{text}");
        assert!(text.contains("`prisma`"), "{text}");
    }
}
