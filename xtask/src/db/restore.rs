//! `cargo xtask db restore FILE`: checks the `.sha256`, detects the format from the magic,
//! streams the file into `pg_restore` (custom) or `psql` (plain) in the container, and reports
//! the tables and rows restored. Never over a non-empty database without `--force`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::BytesMut;
use chrono::Utc;
use futures_util::StreamExt;
use sqlx::PgConnection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::backup::dump::Format;
use crate::backup::file::{checksum_path, sha256_of};
use crate::backup::name::{parse_checksum_line, restored_database_name};
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::db::backup::keep_tail;
use crate::docker::exec::ExecChunk;
use crate::docker::{self, Engine};
use crate::postgres::{self, quote_ident};
use crate::ui;

const CONNECT_DEADLINE: Duration = Duration::from_secs(30);
const READ_BUFFER: usize = 256 * 1024;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The dump: a custom archive (`.dump`) or a plain SQL script (`.sql`).
    file: PathBuf,
    /// The database to restore into (default: a new `nelo_restored_<time>`).
    #[arg(long, value_name = "NAME")]
    into: Option<String>,
    /// Drop and recreate the target database when it holds tables.
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
    let database = args
        .into
        .clone()
        .unwrap_or_else(|| restored_database_name(file_name, Utc::now()));
    let url = ctx.config.database_url.with_database(&database);
    let engine = docker::connect().await?;
    let created = prepare_target(&url, args.force).await?;
    let started = Instant::now();
    let result = restore_into(ctx, &engine, &args.file, format, &database).await;
    if let Err(error) = result {
        if created {
            let _ = drop_database(&url, &database).await;
        }
        return Err(error);
    }
    let mut conn = postgres::connect(&url, CONNECT_DEADLINE).await?;
    let counts = table_row_counts(&mut conn).await?;
    let rows: i64 = counts.iter().map(|(_, rows)| rows).sum();
    ui::step(format!(
        "restored {} into `{database}`: {} tables, {rows} rows in {:.1} s",
        args.file.display(),
        counts.len(),
        started.elapsed().as_secs_f64()
    ));
    println!("{database}");
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

/// Makes sure the target exists and holds no table (dropping it first with `force`);
/// returns whether it was created now.
async fn prepare_target(url: &DatabaseUrl, force: bool) -> anyhow::Result<bool> {
    let database = url.database();
    let mut server = postgres::connect(&url.with_database("postgres"), CONNECT_DEADLINE).await?;
    if postgres::database_exists(&mut server, &database).await? {
        let mut conn = postgres::connect(url, CONNECT_DEADLINE).await?;
        let has_tables = postgres::has_user_tables(&mut conn).await?;
        drop(conn);
        if !has_tables {
            return Ok(false);
        }
        if !force {
            bail!(
                "database `{database}` is not empty: restore into another one with --into NAME, or \
                 pass --force to drop and recreate it"
            );
        }
        ui::warn(format!("dropping database `{database}` (--force)"));
        let statement = format!("DROP DATABASE {} WITH (FORCE)", quote_ident(&database));
        sqlx::raw_sql(&statement)
            .execute(&mut server)
            .await
            .with_context(|| format!("cannot drop database `{database}`"))?;
    }
    postgres::ensure_database(&mut server, &database).await
}

pub(crate) async fn drop_database(url: &DatabaseUrl, database: &str) -> anyhow::Result<()> {
    let mut server = postgres::connect(&url.with_database("postgres"), CONNECT_DEADLINE).await?;
    let statement = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(database)
    );
    sqlx::raw_sql(&statement)
        .execute(&mut server)
        .await
        .with_context(|| format!("cannot drop database `{database}`"))?;
    Ok(())
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
    let container = &ctx.config.container;
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
    let program = argv[0].clone();
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    let total = file.metadata().await.map(|meta| meta.len()).unwrap_or(0);
    let mut running = engine.start_exec(container, &argv, true).await?;
    let mut input = running.input.take().expect("stdin attached");
    let bar = ui::byte_counter(format!("restoring into `{database}`"));
    bar.set_length(total);
    let feed = async {
        let mut buffer = BytesMut::with_capacity(READ_BUFFER);
        loop {
            buffer.clear();
            let read = file.read_buf(&mut buffer).await?;
            if read == 0 {
                break;
            }
            input.write_all(&buffer).await?;
            bar.inc(read as u64);
        }
        input.shutdown().await
    };
    let drain = async {
        let mut stderr = BytesMut::new();
        while let Some(chunk) = running.output.next().await {
            match chunk? {
                ExecChunk::Stdout(_) => {}
                ExecChunk::Stderr(bytes) => keep_tail(&mut stderr, &bytes),
            }
        }
        anyhow::Ok(String::from_utf8_lossy(&stderr).into_owned())
    };
    let (fed, stderr) = tokio::join!(feed, drain);
    ui::failed(&bar);
    let stderr = stderr?;
    let exit_code = engine.exec_exit_code(&running.id).await?;
    if exit_code != Some(0) {
        bail!(
            "{program} exited with code {} restoring `{}` into `{database}`: {}",
            exit_code.map_or("none".to_string(), |code| code.to_string()),
            path.display(),
            stderr.trim()
        );
    }
    // The program succeeded, so it read everything; a write error would mean it stopped early.
    fed.with_context(|| format!("cannot send `{}` to {program}", path.display()))?;
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
