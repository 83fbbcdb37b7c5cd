//! A database's schema as sorted text lines read from `pg_catalog`, to compare two databases
//! built from the same migrations by different engines.
//!
//! Done in SQL because the host's `pg_dump` (15) cannot dump the PostgreSQL 17 server.
//! xtask's `db backup --verify` reads a smaller catalog for another purpose (a backup against
//! its restore) inside the xtask binary, where tests cannot reach it; this one is complete
//! enough to tell two migration engines apart.
//!
//! Every line names its object by schema and name, never by OID, database or owner, so two
//! databases built the same way give the same lines. Left out, on purpose:
//! - `_prisma_migrations` (its rows differ by engine and time) and its primary key;
//! - what extensions own (`pg_depend.deptype = 'e'`): pgvector's functions and types;
//! - temporary schemas (`pg_temp_N`, `pg_toast_temp_N`): session state, not schema;
//! - owners and privileges (ACLs name the grantor): Prisma runs every migration after a
//!   `SET ROLE` as that role, nelo-migrate does not, and both are right about the schema.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// One line per schema object; see the module documentation for what is left out.
const CATALOG_QUERY: &str = r#"
WITH ns AS (
    SELECT n.oid, n.nspname FROM pg_namespace n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                      AND d.objid = n.oid AND d.deptype = 'e')
),
rel AS (
    SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.relrowsecurity,
           c.relforcerowsecurity, ns.nspname
    FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c', 'S')
      AND c.relname <> '_prisma_migrations'
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
),
typ AS (
    SELECT t.*, ns.nspname FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
    WHERE NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                      AND d.objid = t.oid AND d.deptype = 'e')
),
fun AS (
    SELECT p.oid, p.proname, p.prokind, ns.nspname FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
    WHERE NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')
)
SELECT format('schema %I', nspname) FROM ns
UNION ALL
SELECT format('extension %I %s in %I', e.extname, e.extversion, n.nspname)
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
UNION ALL
SELECT format('relation %I.%I kind=%s persistence=%s row_security=%s/%s', nspname, relname,
              relkind, relpersistence, relrowsecurity, relforcerowsecurity)
FROM rel WHERE relkind <> 'S'
UNION ALL
SELECT format('column %I.%I #%s %I %s%s%s%s%s%s', r.nspname, r.relname,
              row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), a.attname,
              format_type(a.atttypid, a.atttypmod),
              CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
              CASE WHEN a.attgenerated = 's' THEN ' generated always as '
                   WHEN ad.adbin IS NOT NULL THEN ' default ' ELSE '' END
                || coalesce(pg_get_expr(ad.adbin, ad.adrelid), ''),
              CASE a.attidentity WHEN 'a' THEN ' identity always'
                                 WHEN 'd' THEN ' identity by default' ELSE '' END,
              CASE WHEN a.attcollation <> t.typcollation
                   THEN format(' collate %I', co.collname) ELSE '' END,
              CASE WHEN a.attstorage <> t.typstorage
                   THEN format(' storage %s', a.attstorage) ELSE '' END)
FROM pg_attribute a
JOIN rel r ON r.oid = a.attrelid
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attnum > 0 AND NOT a.attisdropped AND r.relkind <> 'S'
UNION ALL
SELECT format('constraint %I.%I %I %s%s', r.nspname, r.relname, con.conname,
              pg_get_constraintdef(con.oid),
              CASE WHEN con.convalidated THEN '' ELSE ' (not validated)' END)
FROM pg_constraint con JOIN rel r ON r.oid = con.conrelid
UNION ALL
SELECT format('constraint on domain %I.%I %I %s', t.nspname, t.typname, con.conname,
              pg_get_constraintdef(con.oid))
FROM pg_constraint con JOIN typ t ON t.oid = con.contypid
UNION ALL
SELECT format('index %I.%I %s%s', r.nspname, ic.relname, pg_get_indexdef(i.indexrelid),
              CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END)
FROM pg_index i
JOIN rel r ON r.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
UNION ALL
SELECT format('enum %I.%I (%s)', t.nspname, t.typname,
              string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder))
FROM typ t JOIN pg_enum e ON e.enumtypid = t.oid
GROUP BY t.nspname, t.typname
UNION ALL
SELECT format('domain %I.%I %s%s%s', t.nspname, t.typname, format_type(t.typbasetype, t.typtypmod),
              CASE WHEN t.typnotnull THEN ' not null' ELSE '' END,
              coalesce(' default ' || t.typdefault, ''))
