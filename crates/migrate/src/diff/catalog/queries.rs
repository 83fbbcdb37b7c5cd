//! Every catalog query the introspector runs, in one place. Each reads one kind; the
//! filters keep out the system schemas, extension members and `_prisma_migrations`.

use crate::sql::user_schema;

/// The filter on the schema (alias `n`) of an object of a user schema.
fn in_user_schema() -> String {
    user_schema("n.nspname")
}

/// `SELECT ... WHERE` part for an object of catalog `class` with OID `oid` that no
/// extension owns.
fn not_in_extension(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_depend x WHERE x.classid = '{class}'::regclass \
         AND x.objid = {oid} AND x.deptype = 'e')"
    )
}

/// A compared relation (alias `c`, its schema `n`) of the given relkinds.
fn relation_filter(relkinds: &str) -> String {
    let ns = in_user_schema();
    format!(
        "c.relkind IN ({relkinds}) AND NOT c.relispartition AND c.relname <> '_prisma_migrations' \
         AND {ns} AND {}",
        not_in_extension("pg_class", "c.oid")
    )
}

pub(super) fn schemas_query() -> String {
    let ns = in_user_schema();
    format!(
        "SELECT n.nspname::text FROM pg_namespace n WHERE {ns} AND {}",
        not_in_extension("pg_namespace", "n.oid")
    )
}

pub(super) const EXTENSIONS: &str = "SELECT e.extname::text, n.nspname::text, e.extversion
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace";

pub(super) fn enums_query() -> String {
    let ns = in_user_schema();
    format!(
        "SELECT n.nspname::text, t.typname::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         JOIN pg_enum e ON e.enumtypid = t.oid
         WHERE {ns} AND {} GROUP BY 1, 2",
        not_in_extension("pg_type", "t.oid")
    )
}

pub(super) fn tables_query() -> String {
    format!(
        "SELECT n.nspname::text, c.relname::text, c.relpersistence = 'u'
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {}",
        relation_filter("'r'")
    )
}

pub(super) fn columns_query() -> String {
    format!(
        "SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
           CASE WHEN a.attcollation <> t.typcollation THEN format('%I.%I', cn.nspname, co.collname) END,
           a.attnotnull,
           CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
           NULLIF(a.attidentity::text, ''),
           CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
           (SELECT format('INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %sCYCLE',
               s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache,
               CASE WHEN s.seqcycle THEN '' ELSE 'NO ' END)
             FROM pg_depend i JOIN pg_sequence s ON s.seqrelid = i.objid
             WHERE i.classid = 'pg_class'::regclass AND i.refclassid = 'pg_class'::regclass
               AND i.refobjid = a.attrelid AND i.refobjsubid = a.attnum AND i.deptype = 'i')
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_collation co ON co.oid = a.attcollation
         LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attnum > 0 AND NOT a.attisdropped AND {}
         ORDER BY 1, 2, a.attnum",
        relation_filter("'r'")
    )
}

pub(super) fn constraints_query() -> String {
    format!(
        "SELECT n.nspname::text, c.relname::text, k.conname::text, k.contype::text,
           pg_get_constraintdef(k.oid), k.convalidated
         FROM pg_constraint k
         JOIN pg_class c ON c.oid = k.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE k.contype IN ('p', 'u', 'c', 'f', 'x') AND {}",
        relation_filter("'r'")
    )
}

/// Indexes that no primary key, unique or exclusion constraint owns.
pub(super) fn indexes_query() -> String {
    format!(
        "SELECT n.nspname::text, ic.relname::text, c.relname::text, pg_get_indexdef(i.indexrelid),
           i.indisvalid, c.relkind = 'm'
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE {} AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid
           AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))",
        relation_filter("'r', 'm'")
    )
}

/// Sequences, but not those of identity columns (part of the column).
pub(super) fn sequences_query() -> String {
    let ns = in_user_schema();
    format!(
        "SELECT n.nspname::text, c.relname::text, format_type(s.seqtypid, NULL), s.seqstart,
           s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
           tn.nspname::text, t.relname::text, a.attname::text
         FROM pg_sequence s
         JOIN pg_class c ON c.oid = s.seqrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
         LEFT JOIN pg_class t ON t.oid = d.refobjid
         LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE {ns} AND {} AND NOT EXISTS (SELECT FROM pg_depend i
           WHERE i.classid = 'pg_class'::regclass AND i.objid = c.oid AND i.deptype = 'i')",
        not_in_extension("pg_class", "c.oid")
    )
}

pub(super) fn views_query() -> String {
    format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind = 'm', pg_get_viewdef(c.oid, true),
           coalesce(c.reloptions::text[], '{{}}')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {}",
        relation_filter("'v', 'm'")
    )
}

