//! `deploy`: apply the pending migrations in order, each as its run mode says
//! ([`crate::run_mode`]), with its history row.

use sqlx::postgres::PgConnection;

use crate::apply::{Context, Outcome, apply};
use crate::database_url::url_schema;
use crate::folder::{self, Migration};
use crate::lint::{LintMode, check_before_deploy};
use crate::lock_retry::{DdlLocks, LockObserver};
use crate::migrator::{DeployReport, Event, Locking, Migrator};
use crate::run_mode::{RunMode, run_plan};
use crate::store::{self, HistoryTable};
use crate::watchdog::{InProgress, Watchdog};
use crate::{Error, plan};

impl Migrator {
    /// Applies every pending migration in order, under the migration lock.
    /// A failed migration (from this or an earlier deploy) stops it; nothing after it runs.
    /// Through a transaction-mode pooler (`pgbouncer=true`), see [`crate::pooler`]. A
    /// connection gone half-open is found by [`crate::watchdog`]: the deploy then stops with
    /// [`Error::ConnectionLost`] instead of waiting forever.
    pub async fn deploy(
        &self,
        database_url: &str,
        on_event: impl FnMut(Event) + Send,
    ) -> Result<DeployReport, Error> {
        let local = folder::load(self.migrations_dir())?;
        self.deploy_loaded(database_url, &local, on_event).await
    }

    /// [`Migrator::deploy`] of migrations already read (a shadow replay of some of them).
    pub(crate) async fn deploy_loaded(
        &self,
        database_url: &str,
        local: &[Migration],
        mut on_event: impl FnMut(Event) + Send,
    ) -> Result<DeployReport, Error> {
        let url_schema = url_schema(database_url);
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
            let outcome = deploy_locked(
                &mut conn,
                local,
                url_schema.as_deref(),
                locking,
                self.lint_mode(),
                Ddl {
                    locks: self.ddl_locks(),
                    database_url,
                },
                &mut on_event,
            )
            .await;
            Self::unlock(conn, locking, outcome).await
        };
        let watched = watchdog.watch(run).await;
        watched.unwrap_or_else(|lost| Err(lost.into_error(&in_progress)))
    }
}

/// Lock-safe DDL for a deploy: the settings, and the server to read lock waits from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ddl<'u> {
    pub locks: DdlLocks,
    pub database_url: &'u str,
}

/// Deploys on a connection that holds the migration lock, or whose migrations take it
/// ([`Locking::PerTransaction`]); then a migration that another deploy recorded meanwhile
/// makes it read the history again.
pub(crate) async fn deploy_locked(
    conn: &mut PgConnection,
    local: &[Migration],
    url_schema: Option<&str>,
    locking: Locking,
    lint: LintMode,
    ddl: Ddl<'_>,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<DeployReport, Error> {
    let table = HistoryTable::for_url(conn, url_schema).await?;
    // Who blocks a lock wait is read from a second connection, about this session; through
    // a transaction-mode pooler no session is this run's own.
    let mut observer = match locking {
        Locking::Session if ddl.locks.enabled() => match store::backend_pid(conn).await {
            Ok(pid) => LockObserver::new(ddl.database_url, pid),
            Err(_) => LockObserver::none(),
        },
        _ => LockObserver::none(),
    };
    let mut report = DeployReport::default();
    let mut first_reading = true;
    'reread: loop {
        let rows = store::read_rows_if_table_exists(conn, &table).await?;
        let table_exists = rows.is_some();
        let plan = plan::deploy_plan(local, &rows.unwrap_or_default())?;
        // Like Prisma (P3005): a schema built without migrations is not migrated blindly.
        if !table_exists && let Some(schema) = table.schema() {
            let objects = store::unmigrated_objects(conn, schema).await?;
            // Through a transaction-mode pooler another deploy may have created the history
            // with its first migration since it was read.
            if !objects.is_empty()
                && locking != Locking::Session
                && store::read_rows_if_table_exists(conn, &table)
                    .await?
                    .is_some()
            {
                continue 'reread;
            }
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
        // Every pending migration is checked before the first one runs.
        let run_plans = plan
            .to_apply
            .iter()
            .map(|migration| run_plan(migration).map_err(Error::Unrunnable))
            .collect::<Result<Vec<_>, _>>()?;
        if first_reading {
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
            for name in &plan.modified {
                on_event(Event::Modified { name: name.clone() });
            }
            for name in &plan.missing {
                on_event(Event::Missing { name: name.clone() });
            }
            report.modified = plan.modified.clone();
            report.missing = plan.missing.clone();
            first_reading = false;
        }
        if let Locking::PerTransaction { .. } = locking
            && let Some((migration, run_plan)) = plan
                .to_apply
                .iter()
                .zip(&run_plans)
                .find(|(_, run_plan)| run_plan.mode != RunMode::InTransaction)
        {
            return Err(Error::NeedsDirectConnection {
                what: format!("migration `{}`", migration.name),
                why: format!(
                    "it runs {}, so its statements are not one transaction that can hold the lock",
                    run_plan.mode
                ),
            });
        }
        let mut create_table = !table_exists;
        for (migration, run_plan) in plan.to_apply.into_iter().zip(&run_plans) {
            // A fresh database gets the history table with the first migration.
            let context = Context {
                table: &table,
                create_table,
                locking,
                url_schema,
                ddl: ddl.locks,
            };
            match apply(conn, context, migration, run_plan, &mut observer, on_event).await? {
                Outcome::Applied => report.applied.push(migration.name.clone()),
                Outcome::RecordedMeanwhile => continue 'reread,
            }
            create_table = false;
        }
        return Ok(report);
    }
}
