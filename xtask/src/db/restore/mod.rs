//! `cargo xtask db restore FILE`: the safest command there is. It checks the whole file
//! before touching anything (the `.sha256` when there is one; an archive's table of
//! contents; a plain script's pg_dump header and closing line), backs up a target that holds
//! tables (`--force`), restores into a scratch database, and only once that succeeded swaps
//! it in by renaming. Killed at any point, the target is as it was (or already the complete
//! restore), and a rerun works: the scratch database a killed run left is dropped first.

mod databases;
mod stream;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::Utc;
use sqlx::{Connection as _, PgConnection};

use crate::backup::check::{plain_dump_problem, scratch_database_name};
use crate::backup::dump::Format;
use crate::backup::file::{checksum_path, sha256_of};
use crate::backup::name::{parse_checksum_line, restored_database_name};
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::db::backup::backup_before_change;
use crate::docker::{self, Engine};
use crate::postgres::{self, quote_ident};
use crate::ui;

pub(crate) use databases::drop_database;
use databases::{create_database, drop_database_on, ensure_sole_restore, swap_in};
use stream::{Reads, feed_file};

const CONNECT_DEADLINE: Duration = Duration::from_secs(30);
/// How much of each end of a plain script is read to check its header and closing line.
const PLAIN_CHECK_BYTES: u64 = 64 * 1024;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The dump: a custom archive (`.dump`) or a plain SQL script (`.sql`).
    file: PathBuf,
    /// The database to restore into (default: a new `nelo_restored_<time>`).
    #[arg(long, value_name = "NAME")]
    into: Option<String>,
    /// Replace a target that holds tables (it is backed up first).
    #[arg(long)]
    force: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let format = check_file(&args.file)?;
    let file_name = args
        .file
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    let target = args
        .into
        .clone()
        .unwrap_or_else(|| restored_database_name(file_name, Utc::now()));
    let url = ctx.config.database_url.with_database(&target);
    let engine = docker::connect().await?;
    check_whole_file(ctx, &engine, &args.file, format).await?;

    let mut admin = postgres::connect(&admin_url(&url), CONNECT_DEADLINE).await?;
    ensure_sole_restore(&mut admin, &target).await?;
    let target_exists = postgres::database_exists(&mut admin, &target).await?;
    if target_exists && target_has_tables(&url).await? {
        if !args.force {
            bail!(
                "database `{target}` is not empty: restore into another one with --into NAME, or \
                 pass --force to replace it (it is backed up first)"
            );
        }
        let backup = backup_before_change(ctx, &engine, &url, "pre-restore")
            .await?
            .context("the target held tables but nothing was backed up")?;
        ui::step(format!(
            "backed up `{target}` to {} before replacing it",
            backup.display()
        ));
    }

    let scratch = scratch_database_name(&target);
    if drop_database_on(&mut admin, &scratch).await? {
        ui::note(format!(
            "dropped `{scratch}`, left by a restore that was interrupted"
        ));
    }
    create_database(&mut admin, &scratch).await?;
    let started = Instant::now();
    let restored = restore_into(ctx, &engine, &args.file, format, &scratch).await;
    if let Err(error) = restored {
        let _ = drop_database_on(&mut admin, &scratch).await;
        return Err(error.context(format!(
            "nothing was changed: `{target}` is as it was before the restore"
        )));
    }
    swap_in(&mut admin, &scratch, &target, target_exists).await?;

    let mut conn = postgres::connect(&url, CONNECT_DEADLINE).await?;
    let counts = table_row_counts(&mut conn).await?;
    let rows: i64 = counts.iter().map(|(_, rows)| rows).sum();
    ui::step(format!(
        "restored {} into `{target}`: {} tables, {rows} rows in {:.1} s",
        args.file.display(),
        counts.len(),
        started.elapsed().as_secs_f64()
    ));
    println!("{target}");
    Ok(ExitCode::SUCCESS)
}

/// The file's format from its magic, after its `.sha256` (when there is one) has matched.
pub(crate) fn check_file(path: &Path) -> anyhow::Result<Format> {
    let mut head = [0u8; 512];
    let read = std::fs::File::open(path)
        .and_then(|mut file| std::io::Read::read(&mut file, &mut head))
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let checksum = checksum_path(path);
    if checksum.exists() {
        let text = std::fs::read_to_string(&checksum)
            .with_context(|| format!("cannot read `{}`", checksum.display()))?;
        let expected = parse_checksum_line(&text)
            .with_context(|| format!("`{}` holds no SHA-256 digest", checksum.display()))?;
        let actual = sha256_of(path)?;
        if actual != expected {
            bail!(
                "`{}` is damaged: its SHA-256 is {actual} but `{}` expects {expected}; refusing to \
                 restore it",
                path.display(),
                checksum.display()
            );
        }
    }
    Format::detect(&head[..read]).with_context(|| {
        format!(
            "`{}` is neither a pg_dump custom archive nor an SQL script",
            path.display()
        )
    })
}