/// What each view's query reads: (view schema, view, relation schema, relation).
pub(super) const VIEW_RELATIONS: &str =
    "SELECT DISTINCT n.nspname::text, v.relname::text, rn.nspname::text, r.relname::text
    FROM pg_rewrite rw
    JOIN pg_class v ON v.oid = rw.ev_class
    JOIN pg_namespace n ON n.oid = v.relnamespace
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
      AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'n'
    JOIN pg_class r ON r.oid = d.refobjid
    JOIN pg_namespace rn ON rn.oid = r.relnamespace
    WHERE v.relkind IN ('v', 'm') AND r.oid <> v.oid";

/// The user functions each view's query calls.
pub(super) fn view_calls_query() -> String {
    format!(
        "SELECT DISTINCT n.nspname::text, v.relname::text, pn.nspname::text, p.proname::text,
      oidvectortypes(p.proargtypes)
    FROM pg_rewrite rw
    JOIN pg_class v ON v.oid = rw.ev_class
    JOIN pg_namespace n ON n.oid = v.relnamespace
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
      AND d.refclassid = 'pg_proc'::regclass AND d.deptype = 'n'
    JOIN pg_proc p ON p.oid = d.refobjid
    JOIN pg_namespace pn ON pn.oid = p.pronamespace
    WHERE v.relkind IN ('v', 'm') AND {}",
        user_schema("pn.nspname")
    )
}

pub(super) fn functions_query() -> String {
    let ns = in_user_schema();
    format!(
        "SELECT n.nspname::text, p.proname::text, oidvectortypes(p.proargtypes), p.prokind::text,
           pg_get_functiondef(p.oid), coalesce(pg_get_function_result(p.oid), ''),
           EXISTS (SELECT FROM pg_type t WHERE t.typrelid <> 0 AND (t.oid = p.prorettype
             OR t.oid = ANY (p.proargtypes::oid[]) OR t.oid = ANY (coalesce(p.proallargtypes, '{{}}'))))
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prokind IN ('f', 'p') AND {ns} AND {}",
        not_in_extension("pg_proc", "p.oid")
    )
}

/// The indexes, constraints and column defaults that call a user function:
/// (function schema, name, arguments, user kind, schema, index or table, constraint or column).
pub(super) fn function_users_query() -> String {
    format!(
        "SELECT DISTINCT pn.nspname::text, p.proname::text, oidvectortypes(p.proargtypes),
      CASE WHEN i.oid IS NOT NULL THEN 'index' WHEN k.oid IS NOT NULL THEN 'constraint' ELSE 'default' END,
      n.nspname::text, c.relname::text, coalesce(k.conname::text, a.attname::text, '')
    FROM pg_depend d
    JOIN pg_proc p ON p.oid = d.refobjid
    JOIN pg_namespace pn ON pn.oid = p.pronamespace
    LEFT JOIN pg_class i ON d.classid = 'pg_class'::regclass AND i.oid = d.objid AND i.relkind = 'i'
    LEFT JOIN pg_constraint k ON d.classid = 'pg_constraint'::regclass AND k.oid = d.objid
    LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
    LEFT JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
    JOIN pg_class c ON c.oid = coalesce(i.oid, k.conrelid, ad.adrelid)
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE d.refclassid = 'pg_proc'::regclass AND d.deptype = 'n'
      AND {}",
        user_schema("pn.nspname")
    )
}

pub(super) fn triggers_query() -> String {
    format!(
        "SELECT n.nspname::text, c.relname::text, t.tgname::text, pg_get_triggerdef(t.oid, true),
           t.tgenabled::text, pn.nspname::text, p.proname::text, oidvectortypes(p.proargtypes),
           t.tgqual IS NOT NULL OR cardinality(t.tgattr::int2[]) > 0
         FROM pg_trigger t
         JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_proc p ON p.oid = t.tgfoid
         JOIN pg_namespace pn ON pn.oid = p.pronamespace
         WHERE NOT t.tgisinternal AND {}",
        relation_filter("'r', 'v'")
    )
}

