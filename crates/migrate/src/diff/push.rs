//! Push: the difference between a live database and a declared schema, applied directly,
//! without a migration (prototyping, as `prisma db push`). The script is the one `diff`
//! plans and verifies on a shadow; it runs in one transaction under the migration lock (two
//! when it uses enum labels it adds: [`super::Plan::parts`]), and
//! a step that loses data is refused unless accepted (Prisma's `--accept-data-loss`,
//! prisma-engines `schema-engine/core/src/commands/schema_push.rs`).

use std::path::Path;

use serde::Serialize;
use sqlx::PgConnection;

use super::{DiffError, DiffOptions, Plan, SchemaDiff, Source, diff};

use crate::lock_retry::{DdlLocks, LockRetry, is_lock_timeout};
use crate::store::run_script;
use crate::{Error, Migrator, pooler};

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    pub diff: DiffOptions,
    /// Apply steps that lose data (dropped tables or columns, narrowed types...).
    pub accept_data_loss: bool,
    /// How long to wait for the migration lock.
    pub lock_timeout: std::time::Duration,
}

/// What [`push`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    /// The difference it applied (empty: the database already was the schema).
    pub diff: SchemaDiff,
}

/// Makes the database at `database_url` what the schema at `schema` (a `.sql` file, or a
/// folder of them applied in name order) declares, in one transaction (two when it uses enum
/// labels it adds).
///
/// The history table is not touched: a pushed change has no migration, so the next deploy
/// or drift check sees it as drift (as after `prisma db push`).
///
/// # Errors
///
/// [`DiffError::CannotTell`] (nothing applied) when an object of a kind nelo does not
/// compare exists on one side only or differs; [`DiffError::DataLoss`] (nothing applied) when a step loses data and
/// `accept_data_loss` is off; [`Error::NeedsDirectConnection`] through a transaction-mode
/// pooler; the errors of [`super::diff`]. A failed statement rolls its transaction back:
/// the whole push, or, in the second of two, [`DiffError::PushPartlyApplied`] with the first
/// (committed) part's script.
pub async fn push(
    database_url: &str,
    schema: &Path,
    options: &PushOptions,
) -> Result<Pushed, Error> {
    push_with_locks(database_url, schema, options, DdlLocks::default()).await
}

/// [`push`] with lock-safe DDL settings of its own ([`crate::lock_retry`]): each part waits
/// `locks.timeout` for a table lock, and a part that times out is rolled back and retried
/// until `locks.budget` is spent ([`Error::LockRetryBudgetSpent`]; the parts before it stay).
pub async fn push_with_locks(
    database_url: &str,
    schema: &Path,
    options: &PushOptions,
    locks: DdlLocks,
) -> Result<Pushed, Error> {
    if pooler::is_transaction_pooler(database_url) {
        return Err(Error::NeedsDirectConnection {
            what: "push".to_string(),
            why: "its change and the migration lock must share one server connection".to_string(),
        });
    }
    let planned = diff(
        &Source::Url(database_url.to_string()),
        &Source::Schema(schema.to_path_buf()),
        &options.diff,
    )
    .await?;
    // Before anything is applied: a push that leaves an unmodelled difference behind would
    // call the database in sync when it is not.
    let cannot_tell = planned.cannot_tell();
    if !cannot_tell.is_empty() {
        return Err(DiffError::CannotTell {
            what: format!("the database and `{}`", schema.display()),
            objects: cannot_tell
                .iter()
                .map(|object| object.describe(push_side_text))
                .collect(),
        }
        .into());
    }
    if planned.is_empty() {
        return Ok(Pushed { diff: planned });
    }
    if !planned.plan.warnings.is_empty() && !options.accept_data_loss {
        return Err(DiffError::DataLoss {
            warnings: planned.plan.warnings.clone(),
        }
        .into());
    }
    // The lock, the server's watch on the client and the release (or, on a lost connection,
    // no release) are the engine's own, as for a deploy.
    let migrator = Migrator::new(".")
        .connect_timeout(options.diff.connect_timeout)
        .lock_timeout(options.lock_timeout);
    let (mut conn, locking) = migrator.connect_locked(database_url).await?;
    let applied = apply_parts(&mut conn, &planned.plan, locks).await;
    Migrator::unlock(conn, locking, applied).await?;
    Ok(Pushed { diff: planned })
}

/// A push's sides in its own words.
fn push_side_text(side: &str) -> &'static str {
    match side {
        "from" => "only in the database",
        "to" => "only in the schema",
        "changed" => "differs",
        _ => "on both sides",
    }
}

/// Runs each part of `plan` in order, each in its own transaction (or alone, for one that
/// cannot run in a transaction block); a failure rolls its part back and names what the parts
/// before it committed.
async fn apply_parts(conn: &mut PgConnection, plan: &Plan, locks: DdlLocks) -> Result<(), Error> {
    let mut committed: Vec<Plan> = Vec::new();
    if locks.enabled() {
        run_script(conn, &locks.set_statement(false))
            .await
            .map_err(|source| Error::Database {
                action: "setting push's lock_timeout",
                source,
            })?;
    }
    for part in plan.parts() {
        let part = part.plan;
        let mut retry = LockRetry::new(locks);
        let ran = loop {
            match run_script(conn, &part.runnable_script()).await {
                Err(source) if locks.enabled() && is_lock_timeout(&source) => {
                    let _ = run_script(conn, "ROLLBACK").await;
                    retry.wait("push", None, &mut |_| {}).await?;
                }
                ran => break ran,
            }
        };
        if let Err(source) = ran {
            let _ = run_script(conn, "ROLLBACK").await;
            return Err(if committed.is_empty() {
                Error::Database {
                    action: "applying the schema's difference (rolled back)",
                    source,
                }
            } else {
                // Their steps only: the warnings header covers every part.
                let committed = committed
                    .into_iter()
                    .map(|part| {
                        Plan {
                            warnings: Vec::new(),
                            ..part
                        }
                        .script()
                    })
                    .collect();
                DiffError::PushPartlyApplied { committed, source }.into()
            });
        }
        committed.push(part);
    }
    Ok(())
}