/// Refuses a file that cannot restore whole: an archive whose table of contents pg_restore
/// cannot read, a script that is not pg_dump's or was cut short.
async fn check_whole_file(
    ctx: &Context,
    engine: &Engine,
    path: &Path,
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Custom => {
            let argv = ["pg_restore", "--list"].map(String::from);
            feed_file(
                engine,
                &ctx.config.container,
                &argv,
                path,
                "reading the archive's table of contents",
                Reads::Start,
            )
            .await
            .with_context(|| {
                format!(
                    "`{}` is not a readable pg_dump archive; nothing was changed",
                    path.display()
                )
            })?;
        }
        Format::Plain => {
            let (head, tail) = ends_of(path)?;
            if let Some(problem) = plain_dump_problem(&head, &tail) {
                bail!(
                    "`{}` cannot be restored: {problem}; nothing was changed",
                    path.display()
                );
            }
        }
    }
    Ok(())
}

/// The first and the last [`PLAIN_CHECK_BYTES`] of a file.
fn ends_of(path: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    use std::io::{Read, Seek, SeekFrom};
    let read = || -> std::io::Result<(Vec<u8>, Vec<u8>)> {
        let mut file = std::fs::File::open(path)?;
        let length = file.metadata()?.len();
        let mut head = Vec::new();
        (&mut file).take(PLAIN_CHECK_BYTES).read_to_end(&mut head)?;
        file.seek(SeekFrom::Start(length.saturating_sub(PLAIN_CHECK_BYTES)))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        Ok((head, tail))
    };
    read().with_context(|| format!("cannot read `{}`", path.display()))
}

/// The maintenance database to work from: never the target itself, which gets renamed.
fn admin_url(url: &DatabaseUrl) -> DatabaseUrl {
    let admin = if url.database() == "postgres" {
        "template1"
    } else {
        "postgres"
    };
    url.with_database(admin)
}

async fn target_has_tables(url: &DatabaseUrl) -> anyhow::Result<bool> {
    let mut conn = postgres::connect(url, CONNECT_DEADLINE).await?;
    let has_tables = postgres::has_user_tables(&mut conn).await;
    let _ = conn.close().await;
    has_tables
}

/// Streams `path` into pg_restore (custom) or psql (plain) in the container, restoring into
/// the existing `database`. A non-zero exit is an error carrying stderr.
pub(crate) async fn restore_into(
    ctx: &Context,
    engine: &Engine,
    path: &Path,
    format: Format,
    database: &str,
) -> anyhow::Result<()> {
    let user = ctx.config.database_url.user();
    let argv: Vec<String> = match format {
        Format::Custom => vec![
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            "--username",
            &user,
            "--dbname",
            database,
        ],
        Format::Plain => vec![
            "psql",
            "--no-psqlrc",
            "--quiet",
            "--set",
            "ON_ERROR_STOP=1",
            "--username",
            &user,
            "--dbname",
            database,
            "--file",
            "-",
        ],
    }
    .into_iter()
    .map(String::from)
    .collect();
    feed_file(
        engine,
        &ctx.config.container,
        &argv,
        path,
        &format!("restoring into `{database}`"),
        Reads::Everything,
    )
    .await
    .with_context(|| format!("cannot restore `{}` into `{database}`", path.display()))?;
    Ok(())
}

/// Every user table (`schema.table`) with its exact row count, after ANALYZE.
pub(crate) async fn table_row_counts(
    conn: &mut PgConnection,
) -> anyhow::Result<Vec<(String, i64)>> {
    sqlx::raw_sql("ANALYZE")
        .execute(&mut *conn)
        .await
        .context("cannot analyze")?;
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .context("cannot list tables")?;
    let mut counts = Vec::with_capacity(tables.len());
    for (schema, table) in tables {
        let statement = format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(&schema),
            quote_ident(&table)
        );
        let rows: i64 = sqlx::query_scalar(&statement)
            .fetch_one(&mut *conn)
            .await
            .with_context(|| format!("cannot count the rows of `{schema}.{table}`"))?;
        counts.push((format!("{schema}.{table}"), rows));
    }
    Ok(counts)
}
