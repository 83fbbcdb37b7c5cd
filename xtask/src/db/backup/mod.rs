//! `cargo xtask db backup`: pg_dump to `backups/`, atomically, with a `.sha256`; `--verify`
//! restores it into a scratch database and compares. The backups other commands take before
//! they change a database are [`crate::workflow::backup`]'s.

mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config::TargetDatabase;
use crate::context::Context;
use crate::docker;
use crate::dump::programs::{Compression, Format};
use crate::dump_file::WrittenDump;
use crate::ui;
use crate::workflow::backup::output_path;
use crate::workflow::pg_dump::dump_to_file;

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
        None => ctx
            .config
            .target_url(TargetDatabase::from_test_flag(args.test))
            .clone(),
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
    ui::stdout_line(written.path.display());
    Ok(ExitCode::SUCCESS)
}

fn summary(database: &str, written: &WrittenDump, elapsed: Duration) -> String {
    format!(
        "backed up `{database}` to {} ({}, sha256 {}…) in {:.1} s",
        written.path.display(),
        ui::bytes(written.bytes),
        &written.sha256[..12],
        elapsed.as_secs_f64()
    )
}
