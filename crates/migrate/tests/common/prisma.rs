//! Prisma Migrate on PostgreSQL, emulated: `migrate deploy`, `migrate resolve --rolled-back`
//! and `migrate resolve --applied`, doing exactly the reads and writes Prisma does, so that
//! tests can hand a database from Prisma to nelo-migrate and back without Node.
//!
//! Sources (prisma/prisma-engines unless noted):
//! - listing (prisma/prisma `packages/migrate/src/utils/listMigrations.ts`; before 6.6,
//!   `schema-engine/connectors/schema-connector/src/migrations_directory.rs`): every entry of
//!   the folder that is a directory (`Dirent::isDirectory`, so not a symlink) is a migration,
//!   named by its directory name verbatim; plain files are ignored. The Rust listing sorted
//!   names with `str::cmp` (byte order), which this emulator does; the TypeScript one since 6.6
//!   sorts with `localeCompare` (ICU), which differs where punctuation meets digits
//!   (`0_init` before `01_init`). A directory's `migration.sql` is read when the migration is
//!   about to be applied; if it cannot be, deploy stops there with P3015, after applying the
//!   migrations before it.
//! - checksum (`schema-connector/src/checksum.rs`): lowercase hex SHA-256 of the script.
//! - deploy (`schema-engine/core/src/commands/apply_migrations.rs`): the provider in
//!   `migration_lock.toml` must be `postgresql` (P3019); take the lock; create the history
//!   table unless it exists, refusing (P3005) when the schema already holds tables; refuse
//!   (P3009) while any row has neither `finished_at` nor `rolled_back_at`; apply, in order,
//!   every migration with no row of its name that is not rolled back.
//! - the lock (`sql-schema-connector/src/flavour/postgres.rs`, `acquire_lock`):
//!   `SELECT pg_advisory_lock(72707369)` with a 10 s timeout, never unlocked: it goes with the
//!   connection. Every step of a deploy runs on that one connection, so what a script leaves
//!   in the session (`SET ROLE`, `search_path`, temporary tables) holds for the history writes
//!   and the scripts after it.
//! - the history table DDL (`flavour/postgres.rs`, `create_migrations_table`), created and
//!   written unqualified, so found through the session's `search_path`.
//! - a script (`flavour/postgres/connection.rs`, `apply_migration_script`): sent whole as one
//!   simple query (tokio-postgres `simple_query`; here sqlx `raw_sql`), with no BEGIN of its
//!   own: the server runs a multi-statement query as one implicit transaction, which the
//!   script's own BEGIN/COMMIT take over, and a lone statement outside any transaction block.
//! - the history rows (`sql-schema-connector/src/sql_migration_persistence.rs`):
//!   `record_migration_started` inserts `id` (a UUID v4), `checksum`, `started_at` (the
//!   client's clock) and `migration_name` (`applied_steps_count` 0, `logs` NULL); on success
//!   `record_successful_step` adds 1 to `applied_steps_count`, then `record_migration_finished`
//!   sets `finished_at`; on failure `record_failed_step` sets `logs` to the P3018 error text
//!   and nothing else, and deploy stops.
//! - the connection (quaint `src/connector/postgres/native/mod.rs` and `url.rs`): `?schema=`
//!   becomes the startup parameter `search_path="<schema>"`; without it the server's default
//!   applies; the default schema for P3005 is `public`.
//! - resolve (`schema-engine/core/src/commands/mark_migration_rolled_back.rs` and
//!   `mark_migration_applied.rs`): `--rolled-back` sets `rolled_back_at` on the failed rows of
//!   that name (P3011 when there is none of that name, P3012 when all of them finished);
//!   `--applied` refuses (P3008) when a row of that name finished, marks its failed rows rolled
//!   back, then inserts a row with `logs` '' and `started_at` = `finished_at` = now, and
//!   `applied_steps_count` left at its default 0.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgErrorPosition};

/// Prisma Migrate's advisory lock key.
pub const PRISMA_LOCK_KEY: i64 = 72707369;
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Prisma's `_prisma_migrations` DDL, verbatim.
const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);
";

/// PostGIS tables Prisma does not count as "the schema is not empty".
const IGNORED_TABLES: [&str; 5] = [
    "spatial_ref_sys",
    "geometry_columns",
    "geography_columns",
    "raster_columns",
    "raster_overviews",
];

