//! `cargo xtask db backup`: pg_dump to `backups/`, atomically, with a `.sha256`; `--verify`
//! restores it into a scratch database and compares. [`backup_before_change`] is what
//! migrations call before they change a database.

mod stream;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::{self, Engine};
use crate::dump::name::backup_file_name;
use crate::dump::programs::{Compression, Format};
use crate::dump_file::{DumpPath, WrittenDump, sweep_stale_partials};
use crate::{postgres, ui};

pub(crate) use stream::{dump_to_file, keep_tail};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Back up the test database (TEST_DATABASE_URL).
    #[arg(long, conflicts_with = "database")]
    test: bool,
    /// Back up this database of the server instead of DATABASE_URL's.
    #[arg(long, value_name = "NAME")]
    database: Option<String>,
    /// `custom` (compressed, for pg_restore) or `plain` SQL.
    #[arg(long, value_enum, default_value_t = Format::Custom)]
    format: Format,
    /// The file to write, or a directory for the usual name (default: NELO_BACKUP_DIR).
    #[arg(long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Restore the dump into a scratch database and compare its schema and row counts.
    #[arg(long)]
    verify: bool,
    /// Why the backup is taken; it ends the file name.
    #[arg(long, default_value = "manual")]
    reason: String,
    /// pg_dump's `--compress` (`zstd:3`, `gzip:6`, `none`, or `default` for pg_dump's own);
    /// by default zstd level 1 when pg_dump supports it.
    #[arg(long, value_name = "SPEC")]
    compress: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let url = match &args.database {
        Some(database) => ctx.config.database_url.with_database(database),
        None => ctx.config.target_url(args.test).clone(),
    };
    let engine = docker::connect().await?;
    let path = output_path(
        ctx,
        args.output.as_deref(),
        &url.database(),
        &args.reason,
        args.format,
    )?;
    let compression = args.compress.as_deref().map(Compression::from_flag);
    let started = Instant::now();
    // --verify compares with the source as pg_dump saw it, however it changes meanwhile.
    let pinned = if args.verify {
        Some(verify::PinnedSource::pin(&url).await?)
    } else {
        None
    };
    let snapshot = pinned.as_ref().map(|pinned| pinned.snapshot_id.as_str());
    let written = dump_to_file(
        ctx,
        &engine,
        &url,
        args.format,
        compression,
        snapshot,
        &path,
    )
    .await?;
    ui::step(summary(&url.database(), &written, started.elapsed()));
    if let Some(pinned) = pinned {
        let original = pinned.release().await;
        let report = verify::verify(ctx, &engine, &url, &written.path, original).await?;
        if !report.is_match() {
            ui::warn(report.describe());
            anyhow::bail!(
                "the backup `{}` does not restore to what `{}` holds",
                written.path.display(),
                url.database()
            );
        }
        ui::step(report.describe());
    }
    println!("{}", written.path.display());
    Ok(ExitCode::SUCCESS)
}

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
    let mut server =
        postgres::connect(&url.with_database("postgres"), Duration::from_secs(30)).await?;
    if !postgres::database_exists(&mut server, &database).await? {
        return Ok(None);
    }
    let mut conn = postgres::connect(url, Duration::from_secs(30)).await?;
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
fn output_path(
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

fn summary(database: &str, written: &WrittenDump, elapsed: Duration) -> String {
    format!(
        "backed up `{database}` to {} ({}, sha256 {}…) in {:.1} s",
        written.path.display(),
        indicatif::HumanBytes(written.bytes),
        &written.sha256[..12],
        elapsed.as_secs_f64()
    )
}
