//! Every catalog query the introspector runs, in one place. Each reads one kind; the
//! filters keep out the system schemas, extension members and `_prisma_migrations`.

use crate::sql::user_schema;

/// The filter on the schema (alias `n`) of an object of a user schema.
pub(super) fn in_user_schema() -> String {
    user_schema("n.nspname")
}

/// `SELECT ... WHERE` part for an object of catalog `class` with OID `oid` that no
/// extension owns.
pub(super) fn not_in_extension(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_depend x WHERE x.classid = '{class}'::regclass \
         AND x.objid = {oid} AND x.deptype = 'e')"
    )
}

/// A compared relation (alias `c`, its schema `n`) of the given relkinds.
pub(super) fn relation_filter(relkinds: &str) -> String {
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

/// Domains: (schema, name, base type, collation, NOT NULL, default, constraints as
/// `name<TAB>definition` sorted by name).
pub(super) fn domains_query() -> String {
    let ns = in_user_schema();
    format!(
        "SELECT n.nspname::text, t.typname::text, format_type(t.typbasetype, t.typtypmod),
           (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co
              JOIN pg_namespace cn ON cn.oid = co.collnamespace
              WHERE co.oid = t.typcollation AND t.typcollation <> bt.typcollation),
           t.typnotnull, t.typdefault,
           coalesce((SELECT array_agg(k.conname::text || E'\t' || pg_get_constraintdef(k.oid)
               ORDER BY k.conname) FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c'),
             '{{}}'::text[])
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         JOIN pg_type bt ON bt.oid = t.typbasetype
         WHERE t.typtype = 'd' AND {ns} AND {}",
        not_in_extension("pg_type", "t.oid")
    )
}

/// Attributes of composite types: (schema, type, attribute, type, collation), in order.
pub(super) fn composite_types_query() -> String {
    let ns = in_user_schema();
    format!(
        "SELECT n.nspname::text, t.typname::text, a.attname::text,
           format_type(a.atttypid, a.atttypmod),
           (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co
              JOIN pg_namespace cn ON cn.oid = co.collnamespace
              WHERE co.oid = a.attcollation AND a.attcollation <> at.typcollation)
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         JOIN pg_type at ON at.oid = a.atttypid
         WHERE t.typtype = 'c' AND {ns} AND {}
         ORDER BY 1, 2, a.attnum",
        not_in_extension("pg_type", "t.oid")
    )
}

/// Extended statistics objects: (schema, name, definition, target or NULL for the default).
pub(super) fn statistics_query() -> String {
    let ns = in_user_schema();
    format!(
        "SELECT n.nspname::text, o.stxname::text, pg_get_statisticsobjdef(o.oid),
           NULLIF(coalesce(o.stxstattarget::int, -1), -1)
         FROM pg_statistic_ext o JOIN pg_namespace n ON n.oid = o.stxnamespace
         WHERE {ns} AND {}",
        not_in_extension("pg_statistic_ext", "o.oid")
    )
}

/// Publications: (name, all tables, insert, update, delete, truncate, via root).
pub(super) fn publications_query() -> String {
    format!(
        "SELECT p.pubname::text, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete,
           p.pubtruncate, p.pubviaroot
         FROM pg_publication p WHERE {}",
        not_in_extension("pg_publication", "p.oid")
    )
}

/// Publication tables: (publication, schema, table, column list or NULL, row filter or NULL).
pub(super) const PUBLICATION_TABLES: &str = "SELECT p.pubname::text, n.nspname::text,
       c.relname::text,
       (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
          WHERE a.attrelid = r.prrelid AND a.attnum = ANY (r.prattrs)),
       pg_get_expr(r.prqual, r.prrelid)
     FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
     JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace";

/// Publication schemas: (publication, schema).
pub(super) const PUBLICATION_SCHEMAS: &str = "SELECT p.pubname::text, n.nspname::text
     FROM pg_publication_namespace s JOIN pg_publication p ON p.oid = s.pnpubid
     JOIN pg_namespace n ON n.oid = s.pnnspid";

/// Collations: (schema, name, provider, locale, lc_collate, lc_ctype, rules, deterministic).
pub(super) fn collations_query() -> String {
    let ns = in_user_schema();
    format!(
        "SELECT n.nspname::text, o.collname::text,
           CASE o.collprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END,
           o.colllocale, o.collcollate, o.collctype, o.collicurules, o.collisdeterministic
         FROM pg_collation o JOIN pg_namespace n ON n.oid = o.collnamespace WHERE {ns} AND {}",
        not_in_extension("pg_collation", "o.oid")
    )
}

/// Range types: (schema, name, subtype, opclass unless the default, collation unless the
/// subtype's, canonical, subtype_diff, multirange).
pub(super) fn ranges_query() -> String {
    let ns = in_user_schema();
    format!(
        "SELECT n.nspname::text, t.typname::text, format_type(r.rngsubtype, NULL),
           (SELECT format('%I.%I', opn.nspname, o.opcname) FROM pg_opclass o
              JOIN pg_namespace opn ON opn.oid = o.opcnamespace
              WHERE o.oid = r.rngsubopc AND NOT o.opcdefault),
           (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co
              JOIN pg_namespace cn ON cn.oid = co.collnamespace
              WHERE co.oid = r.rngcollation AND r.rngcollation <> st.typcollation),
           CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::regproc::text END,
           CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::regproc::text END,
           format_type(r.rngmultitypid, NULL)
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         JOIN pg_range r ON r.rngtypid = t.oid JOIN pg_type st ON st.oid = r.rngsubtype
         WHERE t.typtype = 'r' AND {ns} AND {}",
        not_in_extension("pg_type", "t.oid")
    )
}

/// Event triggers: (name, event, function, its schema, name and arguments when a user
/// function, tags, enabled).
pub(super) fn event_triggers_query() -> String {
    format!(
        "SELECT e.evtname::text, e.evtevent::text, e.evtfoid::regprocedure::text,
           pn.nspname::text, p.proname::text, oidvectortypes(p.proargtypes),
           coalesce((SELECT array_agg(tag ORDER BY tag) FROM unnest(e.evttags) tag), '{{}}'::text[]),
           e.evtenabled::text
         FROM pg_event_trigger e JOIN pg_proc p ON p.oid = e.evtfoid
         JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE {}",
        not_in_extension("pg_event_trigger", "e.oid")
    )
}

pub(super) fn tables_query() -> String {
    format!(
        "SELECT n.nspname::text, c.relname::text, c.relpersistence = 'u', c.relrowsecurity,
           c.relforcerowsecurity,
           coalesce((SELECT array_agg(o ORDER BY o) FROM unnest(c.reloptions) o), '{{}}'::text[])
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
             OR t.oid = ANY (p.proargtypes::oid[]) OR t.oid = ANY (coalesce(p.proallargtypes, '{{}}')))),
           -- The relations it reads: a BEGIN ATOMIC body's (the server records them), and
           -- those whose row type it takes or returns (`RETURNS SETOF view`).
           coalesce((SELECT array_agg(DISTINCT rn.nspname || E'\t' || rc.relname) FROM (
               SELECT d.refobjid AS oid FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                 AND d.objid = p.oid AND d.refclassid = 'pg_class'::regclass
               UNION SELECT t.typrelid FROM pg_type t WHERE t.typrelid <> 0 AND (t.oid = p.prorettype
                 OR t.oid = ANY (p.proargtypes::oid[]) OR t.oid = ANY (coalesce(p.proallargtypes, '{{}}')))
             ) r JOIN pg_class rc ON rc.oid = r.oid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE rc.relkind IN ('r', 'v', 'm', 'p')), '{{}}'),
           -- The functions a BEGIN ATOMIC body calls.
           coalesce((SELECT array_agg(DISTINCT cn.nspname || E'\t' || c.proname || E'\t'
               || oidvectortypes(c.proargtypes))
             FROM pg_depend d JOIN pg_proc c ON c.oid = d.refobjid
             JOIN pg_namespace cn ON cn.oid = c.pronamespace
             WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
               AND d.refclassid = 'pg_proc'::regclass AND d.deptype = 'n' AND c.oid <> p.oid), '{{}}')
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prokind IN ('f', 'p') AND {ns} AND {} AND {}",
        not_in_extension("pg_proc", "p.oid"),
        // A range's constructor functions exist only because of it (`pg_depend` type `i`).
        super::unmodelled::not_internal("pg_proc", "p.oid")
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
             'materialized view', 'materialized view column', 'index', 'sequence', 'type', 'domain',
             'composite type',
             'function', 'procedure', 'table constraint', 'trigger')
           AND {}
           AND NOT EXISTS (SELECT FROM pg_depend x WHERE x.classid = d.classoid
             AND x.objid = d.objoid AND x.deptype = 'e')
           AND (d.classoid <> 'pg_type'::regclass
             OR EXISTS (SELECT FROM pg_type t WHERE t.oid = d.objoid AND t.typtype IN ('e', 'd', 'c', 'r')))
           AND (d.classoid <> 'pg_class'::regclass OR NOT EXISTS (SELECT FROM pg_class c
             WHERE c.oid = d.objoid AND (c.relname = '_prisma_migrations' OR c.relispartition
               OR c.relkind IN ('p', 'f', 'c'))))",
        user_schema("coalesce(o.schema, '')")
    )
}