/// Prisma's errors, with their codes.
#[derive(Debug)]
pub enum PrismaError {
    /// P3019: `migration_lock.toml` names another provider.
    ProviderSwitched { provider: String },
    /// P1002: the advisory lock was not granted within 10 s.
    LockTimeout,
    /// P3005: no history table, and the schema has tables.
    SchemaNotEmpty,
    /// P3009: failed migrations in the history; `details` as Prisma prints them.
    FoundFailedMigrations { details: String },
    /// P3015: a migration directory without a readable `migration.sql`.
    MigrationFileNotFound { migration_name: String },
    /// P3018: a script failed; `logs` is what was written to the history row.
    ApplyMigration {
        migration_name: String,
        database_error_code: String,
        logs: String,
    },
    /// P3011: `resolve --rolled-back` of a migration with no row.
    CannotRollBackUnapplied { migration_name: String },
    /// P3012: `resolve --rolled-back` of a migration that is not failed.
    CannotRollBackSucceeded { migration_name: String },
    /// P3008: `resolve --applied` of a migration already applied.
    AlreadyApplied { migration_name: String },
    /// P3017: `resolve --applied` of a migration not in the folder.
    NotFoundInFolder { migration_name: String },
    /// `resolve --rolled-back` on a database without the history table.
    NoHistoryTable,
    /// Any other database or file error.
    Other(String),
}

impl PrismaError {
    /// Prisma's error code.
    pub fn code(&self) -> &'static str {
        match self {
            PrismaError::ProviderSwitched { .. } => "P3019",
            PrismaError::LockTimeout => "P1002",
            PrismaError::SchemaNotEmpty => "P3005",
            PrismaError::FoundFailedMigrations { .. } => "P3009",
            PrismaError::MigrationFileNotFound { .. } => "P3015",
            PrismaError::ApplyMigration { .. } => "P3018",
            PrismaError::CannotRollBackUnapplied { .. } => "P3011",
            PrismaError::CannotRollBackSucceeded { .. } => "P3012",
            PrismaError::AlreadyApplied { .. } => "P3008",
            PrismaError::NotFoundInFolder { .. } => "P3017",
            PrismaError::NoHistoryTable | PrismaError::Other(_) => "none",
        }
    }
}

impl From<sqlx::Error> for PrismaError {
    fn from(error: sqlx::Error) -> Self {
        PrismaError::Other(error.to_string())
    }
}

/// One migration directory as Prisma lists it: its name, and its script or why it is unreadable.
#[derive(Debug, Clone)]
pub struct MigrationDirectory {
    pub name: String,
    pub script: Result<String, String>,
}

/// A row of `_prisma_migrations`. Not nelo-migrate's `HistoryRow`, on purpose: the reference
/// shares no code with what it checks.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MigrationRecord {
    pub id: String,
    pub checksum: String,
    pub finished_at: Option<DateTime<Utc>>,
    pub migration_name: String,
    pub logs: Option<String>,
    pub rolled_back_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub applied_steps_count: i32,
}

/// Prisma's checksum of a script.
pub fn prisma_checksum(script: &str) -> String {
    hex::encode(Sha256::digest(script.as_bytes()))
}

/// The migrations of `dir` as Prisma lists them: directories only, in byte order of name.
pub fn list_migrations(dir: &Path) -> std::io::Result<Vec<MigrationDirectory>> {
    let mut migrations = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let script = std::fs::read(entry.path().join("migration.sql"))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|error| error.to_string());
        migrations.push(MigrationDirectory { name, script });
    }
    migrations.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(migrations)
}

/// The provider of a `migration_lock.toml`, read as Prisma reads it.
pub fn lock_file_provider(content: &str) -> String {
    content
        .lines()
        .find(|line| line.starts_with("provider"))
        .map(|line| line.trim_start_matches("provider = ").trim_matches('"'))
        .unwrap_or("<PROVIDER NOT FOUND>")
        .to_owned()
}

/// Prisma's P3009 details, or `None` when no row is failed.
pub fn failed_migrations_details(rows: &[MigrationRecord]) -> Option<String> {
    let failed: Vec<String> = rows
        .iter()
        .filter(|row| row.finished_at.is_none() && row.rolled_back_at.is_none())
        .map(|row| {
            let logs = row
                .logs
                .as_deref()
                .map(str::trim)
                .filter(|logs| !logs.is_empty())
                .map(|logs| format!(" with the following logs:\n{logs}"))
                .unwrap_or_default();
            format!(
                "The `{}` migration started at {} failed{logs}\n",
                row.migration_name, row.started_at
            )
        })
        .collect();
    (!failed.is_empty()).then(|| failed.concat())
}

