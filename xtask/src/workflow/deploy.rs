//! Deploying migrations the way commands do: after a backup of a database that holds data,
//! with the engine's advice put in this tool's commands.

use anyhow::Context as _;
use nelo_migrate::{Event, Migrator};

use super::backup::backup_before_change;
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::Engine;
use crate::ui;

/// The engine's advice for a blocked deploy, in this tool's commands (`--test` for the test
/// database).
fn resolve_hint(error: &nelo_migrate::Error, test: bool) -> Option<String> {
    let command = format!(
        "cargo xtask db migrate resolve{}",
        if test { " --test" } else { "" }
    );
    match error {
        nelo_migrate::Error::FailedMigrationFound { name } => Some(format!(
            "; once the database is fixed: `{command} --rolled-back {name}` to run it again, or \
             `{command} --applied {name}` if you completed it by hand"
        )),
        nelo_migrate::Error::SchemaNotEmpty {
            first_migration: Some(name),
            ..
        } => Some(format!(
            "; if it already has the schema of `{name}`: `{command} --applied {name}`"
        )),
        nelo_migrate::Error::LockTimeout { .. } => Some(
            "; wait for that deploy to finish, or raise NELO_LOCK_TIMEOUT in `.env`".to_string(),
        ),
        nelo_migrate::Error::LockRetryBudgetSpent { .. } => Some(
            "; nothing was applied: run it again once that session is done, or raise NELO_LOCK_RETRY_BUDGET in `.env`"
                .to_string(),
        ),
        nelo_migrate::Error::ConnectTimeout { .. } => Some(
            "; is the container up (`cargo xtask db status`)? NELO_CONNECT_TIMEOUT waits longer"
                .to_string(),
        ),
        nelo_migrate::Error::FolderMissing { .. } => Some(
            "; create a migration with `cargo xtask db migrate create --name NAME`, or set NELO_MIGRATIONS_DIR"
                .to_string(),
        ),
        _ => None,
    }
}

/// Deploys pending migrations to `url`, after a backup of the database when it holds data
/// (skipped when `engine` is `None`). `db migrate deploy` and
/// [`super::database::ensure_database_ready`] use it. Returns the names of the migrations it
/// applied.
pub(crate) async fn deploy(
    ctx: &Context,
    engine: Option<&Engine>,
    url: &DatabaseUrl,
) -> anyhow::Result<Vec<String>> {
    let migrator = migrator(ctx);
    let status = migrator
        .status(url.as_str())
        .await
        .with_context(|| format!("cannot read the migration status of {url}"))?;
    if status.pending().next().is_none() && status.failed().next().is_none() {
        ui::step(format!("{}: up to date", url.database()));
        return Ok(Vec::new());
    }
    if let Some(engine) = engine {
        backup_first(ctx, engine, url, "pre-deploy").await?;
    }
    let bar = ui::spinner(format!("migrating {}", url.database()));
    let report = migrator.deploy(url.as_str(), progress(&bar)).await;
    ui::clear(&bar);
    let report = report.map_err(|error| {
        let hint = resolve_hint(&error, *url == ctx.config.test_database_url);
        anyhow::Error::new(error)
            .context(format!("cannot migrate {url}{}", hint.unwrap_or_default()))
    })?;
    ui::step(format!(
        "{}: applied {}",
        url.database(),
        ui::count(report.applied.len(), "migration")
    ));
    Ok(report.applied)
}

pub(crate) async fn backup_first(
    ctx: &Context,
    engine: &Engine,
    url: &DatabaseUrl,
    reason: &str,
) -> anyhow::Result<()> {
    let backup = backup_before_change(ctx, engine, url, reason)
        .await
        .with_context(|| {
            format!(
                "the {reason} backup of {url} failed, so nothing was changed (--no-backup skips it)"
            )
        })?;
    if let Some(path) = backup {
        ui::step(format!(
            "backed up {} to {}",
            url.database(),
            path.display()
        ));
    }
    Ok(())
}

pub(crate) fn migrator(ctx: &Context) -> Migrator {
    Migrator::new(&ctx.config.migrations_dir)
        .lock_timeout(ctx.config.lock_timeout)
        .connect_timeout(ctx.config.connect_timeout)
        .ddl_lock_timeout(ctx.config.ddl_locks.timeout)
        .lock_retry_budget(ctx.config.ddl_locks.budget)
}

/// Shows each migration on the spinner as it is applied.
pub(crate) fn progress(bar: &ui::Progress) -> impl FnMut(Event) + '_ {
    move |event| match &event {
        Event::Applying { name, .. } => bar.set_message(format!("applying {name}")),
        Event::LockWait(wait) => bar.set_message(format!(
            "applying {}: waiting for {} (attempt {})",
            wait.name,
            wait.lock
                .as_ref()
                .map_or_else(|| "a table lock".to_string(), ToString::to_string),
            wait.attempt + 1
        )),
        Event::LintWarning { path, finding, .. } => {
            bar.suspend(|| eprint!("{}", nelo_migrate::lint::finding_text(path, finding)))
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_deploys_get_this_tools_resolve_command() {
        let failed = nelo_migrate::Error::FailedMigrationFound {
            name: "20250101000000_a".into(),
        };
        let hint = resolve_hint(&failed, true).unwrap();
        assert!(
            hint.contains("`cargo xtask db migrate resolve --test --rolled-back 20250101000000_a`"),
            "{hint}"
        );
        let not_empty = nelo_migrate::Error::SchemaNotEmpty {
            schema: "public".into(),
            objects: vec!["table \"User\"".into()],
            first_migration: Some("20250817000000_baseline".into()),
        };
        let hint = resolve_hint(&not_empty, false).unwrap();
        assert!(
            hint.contains("`cargo xtask db migrate resolve --applied 20250817000000_baseline`"),
            "{hint}"
        );
        assert_eq!(resolve_hint(&nelo_migrate::Error::NoSchema, false), None);
    }
}
