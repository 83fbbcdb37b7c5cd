//! The databases a restore works with, on the maintenance connection: the lock that keeps a
//! second restore out, the scratch database, and the swap by renaming.

use std::time::Duration;

use anyhow::{Context as _, bail};
use sqlx::{Connection as _, PgConnection};

use crate::dump::check::replaced_database_name;
use crate::postgres::quote_ident;
use crate::ui;
use crate::workflow::restore::drop_database_on;

/// How many times the swap is tried while clients keep reconnecting to the target.
const SWAP_ATTEMPTS: u32 = 20;

/// Holds, for as long as `admin` stays open, the lock that keeps a second restore out of
/// `target` (and off its scratch database).
pub(super) async fn ensure_sole_restore(
    admin: &mut PgConnection,
    target: &str,
) -> anyhow::Result<()> {
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
        .bind(format!("nelo-restore:{target}"))
        .fetch_one(&mut *admin)
        .await
        .context("cannot take the restore lock")?;
    if !locked {
        bail!("another `db restore` into `{target}` is running; wait for it to finish");
    }
    Ok(())
}

pub(super) async fn create_database(admin: &mut PgConnection, name: &str) -> anyhow::Result<()> {
    nelo_migrate::postgres::create_database(admin, name, None)
        .await
        .with_context(|| format!("cannot create database `{name}`"))?;
    Ok(())
}

/// Gives the restored `scratch` the name `target`. An existing target is renamed away and
/// the scratch renamed in within one transaction, so `target` is always one whole database;
/// the old one is dropped afterwards (it was backed up when it held tables), and when it
/// cannot be, it is kept aside and said: nothing after the renames undoes them.
pub(super) async fn swap_in(
    admin: &mut PgConnection,
    scratch: &str,
    target: &str,
    target_exists: bool,
) -> anyhow::Result<()> {
    let rename = |from: &str, to: &str| {
        format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(from),
            quote_ident(to)
        )
    };
    if !target_exists {
        sqlx::raw_sql(&rename(scratch, target))
            .execute(&mut *admin)
            .await
            .with_context(|| format!("cannot rename `{scratch}` to `{target}`"))?;
        return Ok(());
    }
    let replaced = replaced_database_name(target);
    if drop_database_on(admin, &replaced).await? {
        ui::note(format!(
            "dropped `{replaced}`, left by a restore that was interrupted after its swap"
        ));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        // A database with clients cannot be renamed; they reconnect to the restored one.
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(target)
        .execute(&mut *admin)
        .await
        .with_context(|| format!("cannot close the connections to `{target}`"))?;
        let (away, into) = (rename(target, &replaced), rename(scratch, target));
        let mut transaction = admin.begin().await?;
        let swapped = async move {
            sqlx::raw_sql(&away).execute(&mut *transaction).await?;
            sqlx::raw_sql(&into).execute(&mut *transaction).await?;
            transaction.commit().await
        }
        .await;
        match swapped {
            Ok(()) => break,
            Err(error) if is_in_use(&error) && attempt < SWAP_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => {
                return Err(error).with_context(|| {
                    format!("cannot swap the restored `{scratch}` in for `{target}`")
                });
            }
        }
    }
    // The restored database is in place from here on: the old one failing to drop (a
    // template, a replication slot, a prepared transaction) leaves it aside, said.
    if let Err(error) = drop_database_on(admin, &replaced).await {
        ui::warn(format!(
            "`{target}` is the restored database; the previous `{target}` could not be dropped \
             and is kept as `{replaced}` ({error:#}): drop it yourself once you no longer need \
             it (the next restore into `{target}` drops it)"
        ));
    }
    Ok(())
}

/// SQLSTATE `55006`: the database has other clients.
fn is_in_use(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .as_deref()
        == Some("55006")
}
