//! A database on the running server made ready for use: created, `vector` installed, every
//! migration applied; and Nelo's demo data loaded into it.

use std::time::Duration;

use anyhow::Context as _;

use super::deploy;
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::Engine;
use crate::{postgres, server, ui};

/// How long a running server may take to accept a connection.
const CONNECT_DEADLINE: Duration = postgres::CONNECT_TIMEOUT;

/// Converges a database on the running server: it exists, has `vector`, and every migration
/// is applied (after a backup through `backup_with` when it holds data). Returns whether
/// anything was done. `db up` and `db test-setup` share it.
pub(crate) async fn ensure_database_ready(
    ctx: &Context,
    backup_with: Option<&Engine>,
    url: &DatabaseUrl,
) -> anyhow::Result<bool> {
    let name = url.database();
    let (mut conn, created) = server::connect_or_create_database(url, CONNECT_DEADLINE).await?;
    if created {
        ui::step(format!("created database `{name}`"));
    }
    let installed = postgres::ensure_extension(&mut conn, "vector")
        .await
        .with_context(|| format!("cannot install pgvector in `{name}`"))?;
    if installed {
        ui::step(format!("installed extension `vector` in `{name}`"));
    }
    drop(conn);
    let applied = deploy::deploy(ctx, backup_with, url)
        .await
        .with_context(|| format!("cannot apply migrations to `{name}`"))?;
    Ok(created || installed || !applied.is_empty())
}

/// Loads the demo project into `url` in one transaction; running it again leaves the same data.
pub(crate) async fn seed_target(ctx: &Context, url: &DatabaseUrl) -> anyhow::Result<()> {
    let mut conn = postgres::connect(url, ctx.config.connect_timeout).await?;
    let bar = ui::spinner(format!("seeding {}", url.database()));
    let report = nelo_db::seed::seed(&mut conn).await;
    ui::clear(&bar);
    let report = report.with_context(|| {
        format!("cannot seed {url}; nothing was loaded (are its migrations applied? `cargo xtask db migrate status`)")
    })?;
    ui::step(format!("{}: {report}", url.database()));
    Ok(())
}
