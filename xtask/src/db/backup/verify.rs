//! `db backup --verify`: restore the dump into a scratch database, compare its catalog and
//! exact row counts with the source, and drop the scratch database whatever happens.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::PgConnection;

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::Engine;
use crate::dump::compare::{Snapshot, differences};
use crate::postgres;
use crate::workflow::restore::{check_file, drop_database, restore_into, table_row_counts};

const CONNECT_DEADLINE: Duration = postgres::CONNECT_TIMEOUT;

/// The catalog, one line per object, identical between a database and its faithful copy
/// (no OIDs, no owners).
fn catalog_query() -> String {
    let user_schema = nelo_migrate::sql::user_schema;
    let (n_is_user, schemaname_is_user) = (user_schema("n.nspname"), user_schema("schemaname"));
    format!(
        "
SELECT format('column %I.%I.%I %s not_null=%s default=%s', n.nspname, c.relname, a.attname,
              format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm')
  AND {n_is_user}
UNION ALL
SELECT format('index %I.%I %s', schemaname, indexname, indexdef) FROM pg_indexes
WHERE {schemaname_is_user}
UNION ALL
SELECT format('constraint %I.%I.%I %s', n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid))
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {n_is_user}
UNION ALL
SELECT format('enum %I.%I %s', n.nspname, t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder))
FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace
GROUP BY n.nspname, t.typname
UNION ALL
SELECT format('view %I.%I %s', schemaname, viewname, definition) FROM pg_views
WHERE {schemaname_is_user}
UNION ALL
SELECT format('extension %s %s', extname, extversion) FROM pg_extension"
    )
}

/// The result of a verification.
pub struct Report {
    pub tables: usize,
    pub rows: i64,
    pub differences: Vec<String>,
}

impl Report {
    pub fn is_match(&self) -> bool {
        self.differences.is_empty()
    }

    pub fn describe(&self) -> String {
        if self.is_match() {
            format!(
                "verified: the backup restores to the same schema, {} tables and {} rows",
                self.tables, self.rows
            )
        } else {
            let mut text = format!("verification found {} differences:", self.differences.len());
            for line in self.differences.iter().take(20) {
                text.push_str("\n    ");
                text.push_str(line);
            }
            text
        }
    }
}

/// The source database held still for pg_dump: a read-only repeatable-read transaction
/// whose snapshot pg_dump adopts (`--snapshot`), and what the database holds in it. Row
/// counts are exactly what was dumped, whatever is written meanwhile. (Definitions that
/// pg_get_*def() prints come from the latest catalog, as in pg_dump itself.)
pub(super) struct PinnedSource {
    conn: PgConnection,
    pub snapshot_id: String,
    contents: Snapshot,
}

impl PinnedSource {
    pub async fn pin(source: &DatabaseUrl) -> anyhow::Result<PinnedSource> {
        let mut conn = postgres::connect(source, CONNECT_DEADLINE).await?;
        sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut conn)
            .await
            .context("cannot start the transaction that --verify compares with")?;
        let snapshot_id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut conn)
            .await
            .context("cannot export a snapshot for pg_dump")?;
        let contents = snapshot(&mut conn).await?;
        Ok(PinnedSource {
            conn,
            snapshot_id,
            contents,
        })
    }

    /// Ends the transaction (pg_dump has finished with its snapshot); what it saw.
    pub async fn release(self) -> Snapshot {
        use sqlx::Connection as _;
        let _ = self.conn.close().await;
        self.contents
    }
}

/// Restores `dump` into a scratch database and compares it with `original`, what the
/// source held when it was dumped.
pub(super) async fn verify(
    ctx: &Context,
    engine: &Engine,
    source: &DatabaseUrl,
    dump: &Path,
    original: Snapshot,
) -> anyhow::Result<Report> {
    let format = check_file(dump)?;
    let scratch = format!("nelo_verify_{}", uuid::Uuid::new_v4().simple());
    let scratch_url = source.with_database(&scratch);
    let mut server = postgres::connect_maintenance(source, CONNECT_DEADLINE).await?;
    postgres::ensure_database(&mut server, &scratch).await?;
    drop(server);
    let result = compare(ctx, engine, &original, &scratch_url, dump, format).await;
    let dropped = drop_database(source, &scratch).await;
    let report = result.with_context(|| format!("cannot verify `{}`", dump.display()))?;
    dropped.with_context(|| format!("the scratch database `{scratch}` is left behind"))?;
    Ok(report)
}

async fn compare(
    ctx: &Context,
    engine: &Engine,
    original: &Snapshot,
    scratch: &DatabaseUrl,
    dump: &Path,
    format: crate::dump::programs::Format,
) -> anyhow::Result<Report> {
    restore_into(ctx, engine, dump, format, &scratch.database(), false).await?;
    let restored = snapshot(&mut postgres::connect(scratch, CONNECT_DEADLINE).await?).await?;
    Ok(Report {
        tables: original.row_counts.len(),
        rows: original.row_counts.iter().map(|(_, rows)| rows).sum(),
        differences: differences(original, &restored),
    })
}

async fn snapshot(conn: &mut PgConnection) -> anyhow::Result<Snapshot> {
    let catalog: Vec<String> = sqlx::query_scalar(&catalog_query())
        .fetch_all(&mut *conn)
        .await
        .context("cannot read the catalog")?;
    Ok(Snapshot {
        catalog,
        row_counts: table_row_counts(conn).await?,
    })
}
