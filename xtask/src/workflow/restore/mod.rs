//! Restoring a dump into a database of the running server, and what a restore works with:
//! the file check, the scratch database's removal, exact row counts.

pub(crate) mod stream;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sqlx::PgConnection;

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::Engine;
use crate::dump::name::parse_checksum_line;
use crate::dump::programs::{Format, pg_restore_argv};
use crate::dump_file::{checksum_path, sha256_of};
use crate::postgres::{self, quote_ident};
use stream::{Reads, feed_file, restore_filtered};

const CONNECT_DEADLINE: Duration = postgres::CONNECT_TIMEOUT;

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

/// Streams `path` into pg_restore (custom) or psql (plain) in the container, restoring into
/// the existing `database`, with the archive's owners or (`keep_owners: false`) owned by the
/// restoring user. A non-zero exit is an error carrying stderr.
pub(crate) async fn restore_into(
    ctx: &Context,
    engine: &Engine,
    path: &Path,
    format: Format,
    database: &str,
    keep_owners: bool,
) -> anyhow::Result<()> {
    let user = ctx.config.database_url.user();
    if format == Format::Plain {
        // Through psql, restricted: it runs no meta-command from the script.
        return restore_filtered(
            engine,
            &ctx.config.container,
            &user,
            path,
            format,
            database,
            None,
        )
        .await
        .with_context(|| format!("cannot restore `{}` into `{database}`", path.display()));
    }
    let argv = pg_restore_argv(&user, database, keep_owners);
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
    let tables: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {} ORDER BY 1, 2",
        nelo_migrate::sql::user_schema("n.nspname")
    ))
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

/// Drops `name` when it exists (closing its connections); returns whether it existed.
pub(crate) async fn drop_database_on(admin: &mut PgConnection, name: &str) -> anyhow::Result<bool> {
    if !postgres::database_exists(admin, name).await? {
        return Ok(false);
    }
    nelo_migrate::postgres::drop_database(admin, name)
        .await
        .with_context(|| format!("cannot drop database `{name}`"))?;
    Ok(true)
}

pub(crate) async fn drop_database(url: &DatabaseUrl, database: &str) -> anyhow::Result<()> {
    let mut server = postgres::connect_maintenance(url, CONNECT_DEADLINE).await?;
    drop_database_on(&mut server, database).await?;
    Ok(())
}