/// Comments on the compared kinds (enum types only; not on extensions, which set their own).
pub(super) fn comments_query() -> String {
    format!(
        "SELECT o.type, o.identity, d.description,
           CASE d.classoid
             WHEN 'pg_class'::regclass THEN
               CASE WHEN d.objsubid = 0 THEN 'relation' ELSE 'column' END
             WHEN 'pg_constraint'::regclass THEN 'constraint'
             WHEN 'pg_trigger'::regclass THEN 'trigger'
             WHEN 'pg_proc'::regclass THEN 'function'
             WHEN 'pg_type'::regclass THEN 'type'
             ELSE 'schema' END,
           coalesce(rn.nspname, pn.nspname, tn.nspname, sn.nspname, '')::text,
           coalesce(r.relname, p.proname, t.typname, '')::text,
           coalesce(a.attname, k.conname, g.tgname, oidvectortypes(p.proargtypes), '')::text
         FROM pg_description d
         CROSS JOIN LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o
         LEFT JOIN pg_constraint k ON d.classoid = 'pg_constraint'::regclass AND k.oid = d.objoid
         LEFT JOIN pg_trigger g ON d.classoid = 'pg_trigger'::regclass AND g.oid = d.objoid
         LEFT JOIN pg_class r ON r.oid = CASE d.classoid WHEN 'pg_class'::regclass THEN d.objoid
           WHEN 'pg_constraint'::regclass THEN k.conrelid WHEN 'pg_trigger'::regclass THEN g.tgrelid END
         LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
         LEFT JOIN pg_attribute a ON d.classoid = 'pg_class'::regclass AND d.objsubid > 0
           AND a.attrelid = d.objoid AND a.attnum = d.objsubid
         LEFT JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND p.oid = d.objoid
         LEFT JOIN pg_namespace pn ON pn.oid = p.pronamespace
         LEFT JOIN pg_type t ON d.classoid = 'pg_type'::regclass AND t.oid = d.objoid
         LEFT JOIN pg_namespace tn ON tn.oid = t.typnamespace
         LEFT JOIN pg_namespace sn ON d.classoid = 'pg_namespace'::regclass AND sn.oid = d.objoid
         WHERE d.objoid >= 16384
           -- PostgreSQL's own comment, which `reset` writes when it recreates `public`.
           AND NOT (d.classoid = 'pg_namespace'::regclass AND sn.nspname = 'public'
             AND d.description = 'standard public schema')
           AND o.type IN ('schema', 'table', 'table column', 'view', 'view column',
             'materialized view', 'materialized view column', 'index', 'sequence', 'type',
             'function', 'procedure', 'table constraint', 'trigger')
           AND {}
           AND NOT EXISTS (SELECT FROM pg_depend x WHERE x.classid = d.classoid
             AND x.objid = d.objoid AND x.deptype = 'e')
           AND (d.classoid <> 'pg_type'::regclass
             OR EXISTS (SELECT FROM pg_type t WHERE t.oid = d.objoid AND t.typtype = 'e'))
           AND (d.classoid <> 'pg_class'::regclass OR NOT EXISTS (SELECT FROM pg_class c
             WHERE c.oid = d.objoid AND (c.relname = '_prisma_migrations' OR c.relispartition
               OR c.relkind IN ('p', 'f', 'c'))))",
        user_schema("coalesce(o.schema, '')")
    )
}