/// The migrations deploy applies: those with no row of their name that is not rolled back.
pub fn unapplied<'a>(
    local: &'a [MigrationDirectory],
    rows: &[MigrationRecord],
) -> Vec<&'a MigrationDirectory> {
    local
        .iter()
        .filter(|migration| {
            !rows
                .iter()
                .any(|row| row.rolled_back_at.is_none() && row.migration_name == migration.name)
        })
        .collect()
}

/// The text Prisma stores in `logs` for a failed script: P3018's message
/// (`user-facing-errors`, `ApplyMigrationError`). Prisma's `Debug` dump of the error lists
/// every field of tokio-postgres' `DbError`; this one keeps the main ones.
pub fn apply_error_logs(migration_name: &str, code: &str, database_error: &str) -> String {
    format!(
        "A migration failed to apply. New migrations cannot be applied before the error is \
         recovered from. Read more about how to resolve migration issues in a production \
         database: https://pris.ly/d/migrate-resolve\n\nMigration name: {migration_name}\n\n\
         Database error code: {code}\n\nDatabase error:\n{database_error}\n"
    )
}

/// `prisma migrate deploy` and `prisma migrate resolve` for one migrations folder.
pub struct Prisma {
    dir: PathBuf,
}

impl Prisma {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `prisma migrate deploy`: the names it applied, in order.
    pub async fn deploy(&self, url: &str) -> Result<Vec<String>, PrismaError> {
        self.check_provider()?;
        let local = list_migrations(&self.dir).map_err(|e| PrismaError::Other(e.to_string()))?;
        let (mut conn, schema) = connect(url).await?;
        let outcome = deploy_on(&mut conn, &schema, &local).await;
        let _ = conn.close().await;
        outcome
    }

    /// `prisma migrate resolve --rolled-back NAME`.
    pub async fn resolve_rolled_back(&self, url: &str, name: &str) -> Result<(), PrismaError> {
        let (mut conn, _) = connect(url).await?;
        let outcome = async {
            acquire_lock(&mut conn).await?;
            let rows = list_rows(&mut conn)
                .await?
                .ok_or(PrismaError::NoHistoryTable)?;
            let relevant: Vec<&MigrationRecord> = rows
                .iter()
                .filter(|row| row.migration_name == name)
                .collect();
            if relevant.is_empty() {
                return Err(PrismaError::CannotRollBackUnapplied {
                    migration_name: name.to_owned(),
                });
            }
            if relevant.iter().all(|row| row.finished_at.is_some()) {
                return Err(PrismaError::CannotRollBackSucceeded {
                    migration_name: name.to_owned(),
                });
            }
            mark_failed_rolled_back(&mut conn, relevant.iter().copied()).await?;
            Ok(())
        }
        .await;
        let _ = conn.close().await;
        outcome
    }

