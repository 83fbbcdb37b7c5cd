//! Backups that commands take on their way: before a migration, a reset, `db up` or a
//! restore changes a database, and where a dump goes.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::Utc;

use super::pg_dump::dump_to_file;
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::Engine;
use crate::dump::name::backup_file_name;
use crate::dump::programs::Format;
use crate::dump_file::{DumpPath, sweep_stale_partials};
use crate::postgres;

/// Backs up `url`'s database before a migration, a reset or `db up` changes it, when it
/// exists and holds user tables. Returns the dump's path, or `None` when there was nothing
/// to keep. A failed backup is an error: the caller must not go on.
pub(crate) async fn backup_before_change(
    ctx: &Context,
    engine: &Engine,
    url: &DatabaseUrl,
    reason: &str,
) -> anyhow::Result<Option<PathBuf>> {
    let database = url.database();
    let mut server = postgres::connect_maintenance(url, ctx.config.connect_timeout).await?;
    if !postgres::database_exists(&mut server, &database).await? {
        return Ok(None);
    }
    let mut conn = postgres::connect(url, ctx.config.connect_timeout).await?;
    if !postgres::has_user_tables(&mut conn).await? {
        return Ok(None);
    }
    let path = output_path(ctx, None, &database, reason, Format::Custom)?;
    let written = dump_to_file(ctx, engine, url, Format::Custom, None, None, &path)
        .await
        .with_context(|| format!("cannot back up `{database}` before the change ({reason})"))?;
    Ok(Some(written.path))
}

/// Where the dump goes: `--output` as a file (never replaced), or `<db>-<time>-<reason>.<ext>`
/// in `--output` or the backup directory (created, and swept of dead partials), numbered at
/// commit when another backup took that name in the same second.
pub(crate) fn output_path(
    ctx: &Context,
    output: Option<&Path>,
    database: &str,
    reason: &str,
    format: Format,
) -> anyhow::Result<DumpPath> {
    let dir = match output {
        Some(path) if !path.is_dir() => {
            let dir = path
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
            return Ok(DumpPath::exact(path.to_path_buf()));
        }
        Some(dir) => dir.to_path_buf(),
        None => ctx.config.backup_dir.clone(),
    };
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "cannot create the backup directory `{}` (NELO_BACKUP_DIR)",
            dir.display()
        )
    })?;
    sweep_stale_partials(&dir)?;
    let name = backup_file_name(database, Utc::now(), reason, format);
    Ok(DumpPath::numbered(dir.join(name)))
}
