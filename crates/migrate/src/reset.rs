//! `reset`: drop every non-system schema, recreate `public` (and the URL's `?schema=`),
//! re-apply all migrations.

use sqlx::postgres::PgConnection;

use crate::database_url::url_schema;
use crate::deploy::{Ddl, deploy_locked};
use crate::lint::LintMode;
use crate::lock_retry::{DdlLocks, LockRetry, is_lock_timeout};
use crate::migrator::{DeployReport, Event, Locking, Migrator};
use crate::sql::{quote_identifier, user_schema};
use crate::watchdog::{InProgress, Watchdog};
use crate::{Error, folder, store};

/// Schemas that `reset` drops: every schema but the system ones.
fn user_schemas_query() -> String {
    format!(
        "SELECT nspname::text FROM pg_namespace WHERE {} ORDER BY nspname",
        user_schema("nspname")
    )
}

/// PostgreSQL 15+'s default `public` schema: owned by pg_database_owner, usable by all.
const RECREATE_PUBLIC: &str = "CREATE SCHEMA public;
    ALTER SCHEMA public OWNER TO pg_database_owner;
    GRANT USAGE ON SCHEMA public TO PUBLIC;
    COMMENT ON SCHEMA public IS 'standard public schema';";

impl Migrator {
    /// Drops every non-system schema (their extensions with them), recreates `public` with
    /// its default grants and the URL's `?schema=`, then applies every migration. Seeding is
    /// the caller's business.
    pub async fn reset(
        &self,
        database_url: &str,
        mut on_event: impl FnMut(Event) + Send,
    ) -> Result<DeployReport, Error> {
        let local = folder::load(self.migrations_dir())?;
        let schema = url_schema(database_url);
        if self.locking(database_url) != Locking::Session {
            return Err(Error::NeedsDirectConnection {
                what: "reset".to_string(),
                why: "it drops the schemas and re-applies every migration as one run".to_string(),
            });
        }
        let (mut conn, locking) = self.connect_locked(database_url).await?;
        let watchdog = match Watchdog::start(&mut conn, database_url, locking).await {
            Ok(watchdog) => watchdog,
            Err(error) => return Self::unlock(conn, locking, Err(error)).await,
        };
        let mut in_progress = InProgress::default();
        let run = async {
            let mut on_event = |event: Event| {
                in_progress.note(&event);
                on_event(event)
            };
            let ddl = Ddl {
                locks: self.ddl_locks(),
                database_url,
            };
            let outcome =
                reset_locked(&mut conn, &local, schema.as_deref(), ddl, &mut on_event).await;
            Self::unlock(conn, locking, outcome).await
        };
        let watched = watchdog.watch(run).await;
        watched.unwrap_or_else(|lost| Err(lost.into_error(&in_progress)))
    }
}

async fn reset_locked(
    conn: &mut PgConnection,
    local: &[folder::Migration],
    url_schema: Option<&str>,
    ddl: Ddl<'_>,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<DeployReport, Error> {
    let dropped = drop_schemas(conn, ddl.locks, on_event).await?;
    for schema in &dropped {
        on_event(Event::SchemaDropped {
            schema: schema.clone(),
        });
    }
    if let Some(schema) = url_schema {
        store::ensure_schema(conn, schema).await?;
    }
    // Reset re-applies the history: applied migrations are never re-linted.
    let mut report = deploy_locked(
        conn,
        local,
        url_schema,
        Locking::Session,
        LintMode::Off,
        ddl,
        on_event,
    )
    .await?;
    report.dropped_schemas = dropped;
    Ok(report)
}

/// Drops the schemas in one transaction, with the lock-safe DDL's `lock_timeout` and
/// retries ([`crate::lock_retry`]): a session reading a table must not stall every other
/// behind the reset's ACCESS EXCLUSIVE locks.
async fn drop_schemas(
    conn: &mut PgConnection,
    locks: DdlLocks,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<Vec<String>, Error> {
    let error = |source| Error::Database {
        action: "dropping the schemas",
        source,
    };
    let schemas: Vec<String> = store::fetch_rows(conn, &user_schemas_query())
        .await
        .and_then(|rows| rows.iter().map(|row| sqlx::Row::try_get(row, 0)).collect())
        .map_err(error)?;
    let mut script = String::from("BEGIN;\n");
    if locks.enabled() {
        script.push_str(&locks.set_statement(true));
        script.push_str(";\n");
    }
    for schema in &schemas {
        script.push_str(&format!(
            "DROP SCHEMA {} CASCADE;\n",
            quote_identifier(schema)
        ));
    }
    script.push_str(RECREATE_PUBLIC);
    script.push_str("\nCOMMIT;");
    let mut retry = LockRetry::new(locks);
    loop {
        match store::run_script(conn, &script).await {
            Ok(()) => return Ok(schemas),
            Err(source) => {
                let _ = store::run_script(conn, "ROLLBACK").await;
                if locks.enabled() && is_lock_timeout(&source) {
                    retry.wait("reset", None, on_event).await?;
                    continue;
                }
                return Err(error(source));
            }
        }
    }
}