/// Every object of a kind nelo does not compare: (kind, identity). Listed on every diff so
/// that nothing is ignored silently.
pub(super) fn not_compared_query() -> String {
    let ns = in_user_schema();
    let member = not_in_extension;
    format!(
        "SELECT 'policy', format('%I on %I.%I', pol.polname, n.nspname, c.relname)
           FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
         UNION ALL
         SELECT 'row level security', format('%I.%I', n.nspname, c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE (c.relrowsecurity OR c.relforcerowsecurity) AND {ns}
         UNION ALL
         SELECT CASE t.typtype WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range type' ELSE 'composite type' END,
             format('%I.%I', n.nspname, t.typname)
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE (t.typtype IN ('d', 'r') OR (t.typtype = 'c' AND EXISTS (SELECT FROM pg_class c
             WHERE c.oid = t.typrelid AND c.relkind = 'c'))) AND {ns} AND {}
         UNION ALL
         SELECT 'rule', format('%I on %I.%I', r.rulename, n.nspname, c.relname)
           FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE r.rulename <> '_RETURN' AND {ns}
         UNION ALL
         SELECT CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table'
             ELSE 'partition' END, format('%I.%I', n.nspname, c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE (c.relkind IN ('p', 'f') OR (c.relkind = 'r' AND c.relispartition)) AND {ns} AND {}
         UNION ALL
         SELECT 'table inheritance', format('%I.%I inherits %I.%I', n.nspname, c.relname, pn.nspname, p.relname)
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
           WHERE NOT c.relispartition AND p.relkind = 'r' AND {ns}
         UNION ALL
         SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' ELSE 'window function' END,
             format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes))
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE p.prokind IN ('a', 'w') AND {ns} AND {}
         UNION ALL
         SELECT 'operator', format('%s.%s(%s, %s)', quote_ident(n.nspname), o.oprname,
             format_type(o.oprleft, NULL), format_type(o.oprright, NULL))
           FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE {ns} AND {}
         UNION ALL
         SELECT 'collation', format('%I.%I', n.nspname, o.collname)
           FROM pg_collation o JOIN pg_namespace n ON n.oid = o.collnamespace WHERE {ns} AND {}
         UNION ALL
         SELECT 'text search configuration', format('%I.%I', n.nspname, o.cfgname)
           FROM pg_ts_config o JOIN pg_namespace n ON n.oid = o.cfgnamespace WHERE {ns} AND {}
         UNION ALL
         SELECT 'text search dictionary', format('%I.%I', n.nspname, o.dictname)
           FROM pg_ts_dict o JOIN pg_namespace n ON n.oid = o.dictnamespace WHERE {ns} AND {}
         UNION ALL
         SELECT 'statistics object', format('%I.%I', n.nspname, o.stxname)
           FROM pg_statistic_ext o JOIN pg_namespace n ON n.oid = o.stxnamespace WHERE {ns}
         UNION ALL
         SELECT 'grant', format('on %I.%I', n.nspname, c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'v', 'm', 'S', 'p')
             AND c.relname <> '_prisma_migrations' AND {ns} AND {}
         UNION ALL
         SELECT 'grant', format('on function %I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes))
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE p.proacl IS NOT NULL AND {ns} AND {}
         UNION ALL
         SELECT 'grant', format('on schema %I', n.nspname) FROM pg_namespace n
           WHERE n.nspacl IS NOT NULL AND n.nspname <> 'public' AND {ns}
         UNION ALL
         SELECT 'default privileges', format('for role %s', d.defaclrole::regrole) FROM pg_default_acl d
         UNION ALL
         SELECT 'cast', format('%s AS %s', format_type(c.castsource, NULL), format_type(c.casttarget, NULL))
           FROM pg_cast c WHERE c.oid >= 16384 AND {}
         UNION ALL
         SELECT 'publication', quote_ident(pubname) FROM pg_publication
         UNION ALL
         SELECT 'event trigger', quote_ident(evtname) FROM pg_event_trigger
         UNION ALL
         SELECT 'storage parameters', format('%I.%I (%s)', n.nspname, c.relname, array_to_string(c.reloptions, ', '))
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND c.reloptions IS NOT NULL AND {tables}
         UNION ALL
         SELECT 'tablespace', format('%I.%I in %I', n.nspname, c.relname, s.spcname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_tablespace s ON s.oid = c.reltablespace
           WHERE c.relkind IN ('r', 'm', 'i') AND c.reltablespace <> 0 AND {ns} AND {}
         UNION ALL
         SELECT 'replica identity', format('%I.%I (%s)', n.nspname, c.relname,
             CASE c.relreplident WHEN 'f' THEN 'full' WHEN 'n' THEN 'nothing' ELSE 'index' END)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND c.relreplident <> 'd' AND {tables}
         UNION ALL
         SELECT 'clustered index', format('%I.%I on %I', n.nspname, c.relname, i.relname)
           FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
           JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE x.indisclustered AND {tables}
         UNION ALL
         SELECT 'column settings', format('%I.%I.%I (%s)', n.nspname, c.relname, a.attname, concat_ws(', ',
               CASE WHEN a.attstorage <> t.typstorage THEN 'storage ' || CASE a.attstorage
                 WHEN 'p' THEN 'plain' WHEN 'e' THEN 'external' WHEN 'm' THEN 'main' ELSE 'extended' END END,
               CASE a.attcompression WHEN 'p' THEN 'compression pglz' WHEN 'l' THEN 'compression lz4' END,
               CASE WHEN coalesce(a.attstattarget, -1) >= 0 THEN 'statistics ' || a.attstattarget END,
               NULLIF(array_to_string(ARRAY(SELECT o FROM unnest(a.attoptions) o
                 WHERE o LIKE 'n\\_distinct%'), ', '), '')))
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_type t ON t.oid = a.atttypid
           WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r'
             AND (a.attstorage <> t.typstorage OR a.attcompression IN ('p', 'l')
               OR coalesce(a.attstattarget, -1) >= 0
               OR EXISTS (SELECT FROM unnest(a.attoptions) o WHERE o LIKE 'n\\_distinct%'))
             AND {tables}",
        member("pg_type", "t.oid"),
        member("pg_class", "c.oid"),
        member("pg_proc", "p.oid"),
        member("pg_operator", "o.oid"),
        member("pg_collation", "o.oid"),
        member("pg_ts_config", "o.oid"),
        member("pg_ts_dict", "o.oid"),
        member("pg_class", "c.oid"),
        member("pg_proc", "p.oid"),
        member("pg_cast", "c.oid"),
        member("pg_class", "c.oid"),
        tables = relation_filter("'r', 'm'"),
    )
}
