//! `deploy`: apply the pending migrations in order, each as its run mode says
//! ([`crate::run_mode`]), with its history row.

use sqlx::postgres::PgConnection;

use crate::apply::apply;
use crate::folder::{self, Migration};
use crate::migrator::{DeployReport, Event, Migrator};
use crate::run_mode::run_plan;
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
    // Every pending migration is checked before the first one runs.
    let run_plans = plan
        .to_apply
        .iter()
        .map(|migration| run_plan(migration).map_err(Error::Unrunnable))
        .collect::<Result<Vec<_>, _>>()?;
    let mut applied = Vec::with_capacity(plan.to_apply.len());
    for (migration, run_plan) in plan.to_apply.into_iter().zip(&run_plans) {
        // A fresh database gets the history table with the first migration.
        apply(conn, &table, migration, run_plan, !table_exists, on_event).await?;
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
