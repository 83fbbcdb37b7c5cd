//! `deploy`: apply the pending migrations, each with its history row in one transaction.

use std::time::Instant;

use chrono::Utc;
use sqlx::postgres::{PgConnection, PgDatabaseError, PgErrorPosition};

use crate::error::MigrationFailure;
use crate::folder::{self, Migration};
use crate::migrator::{DeployReport, Event, Migrator};
use crate::position::{char_count_before, line_column};
use crate::split::split_statements;
use crate::store::{self, HistoryTable};
use crate::{Error, plan};

impl Migrator {
    /// Applies every pending migration in order, under the migration lock.
    /// A failed migration (from this or an earlier deploy) stops it; nothing after it runs.
    pub async fn deploy(
        &self,
        database_url: &str,
        mut on_event: impl FnMut(Event) + Send,
    ) -> Result<DeployReport, Error> {
        let local = folder::load(self.migrations_dir())?;
        let mut conn = self.connect_locked(database_url).await?;
        let outcome = deploy_locked(&mut conn, &local, &mut on_event).await;
        Self::unlock(conn, outcome).await
    }
}

/// Deploys on a connection that holds the migration lock.
pub(crate) async fn deploy_locked(
    conn: &mut PgConnection,
    local: &[Migration],
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<DeployReport, Error> {
    on_event(Event::LockAcquired);
    let table = HistoryTable::locate(conn).await?;
    let rows = store::read_rows_if_table_exists(conn, &table).await?;
    let mut table_exists = rows.is_some();
    let plan = plan::deploy_plan(local, &rows.unwrap_or_default())?;
    // Like Prisma (P3005): a schema built without migrations is not migrated blindly.
    if !table_exists && let Some(schema) = table.schema() {
        let objects = store::unmigrated_objects(conn, schema).await?;
        if !objects.is_empty() {
            return Err(Error::SchemaNotEmpty {
                schema: schema.to_string(),
                objects,
                first_migration: local.first().map(|migration| migration.name.clone()),
            });
        }
    }
    if plan.to_apply.is_empty() && !table_exists {
        store::ensure_table(conn, &table).await?;
    }
    for name in &plan.modified {
        on_event(Event::Modified { name: name.clone() });
    }
    for name in &plan.missing {
        on_event(Event::Missing { name: name.clone() });
    }
    let mut applied = Vec::with_capacity(plan.to_apply.len());
    for migration in plan.to_apply {
        // A fresh database gets the history table in the first migration's transaction.
        apply(conn, &table, migration, !table_exists, on_event).await?;
        table_exists = true;
        applied.push(migration.name.clone());
    }
    Ok(DeployReport {
        applied,
        modified: plan.modified,
        missing: plan.missing,
        dropped_schemas: Vec::new(),
    })
}

async fn apply(
    conn: &mut PgConnection,
    table: &HistoryTable,
    migration: &Migration,
    create_table: bool,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<(), Error> {
    on_event(Event::Applying {
        name: migration.name.clone(),
        no_transaction: migration.no_transaction,
    });
    let started = Instant::now();
    let outcome = if migration.no_transaction {
        apply_statement_by_statement(conn, table, migration, create_table, on_event).await
    } else {
        apply_in_transaction(conn, table, migration, create_table).await
    };
    let name = migration.name.clone();
    let duration = started.elapsed();
    on_event(match outcome {
        Ok(()) => Event::Applied { name, duration },
        Err(_) => Event::Failed { name, duration },
    });
    outcome
}

async fn apply_in_transaction(
    conn: &mut PgConnection,
    table: &HistoryTable,
    migration: &Migration,
    create_table: bool,
) -> Result<(), Error> {
    let started_at = Utc::now();
    let Err(script_error) = store::apply_in_transaction(conn, migration, table, create_table).await
    else {
        return Ok(());
    };
    let prefix_chars = script_error.prefix_chars;
    let failure = failure(
        migration,
        &script_error.error,
        |position| position.checked_sub(prefix_chars),
        None,
        None,
    );
    // Written after the rollback, in its own statement, so that it survives. The rollback
    // also took the history table when it was created in the same transaction.
    if create_table {
        let _ = store::ensure_table(conn, table).await;
    }
    let _ = store::record_failure(conn, table, migration, started_at, &failure.to_string()).await;
    Err(Error::MigrationFailed(Box::new(failure)))
}

async fn apply_statement_by_statement(
    conn: &mut PgConnection,
    table: &HistoryTable,
    migration: &Migration,
    create_table: bool,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<(), Error> {
    if create_table {
        store::ensure_table(conn, table).await?;
    }
    let sql = migration.sql_to_send();
    let statements = split_statements(sql);
    let id = store::start_row(conn, table, migration).await?;
    for (index, statement) in statements.iter().enumerate() {
        if let Err(error) = store::run_script(conn, statement.sql).await {
            let chars_before = char_count_before(sql, statement.offset);
            let failure = failure(
                migration,
                &error,
                |position| Some(chars_before + position),
                Some(chars_before + 1),
                Some(index + 1),
            );
            let _ = store::record_row_failure(conn, table, &id, &failure.to_string()).await;
            return Err(Error::MigrationFailed(Box::new(failure)));
        }
        let steps = i32::try_from(index + 1).unwrap_or(i32::MAX);
        store::record_steps(conn, table, &id, steps).await?;
        on_event(Event::StepApplied {
            name: migration.name.clone(),
            step: index + 1,
            total: statements.len(),
        });
    }
    store::finish_row(conn, table, &id).await
}

/// Describes a failed statement. `to_file_position` maps the server's 1-based character
/// position to one in the file; `fallback_position` is used when the server gives none.
fn failure(
    migration: &Migration,
    error: &sqlx::Error,
    to_file_position: impl Fn(usize) -> Option<usize>,
    fallback_position: Option<usize>,
    step: Option<usize>,
) -> MigrationFailure {
    let database_error = error
        .as_database_error()
        .and_then(|database| database.try_downcast_ref::<PgDatabaseError>());
    let server_position = database_error.and_then(|database| match database.position() {
        Some(PgErrorPosition::Original(position)) => to_file_position(position),
        _ => None,
    });
    let (line, column) = server_position
        .or(fallback_position)
        .and_then(|position| line_column(migration.sql_to_send(), position))
        .map_or((None, None), |(line, column)| (Some(line), Some(column)));
    let mut failure = MigrationFailure {
        migration: migration.name.clone(),
        path: migration.path.clone(),
        line,
        column,
        step,
        sqlstate: None,
        message: error.to_string(),
        detail: None,
        hint: None,
    };
    if let Some(database) = database_error {
        failure.sqlstate = Some(database.code().to_string());
        failure.message = database.message().to_string();
        failure.detail = database.detail().map(str::to_string);
        failure.hint = database.hint().map(str::to_string);
        if let (Some(context), None) = (database.r#where(), &failure.detail) {
            failure.detail = Some(format!("context: {context}"));
        }
    }
    failure
}
