//! Push: the difference between a live database and a declared schema, applied directly,
//! without a migration (prototyping, as `prisma db push`). The script is the one `diff`
//! plans and verifies on a shadow; it runs in one transaction under the migration lock (two
//! when it uses enum labels it adds: [`super::Plan::parts`]), and
//! a step that loses data is refused unless accepted (Prisma's `--accept-data-loss`,
//! prisma-engines `schema-engine/core/src/commands/schema_push.rs`).

use std::path::Path;

use serde::Serialize;

use super::{DiffError, DiffOptions, SchemaDiff, Source, diff};
use crate::store::{self, run_script};
use crate::{Error, connect, pooler};

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
/// pooler; the errors of [`super::diff`]; a failed statement rolls the whole push back.
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
    let mut conn = connect::connect(database_url, options.diff.connect_timeout).await?;
    store::acquire_lock(&mut conn, options.lock_timeout).await?;
    let mut applied = Ok(());
    for part in planned.plan.parts() {
        applied = run_script(&mut conn, &format!("BEGIN;\n{}\nCOMMIT;", part.script())).await;
        if applied.is_err() {
            let _ = run_script(&mut conn, "ROLLBACK").await;
            break;
        }
    }
    let released = store::release_lock(&mut conn).await;
    let _ = sqlx::Connection::close(conn).await;
    applied.map_err(|source| Error::Database {
        action: "applying the schema's difference (rolled back)",
        source,
    })?;
    released?;
    Ok(Pushed { diff: planned })
}