    /// `prisma migrate resolve --applied NAME`.
    pub async fn resolve_applied(&self, url: &str, name: &str) -> Result<(), PrismaError> {
        self.check_provider()?;
        let local = list_migrations(&self.dir).map_err(|e| PrismaError::Other(e.to_string()))?;
        let not_found = || PrismaError::NotFoundInFolder {
            migration_name: name.to_owned(),
        };
        let script = local
            .iter()
            .find(|migration| migration.name == name)
            .ok_or_else(not_found)?
            .script
            .clone()
            .map_err(|_| not_found())?;
        let (mut conn, _) = connect(url).await?;
        let outcome = async {
            acquire_lock(&mut conn).await?;
            let relevant: Vec<MigrationRecord> = match list_rows(&mut conn).await? {
                Some(rows) => rows
                    .into_iter()
                    .filter(|row| row.migration_name == name)
                    .collect(),
                None => {
                    sqlx::raw_sql(CREATE_MIGRATIONS_TABLE)
                        .execute(&mut conn)
                        .await?;
                    Vec::new()
                }
            };
            if relevant.iter().any(|row| row.finished_at.is_some()) {
                return Err(PrismaError::AlreadyApplied {
                    migration_name: name.to_owned(),
                });
            }
            mark_failed_rolled_back(&mut conn, relevant.iter()).await?;
            let now = Utc::now();
            sqlx::query(
                "INSERT INTO \"_prisma_migrations\" (\"id\", \"checksum\", \"logs\", \"started_at\", \"finished_at\", \"migration_name\") \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(prisma_checksum(&script))
            .bind("")
            .bind(now)
            .bind(now)
            .bind(name)
            .execute(&mut conn)
            .await?;
            Ok(())
        }
        .await;
        let _ = conn.close().await;
        outcome
    }

    fn check_provider(&self) -> Result<(), PrismaError> {
        let Ok(content) = std::fs::read_to_string(self.dir.join("migration_lock.toml")) else {
            return Ok(());
        };
        let provider = lock_file_provider(&content);
        if provider == "postgresql" {
            Ok(())
        } else {
            Err(PrismaError::ProviderSwitched { provider })
        }
    }
}

/// A connection as quaint opens it; the schema Prisma treats as the default one.
async fn connect(url: &str) -> Result<(PgConnection, String), PrismaError> {
    let mut parsed = url::Url::parse(url).map_err(|e| PrismaError::Other(e.to_string()))?;
    let schema = parsed
        .query_pairs()
        .find(|(key, _)| key == "schema")
        .map(|(_, value)| value.into_owned());
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(key, _)| key != "schema")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    parsed.set_query(None);
    if !kept.is_empty() {
        parsed.query_pairs_mut().extend_pairs(kept);
    }
    let mut options: PgConnectOptions = parsed.as_str().parse()?;
    if let Some(schema) = &schema {
        options = options.options([("search_path", format!("\"{schema}\""))]);
    }
    let conn = PgConnection::connect_with(&options).await?;
    Ok((conn, schema.unwrap_or_else(|| "public".to_owned())))
}

async fn acquire_lock(conn: &mut PgConnection) -> Result<(), PrismaError> {
    let lock = sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(PRISMA_LOCK_KEY)
        .execute(&mut *conn);
    match tokio::time::timeout(LOCK_TIMEOUT, lock).await {
        Ok(result) => result.map(drop).map_err(PrismaError::from),
        Err(_) => Err(PrismaError::LockTimeout),
    }
}

/// The history rows, or `None` when the table is not on the search path.
async fn list_rows(conn: &mut PgConnection) -> Result<Option<Vec<MigrationRecord>>, PrismaError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_prisma_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(None);
    }
    let rows = sqlx::query_as(
        "SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count \
         FROM _prisma_migrations ORDER BY started_at ASC",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(rows))
}