/// Policies on compared tables: (schema, table, policy, permissive, command, roles, USING,
/// WITH CHECK).
pub(super) fn policies_query() -> String {
    format!(
        "SELECT n.nspname::text, c.relname::text, pol.polname::text, pol.polpermissive,
           CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
             WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
           ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE r::regrole::text END
             FROM unnest(pol.polroles) r ORDER BY 1),
           pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid)
         FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {}",
        relation_filter("'r'")
    )
}

/// What policies read and call: (schema, table, policy, `relation` or `function`, schema,
/// name, function arguments or '').
pub(super) const POLICY_DEPENDENCIES: &str =
    "SELECT DISTINCT n.nspname::text, c.relname::text, pol.polname::text,
       CASE WHEN d.refclassid = 'pg_class'::regclass THEN 'relation' ELSE 'function' END,
       coalesce(rn.nspname, pn.nspname)::text, coalesce(r.relname, p.proname)::text,
       coalesce(oidvectortypes(p.proargtypes), '')
     FROM pg_policy pol
     JOIN pg_class c ON c.oid = pol.polrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_depend d ON d.classid = 'pg_policy'::regclass AND d.objid = pol.oid AND d.deptype = 'n'
       AND d.refclassid IN ('pg_class'::regclass, 'pg_proc'::regclass)
     LEFT JOIN pg_class r ON d.refclassid = 'pg_class'::regclass AND r.oid = d.refobjid
     LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
     LEFT JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid
     LEFT JOIN pg_namespace pn ON pn.oid = p.pronamespace
     WHERE coalesce(r.oid, p.oid) IS NOT NULL AND coalesce(r.oid, 0) <> c.oid";

