//! Push: the difference between a live database and a declared schema, applied directly,
//! without a migration (prototyping, as `prisma db push`). The script is the one `diff`
//! plans and verifies on a shadow; it runs in one transaction under the migration lock (two
//! when it uses enum labels it adds: [`super::Plan::parts`]), and
//! a step that loses data is refused unless accepted (Prisma's `--accept-data-loss`,
//! prisma-engines `schema-engine/core/src/commands/schema_push.rs`).

use std::path::Path;

use serde::Serialize;

use super::{DiffError, DiffOptions, Plan, SchemaDiff, Source, diff};
use crate::store::{self, run_script};
use crate::{DatabaseUrl, Error, pooler, postgres};

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
/// [`DiffError::DataLoss`] (nothing applied) when a step loses data and
/// `accept_data_loss` is off; [`Error::NeedsDirectConnection`] through a transaction-mode
/// pooler; the errors of [`super::diff`]. A failed statement rolls its transaction back:
/// the whole push, or, in the second of two, [`DiffError::PushPartlyApplied`] with the first
/// (committed) part's script.
pub async fn push(
    database_url: &str,
    schema: &Path,
    options: &PushOptions,
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
    if planned.is_empty() {
        return Ok(Pushed { diff: planned });
    }
    if !planned.plan.warnings.is_empty() && !options.accept_data_loss {
        return Err(DiffError::DataLoss {
            warnings: planned.plan.warnings.clone(),
        }
        .into());
    }
    let mut conn = postgres::connect(
        &DatabaseUrl::parse(database_url)?,
        options.diff.connect_timeout,
    )
    .await?;
    store::acquire_lock(&mut conn, options.lock_timeout).await?;
    let mut applied = Ok(());
    let mut committed: Option<Plan> = None;
    for part in planned.plan.parts() {
        let part = part.plan;
        let outcome = run_script(&mut conn, &part.runnable_script()).await;
        if let Err(source) = outcome {
            let _ = run_script(&mut conn, "ROLLBACK").await;
            applied = Err(match committed {
                None => Error::Database {
                    action: "applying the schema's difference (rolled back)",
                    source,
                },
                // Its steps only: the warnings header covers both parts.
                Some(first) => DiffError::PushPartlyApplied {
                    committed: Plan {
                        warnings: Vec::new(),
                        ..first
                    }
                    .script(),
                    source,
                }
                .into(),
            });
            break;
        }
        committed = Some(part);
    }
    let released = store::release_lock(&mut conn).await;
    let _ = sqlx::Connection::close(conn).await;
    applied?;
    released?;
    Ok(Pushed { diff: planned })
}