/// `mark_migration_rolled_back_by_id` for each of `rows` that is failed (neither finished
/// nor rolled back).
async fn mark_failed_rolled_back<'a>(
    conn: &mut PgConnection,
    rows: impl Iterator<Item = &'a MigrationRecord>,
) -> Result<(), PrismaError> {
    for row in rows.filter(|row| row.finished_at.is_none() && row.rolled_back_at.is_none()) {
        sqlx::query("UPDATE \"_prisma_migrations\" SET \"rolled_back_at\" = $1 WHERE \"id\" = $2")
            .bind(Utc::now())
            .bind(&row.id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// `initialize`: the history table, unless the default schema already holds other tables.
async fn initialize(conn: &mut PgConnection, schema: &str) -> Result<(), PrismaError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tbl.relname::text FROM pg_class AS tbl
         INNER JOIN pg_namespace AS namespace ON namespace.oid = tbl.relnamespace
         WHERE tbl.relkind = 'r' AND namespace.nspname = ANY ($1)",
    )
    .bind(vec![schema.to_owned()])
    .fetch_all(&mut *conn)
    .await?;
    if tables.iter().any(|table| table == "_prisma_migrations") {
        return Ok(());
    }
    let ignored = |table: &String| {
        IGNORED_TABLES
            .iter()
            .any(|ignored| table.eq_ignore_ascii_case(ignored))
    };
    if tables.iter().any(|table| !ignored(table)) {
        return Err(PrismaError::SchemaNotEmpty);
    }
    sqlx::raw_sql(CREATE_MIGRATIONS_TABLE)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn deploy_on(
    conn: &mut PgConnection,
    schema: &str,
    local: &[MigrationDirectory],
) -> Result<Vec<String>, PrismaError> {
    acquire_lock(conn).await?;
    initialize(conn, schema).await?;
    let rows = list_rows(conn).await?.ok_or(PrismaError::NoHistoryTable)?;
    if let Some(details) = failed_migrations_details(&rows) {
        return Err(PrismaError::FoundFailedMigrations { details });
    }
    let mut applied = Vec::new();
    for migration in unapplied(local, &rows) {
        let script = migration
            .script
            .as_ref()
            .map_err(|_| PrismaError::MigrationFileNotFound {
                migration_name: migration.name.clone(),
            })?;
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO \"_prisma_migrations\" (\"id\", \"checksum\", \"started_at\", \"migration_name\") \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(prisma_checksum(script))
        .bind(Utc::now())
        .bind(&migration.name)
        .execute(&mut *conn)
        .await?;
        match sqlx::raw_sql(script).execute(&mut *conn).await {
            Ok(_) => {
                sqlx::query(
                    "UPDATE \"_prisma_migrations\" SET \"applied_steps_count\" = (\"applied_steps_count\" + $1) WHERE \"id\" = $2",
                )
                .bind(1_i32)
                .bind(&id)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "UPDATE \"_prisma_migrations\" SET \"finished_at\" = $1 WHERE \"id\" = $2",
                )
                .bind(Utc::now())
                .bind(&id)
                .execute(&mut *conn)
                .await?;
                applied.push(migration.name.clone());
            }
            Err(error) => {
                let (code, database_error) = describe(&error, script);
                let logs = apply_error_logs(&migration.name, &code, &database_error);
                sqlx::query("UPDATE \"_prisma_migrations\" SET \"logs\" = $1 WHERE \"id\" = $2")
                    .bind(&logs)
                    .bind(&id)
                    .execute(&mut *conn)
                    .await?;
                return Err(PrismaError::ApplyMigration {
                    migration_name: migration.name.clone(),
                    database_error_code: code,
                    logs,
                });
            }
        }
    }
    Ok(applied)
}

/// The SQLSTATE and Prisma's "database error" text: the error as tokio-postgres displays it
/// (`ERROR: message`, `DETAIL:` and `HINT:` lines), the lines around the server's position
/// (`flavour/postgres/connection.rs`, `apply_migration_script`, which compares the character
/// position with byte offsets, as here), then a summary of tokio-postgres' `Debug` dump.
fn describe(error: &sqlx::Error, script: &str) -> (String, String) {
    let Some(database) = error
        .as_database_error()
        .and_then(|database| database.try_downcast_ref::<PgDatabaseError>())
    else {
        return ("none".to_owned(), error.to_string());
    };
    // A statement that fails is always of severity ERROR (FATAL ends the session).
    let mut text = format!("ERROR: {}", database.message());
    if let Some(detail) = database.detail() {
        text.push_str(&format!("\nDETAIL: {detail}"));
    }
    if let Some(hint) = database.hint() {
        text.push_str(&format!("\nHINT: {hint}"));
    }
    if let Some(PgErrorPosition::Original(position)) = database.position() {
        text.push_str(&position_lines(script, position));
    }
    text.push_str(&format!(
        "\n\nDbError {{ severity: \"ERROR\", parsed_severity: Some(Error), code: SqlState(E{}), message: {:?}, detail: {:?}, hint: {:?} }}",
        database.code(),
        database.message(),
        database.detail(),
        database.hint(),
    ));
    (database.code().to_owned(), text)
}

/// Prisma's "Position:" block: up to five lines before the failing one, numbered, in bold;
/// the failing line in bold red.
fn position_lines(script: &str, position: usize) -> String {
    let mut previous = [""; 5];
    let mut byte_index = 0;
    for (index, line) in script.lines().enumerate() {
        let line_number = index + 1;
        byte_index += line.len() + 1;
        if position <= byte_index {
            let numbered: Vec<String> = previous
                .iter()
                .enumerate()
                .filter_map(|(slot, text)| {
                    line_number
                        .checked_sub(previous.len() - slot)
                        .map(|number| (number, text))
                })
                .map(|(number, text)| {
                    let space = if text.is_empty() { "" } else { " " };
                    format!("\x1b[1m{number:>3}\x1b[0m{space}{text}")
                })
                .collect();
            return format!(
                "\n\nPosition:\n{}\n\x1b[1m{line_number:>3}\x1b[1;31m {line}\x1b[0m",
                numbered.join("\n")
            );
        }
        previous = [previous[1], previous[2], previous[3], previous[4], line];
    }
    String::new()
}
