//! `deploy`: apply the pending migrations in order, each as its run mode says
//! ([`crate::run_mode`]), with its history row.

use sqlx::postgres::PgConnection;

use crate::apply::apply;
use crate::folder::{self, Migration};
use crate::lint::{LintMode, check_before_deploy};
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
        let lint = self.lint_mode();
        let outcome = deploy_locked(&mut conn, &local, lint, &mut on_event).await;
        Self::unlock(conn, outcome).await
    }
}

/// Deploys on a connection that holds the migration lock.
pub(crate) async fn deploy_locked(
    conn: &mut PgConnection,
    local: &[Migration],
    lint: LintMode,
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
    // Lint what is about to run (never what is applied), in the mode planned for it.
    let planned: Vec<_> = plan
        .to_apply
        .iter()
        .copied()
        .zip(run_plans.iter().map(|run| run.mode))
        .collect();
    if let Some(refusal) = check_before_deploy(&planned, lint, |lint, finding| {
        on_event(Event::LintWarning {
            migration: lint.name.clone(),
            path: lint.path.clone(),
            finding: finding.clone(),
        })
    }) {
        return Err(Error::LintRefused(Box::new(refusal)));
    }
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