FROM typ t WHERE t.typtype = 'd'
UNION ALL
SELECT format('range %I.%I of %s', t.nspname, t.typname, format_type(rg.rngsubtype, NULL))
FROM typ t JOIN pg_range rg ON rg.rngtypid = t.oid
UNION ALL
SELECT format('sequence %I.%I %s start %s increment %s min %s max %s cache %s%s%s', r.nspname,
              r.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
              s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END,
              coalesce((SELECT format(' owned by %I.%I', owner.relname, a.attname)
                        FROM pg_depend d
                        JOIN pg_class owner ON owner.oid = d.refobjid
                        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid
                          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                        LIMIT 1), ''))
FROM pg_sequence s JOIN rel r ON r.oid = s.seqrelid
UNION ALL
SELECT format('view %I.%I %s', nspname, relname, pg_get_viewdef(oid, true))
FROM rel WHERE relkind IN ('v', 'm')
UNION ALL
SELECT format('function %I.%I(%s) %s', f.nspname, f.proname,
              pg_get_function_identity_arguments(f.oid),
              CASE WHEN f.prokind = 'a' THEN 'aggregate' ELSE pg_get_functiondef(f.oid) END)
FROM fun f
UNION ALL
SELECT format('trigger %I.%I %s enabled=%s', r.nspname, r.relname, pg_get_triggerdef(tg.oid),
              tg.tgenabled)
FROM pg_trigger tg JOIN rel r ON r.oid = tg.tgrelid
WHERE NOT tg.tgisinternal
UNION ALL
SELECT format('policy %I.%I %I %s %s to %s using %s check %s', p.schemaname, p.tablename,
              p.policyname, p.permissive, p.cmd, p.roles, p.qual, p.with_check)
FROM pg_policies p WHERE p.schemaname IN (SELECT nspname FROM ns)
UNION ALL
SELECT format('rule %I.%I %s', rl.schemaname, rl.rulename, rl.definition)
FROM pg_rules rl WHERE rl.schemaname IN (SELECT nspname FROM ns)
UNION ALL
SELECT format('comment on %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid),
              d.description)
FROM pg_description d
WHERE (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM rel))
   OR (d.classoid = 'pg_type'::regclass AND d.objoid IN (SELECT oid FROM typ))
   OR (d.classoid = 'pg_proc'::regclass AND d.objoid IN (SELECT oid FROM fun))
   OR (d.classoid = 'pg_namespace'::regclass AND d.objoid IN (SELECT oid FROM ns))
   OR (d.classoid = 'pg_constraint'::regclass AND d.objoid IN (
          SELECT con.oid FROM pg_constraint con JOIN rel r ON r.oid = con.conrelid))
   OR (d.classoid = 'pg_trigger'::regclass AND d.objoid IN (
          SELECT tg.oid FROM pg_trigger tg JOIN rel r ON r.oid = tg.tgrelid))
"#;

/// The schema of the database at `url`, one sorted line per object.
pub async fn catalog(url: &str) -> Vec<String> {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("connect to read the catalog");
    // Definitions print names relative to the search path: make it the same everywhere.
    sqlx::raw_sql("SET search_path = public")
        .execute(&mut conn)
        .await
        .expect("set the search path");
    let mut lines: Vec<String> = sqlx::query_scalar(CATALOG_QUERY)
        .fetch_all(&mut conn)
        .await
        .expect("read the catalog");
    let _ = conn.close().await;
    lines.sort();
    lines
}

/// Lines only in `left` (`-`) and only in `right` (`+`), both sorted; empty when equal.
pub fn catalog_difference(left: &[String], right: &[String]) -> String {
    let (mut left, mut right) = (left.iter().peekable(), right.iter().peekable());
    let mut text = String::new();
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => return text,
            (Some(l), Some(r)) if l == r => {
                left.next();
                right.next();
            }
            (Some(l), r) if r.is_none_or(|r| l < r) => {
                text.push_str(&format!("- {l}\n"));
                left.next();
            }
            (_, Some(r)) => {
                text.push_str(&format!("+ {r}\n"));
                right.next();
            }
            (Some(_), None) => unreachable!("handled by the arm before"),
        }
    }
}

/// Panics with the differing lines unless the two databases have the same schema.
pub async fn assert_same_catalog(left_url: &str, right_url: &str, what: &str) {
    let left = catalog(left_url).await;
    let right = catalog(right_url).await;
    assert!(
        left.len() > 1,
        "the catalog of {what} is empty: the query reads nothing"
    );
    let difference = catalog_difference(&left, &right);
    assert!(
        difference.is_empty(),
        "{what}: the schemas differ\n{difference}"
    );
}
