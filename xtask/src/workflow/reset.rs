//! Resetting a database the way commands do: after a backup, every schema dropped, every
//! migration applied again, then seeded. `db migrate reset` and `db migrate dev` (on drift)
//! share it; each asks its own question first.

use anyhow::Context as _;

use super::database::seed_target;
use super::deploy::{backup_first, migrator, progress};
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::{docker, ui};

/// What a reset does besides dropping and re-applying.
pub(crate) struct ResetOptions {
    /// Back the database up first (`pre-reset`).
    pub backup: bool,
    /// Load the seed data afterwards.
    pub seed: bool,
}

/// Resets `url`'s database: backup (when asked), drop every schema, re-apply every
/// migration, seed (when asked).
pub(crate) async fn reset(
    ctx: &Context,
    url: &DatabaseUrl,
    options: &ResetOptions,
) -> anyhow::Result<()> {
    if options.backup {
        let engine = docker::connect().await?;
        backup_first(ctx, &engine, url, "pre-reset").await?;
    }
    let bar = ui::spinner(format!("resetting {url}"));
    let report = migrator(ctx).reset(url.as_str(), progress(&bar)).await;
    ui::clear(&bar);
    let report = report.with_context(|| format!("cannot reset {url}"))?;
    ui::step(format!(
        "reset {url}: {} applied",
        ui::count(report.applied.len(), "migration")
    ));
    if options.seed {
        seed_target(ctx, url).await?;
    }
    Ok(())
}