/// Privileges other than the default on compared tables, views, sequences, functions and
/// schemas: (kind, schema, name, arguments, changes as [`super::unmodelled::acl_changes`]).
pub(super) fn privileges_query() -> String {
    use super::unmodelled::{acl_changes, not_internal};
    let relation_acl = acl_changes(
        "c.relacl",
        "acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner)",
        "c.relowner",
    );
    let function_acl = acl_changes("p.proacl", "acldefault('f', p.proowner)", "p.proowner");
    // PostgreSQL 15+ creates `public` usable by all: that is its default, not a grant.
    let schema_acl = acl_changes(
        "n.nspacl",
        "CASE WHEN n.nspname = 'public' THEN acldefault('n', n.nspowner) || makeaclitem(0, n.nspowner, 'USAGE', false) ELSE acldefault('n', n.nspowner) END",
        "n.nspowner",
    );
    // Default privileges (`ALTER DEFAULT PRIVILEGES`): a database-wide entry replaces the
    // built-in default of its kind, an `IN SCHEMA` one only adds to it (to nothing: an ACL of
    // the role's own entry, which never counts, as `aclexplode` refuses an empty one).
    let default_acl = acl_changes(
        "d.defaclacl",
        "CASE WHEN d.defaclnamespace = 0 THEN acldefault((CASE d.defaclobjtype WHEN 'S' THEN 's' \
         ELSE d.defaclobjtype END)::\"char\", d.defaclrole) \
         ELSE ARRAY[makeaclitem(d.defaclrole, d.defaclrole, 'SELECT', false)] END",
        "d.defaclrole",
    );
    let column_acl = acl_changes("a.attacl", "acldefault('c', c.relowner)", "c.relowner");
    let type_acl = acl_changes("t.typacl", "acldefault('T', t.typowner)", "t.typowner");
    let ns = in_user_schema();
    format!(
        "SELECT * FROM (
         SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname::text,
             c.relname::text, '', {relation_acl} AS changes
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {relations} AND {relation_internal}
         UNION ALL
         SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, n.nspname::text,
             p.proname::text, oidvectortypes(p.proargtypes), {function_acl}
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE p.prokind IN ('f', 'p') AND {ns} AND {proc_member} AND {proc_internal}
         UNION ALL
         SELECT 'SCHEMA', n.nspname::text, '', '', {schema_acl}
           FROM pg_namespace n WHERE {ns} AND {schema_member}
         UNION ALL
         SELECT 'COLUMN', n.nspname::text, c.relname::text, a.attname::text, {column_acl}
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
             AND {column_relations} AND {relation_internal}
         UNION ALL
         SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, n.nspname::text,
             t.typname::text, '', {type_acl}
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE (t.typtype IN ('d', 'e') OR (t.typtype = 'c' AND EXISTS (SELECT FROM pg_class c
               WHERE c.oid = t.typrelid AND c.relkind = 'c')))
             AND t.typacl IS NOT NULL AND {ns} AND {type_member} AND {type_internal}
         UNION ALL
         SELECT 'DEFAULT ' || CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'
               WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
             coalesce(n.nspname::text, ''), d.defaclrole::regrole::text, '', {default_acl}
           FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
         ) acl WHERE changes IS NOT NULL",
        relations = relation_filter("'r', 'v', 'm', 'S'"),
        relation_internal = not_internal("pg_class", "c.oid"),
        column_relations = relation_filter("'r', 'v', 'm'"),
        type_member = not_in_extension("pg_type", "t.oid"),
        type_internal = not_internal("pg_type", "t.oid"),
        proc_member = not_in_extension("pg_proc", "p.oid"),
        proc_internal = not_internal("pg_proc", "p.oid"),
        schema_member = not_in_extension("pg_namespace", "n.oid"),
    )
}
