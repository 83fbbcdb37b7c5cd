//! The catalog query for every object of a kind nelo does not model: each row is
//! (kind, schema, identity, definition). The definition is what the server says the object
//! is (its deparsed text, options, members, privileges), so that an object whose kind is not
//! compared still counts when it differs between the sides: the answer is then "cannot tell",
//! never "in sync".
//!
//! Policies and row-level security are modelled on plain tables ([`super::super::model::Policy`]);
//! here only those of partitioned tables and partitions.
//!
//! Left out, as everywhere: extension members (`pg_depend` type `e`), and objects that exist
//! only because of another (type `i` or `a`: a range's multirange and constructor functions,
//! a table's row type, an array type), which go with their owner.

use super::queries::{in_user_schema, not_in_extension, relation_filter};

/// No `pg_depend` row of type `i` or `a` makes the object (of catalog `class`, OID `oid`)
/// part of another one.
pub(super) fn not_internal(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_depend z WHERE z.classid = '{class}'::regclass \
         AND z.objid = {oid} AND z.objsubid = 0 AND z.deptype IN ('i', 'a'))"
    )
}

/// The privileges of an ACL `acl` that differ from the default one `default` of an object
/// owned by `owner`, without the grantor and without the owner's own entries (what an owner
/// may do is not a grant): `+bob SELECT`, `+bob SELECT WITH GRANT OPTION`, `-PUBLIC EXECUTE`
/// (a default privilege revoked), sorted and joined by `, `; NULL when the ACL is the default.
pub(crate) fn acl_changes(acl: &str, default: &str, owner: &str) -> String {
    let entries = |array: &str| {
        format!(
            "SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE x.grantee::regrole::text END \
               || ' ' || x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END \
             FROM aclexplode({array}) x WHERE x.grantee <> {owner}"
        )
    };
    let actual = format!("coalesce({acl}, {default})");
    format!(
        "(SELECT string_agg(e, ', ' ORDER BY e) FROM (
           (SELECT '+' || g FROM ({}) a(g) EXCEPT SELECT '+' || g FROM ({}) b(g))
           UNION ALL
           (SELECT '-' || g FROM ({}) c(g) EXCEPT SELECT '-' || g FROM ({}) d(g))) s(e))",
        entries(&actual),
        entries(default),
        entries(default),
        entries(&actual),
    )
}

/// A table-like relation's shape (alias `c`): columns with their types, nullability and
/// defaults, constraints, indexes and triggers, for the kinds whose rows are not modelled
/// (partitioned tables, partitions, foreign tables).
fn relation_shape() -> &'static str {
    "concat_ws('; ',
       (SELECT string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
            CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
            coalesce(' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid), '')), ', ' ORDER BY a.attnum)
          FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
       (SELECT string_agg(format('%I %s', k.conname, pg_get_constraintdef(k.oid)), ', ' ORDER BY k.conname)
          FROM pg_constraint k WHERE k.conrelid = c.oid),
       (SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY 1)
          FROM pg_index i WHERE i.indrelid = c.oid),
       (SELECT string_agg(pg_get_triggerdef(g.oid), ', ' ORDER BY g.tgname)
          FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal))"
}

/// Every object of a kind nelo does not compare: (kind, schema, identity, definition); the
/// schema is empty for a database-wide object.
pub(super) fn not_compared_query() -> String {
    let ns = in_user_schema();
    let member = not_in_extension;
    let shape = relation_shape();
    let relation_acl = acl_changes(
        "c.relacl",
        "acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner)",
        "c.relowner",
    );
    let column_acl = acl_changes("a.attacl", "acldefault('c', c.relowner)", "c.relowner");
    let function_acl = acl_changes("p.proacl", "acldefault('f', p.proowner)", "p.proowner");
    let type_acl = acl_changes("t.typacl", "acldefault('T', t.typowner)", "t.typowner");
    // A range type's cast to its multirange is the range's own (`pg_depend` type `i`).
    let cast_member = [member("pg_cast", "c.oid"), not_internal("pg_cast", "c.oid")].join(" AND ");
    format!(
        "SELECT kind, schema, identity, coalesce(definition, '') FROM (
         SELECT 'policy' AS kind, n.nspname::text AS schema,
             format('%I on %I.%I', pol.polname, n.nspname, c.relname) AS identity,
             format('%s FOR %s TO %s USING (%s) WITH CHECK (%s)',
               CASE WHEN pol.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
               CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                 WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
               (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE r::regrole::text END, ', ' ORDER BY 1)
                  FROM unnest(pol.polroles) r),
               pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid)) AS definition
           FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {ns} AND NOT ({modelled_table})
         UNION ALL
         SELECT 'row level security', n.nspname, format('%I.%I', n.nspname, c.relname),
             concat_ws(', ', CASE WHEN c.relrowsecurity THEN 'enabled' END,
               CASE WHEN c.relforcerowsecurity THEN 'forced' END)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE (c.relrowsecurity OR c.relforcerowsecurity) AND {ns} AND NOT ({modelled_table})
         UNION ALL
         SELECT 'rule', n.nspname, format('%I on %I.%I', r.rulename, n.nspname, c.relname),
             pg_get_ruledef(r.oid)
           FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE r.rulename <> '_RETURN' AND {ns}
         UNION ALL
         SELECT CASE WHEN c.relkind = 'f' THEN 'foreign table'
               WHEN c.relispartition THEN 'partition' ELSE 'partitioned table' END,
             n.nspname, format('%I.%I', n.nspname, c.relname),
             concat_ws('; ',
               (SELECT format('PARTITION OF %I.%I %s', pn.nspname, p.relname, pg_get_expr(c.relpartbound, c.oid))
                  FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                  JOIN pg_namespace pn ON pn.oid = p.relnamespace
                  WHERE i.inhrelid = c.oid AND c.relispartition),
               'PARTITION BY ' || pg_get_partkeydef(c.oid),
               'WITH (' || array_to_string(c.reloptions, ', ') || ')', {shape})
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE (c.relkind IN ('p', 'f') OR (c.relkind = 'r' AND c.relispartition)) AND {ns} AND {class_member}
         UNION ALL
         SELECT 'table inheritance', n.nspname,
             format('%I.%I inherits %I.%I', n.nspname, c.relname, pn.nspname, p.relname), ''
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
           WHERE NOT c.relispartition AND p.relkind = 'r' AND {ns}
         UNION ALL
         SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' ELSE 'window function' END, n.nspname,
             format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
             (SELECT format('SFUNC = %s, STYPE = %s, FINALFUNC = %s, INITCOND = %s, KIND = %s',
                 g.aggtransfn, format_type(g.aggtranstype, NULL), g.aggfinalfn, g.agginitval, g.aggkind)
                FROM pg_aggregate g WHERE g.aggfnoid = p.oid)
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE p.prokind IN ('a', 'w') AND {ns} AND {proc_member}
         UNION ALL
         SELECT 'operator', n.nspname, format('%s.%s(%s, %s)', quote_ident(n.nspname), o.oprname,
             format_type(o.oprleft, NULL), format_type(o.oprright, NULL)),
             format('PROCEDURE = %s, COMMUTATOR = %s, NEGATOR = %s', o.oprcode, o.oprcom::regoperator, o.oprnegate::regoperator)
           FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE {ns} AND {operator_member}
         UNION ALL
         SELECT 'text search configuration', n.nspname, format('%I.%I', n.nspname, o.cfgname),
             (SELECT string_agg(format('%s:%s', m.maptokentype, m.mapdict::regdictionary), ', '
                ORDER BY m.maptokentype, m.mapseqno) FROM pg_ts_config_map m WHERE m.mapcfg = o.oid)
           FROM pg_ts_config o JOIN pg_namespace n ON n.oid = o.cfgnamespace WHERE {ns} AND {config_member}
         UNION ALL
         SELECT 'text search dictionary', n.nspname, format('%I.%I', n.nspname, o.dictname),
             format('%s %s', o.dicttemplate::regclass, o.dictinitoption)
           FROM pg_ts_dict o JOIN pg_namespace n ON n.oid = o.dictnamespace WHERE {ns} AND {dict_member}
         UNION ALL
         SELECT 'privileges', n.nspname,
             format('on %s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
               WHEN 'm' THEN 'materialized view' ELSE 'table' END, n.nspname, c.relname),
             {relation_acl}
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE (c.relkind IN ('p', 'f') OR c.relispartition) AND c.relname <> '_prisma_migrations'
             AND {ns} AND {class_member} AND {relation_acl} IS NOT NULL
         UNION ALL
         SELECT 'privileges', n.nspname, format('on column %I.%I.%I', n.nspname, c.relname, a.attname),
             {column_acl}
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
             AND (c.relkind IN ('p', 'f') OR c.relispartition) AND {ns} AND {class_member}
             AND {column_acl} IS NOT NULL
         UNION ALL
         SELECT 'privileges', n.nspname,
             format('on %s %I.%I(%s)', CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
               n.nspname, p.proname, oidvectortypes(p.proargtypes)),
             {function_acl}
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE p.prokind IN ('a', 'w') AND {ns} AND {proc_member} AND {function_acl} IS NOT NULL

         UNION ALL
         SELECT 'privileges', n.nspname,
             format('on %s %I.%I', CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, n.nspname, t.typname),
             {type_acl}
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE t.typtype IN ('r', 'b')
             AND {ns} AND {type_member} AND {type_internal} AND t.typacl IS NOT NULL
             AND {type_acl} IS NOT NULL
         UNION ALL
         SELECT 'cast', '', format('%s AS %s', format_type(c.castsource, NULL), format_type(c.casttarget, NULL)),
             format('function %s, context %s, method %s', c.castfunc::regprocedure, c.castcontext, c.castmethod)
           FROM pg_cast c WHERE c.oid >= 16384 AND {cast_member}
         UNION ALL
         SELECT 'toast storage parameters', n.nspname, format('%I.%I', n.nspname, c.relname),
             array_to_string(tc.reloptions, ', ')
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_class tc ON tc.oid = c.reltoastrelid
           WHERE c.relkind IN ('r', 'm') AND tc.reloptions IS NOT NULL AND {tables}
         UNION ALL
         SELECT 'tablespace', n.nspname, format('%I.%I', n.nspname, c.relname), s.spcname::text
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_tablespace s ON s.oid = c.reltablespace
           WHERE c.relkind IN ('r', 'm', 'i', 'p') AND c.reltablespace <> 0 AND {ns} AND {class_member}
         UNION ALL
         SELECT 'replica identity', n.nspname, format('%I.%I', n.nspname, c.relname),
             CASE c.relreplident WHEN 'f' THEN 'full' WHEN 'n' THEN 'nothing'
               ELSE 'index ' || (SELECT quote_ident(i.relname) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                 WHERE x.indrelid = c.oid AND x.indisreplident) END
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND c.relreplident <> 'd' AND {tables}
         UNION ALL
         SELECT 'clustered index', n.nspname, format('%I.%I', n.nspname, c.relname), i.relname::text
           FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
           JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE x.indisclustered AND {tables}
         UNION ALL
         SELECT 'column settings', n.nspname, format('%I.%I.%I', n.nspname, c.relname, a.attname),
             concat_ws(', ',
               CASE WHEN a.attstorage <> t.typstorage THEN 'storage ' || CASE a.attstorage
                 WHEN 'p' THEN 'plain' WHEN 'e' THEN 'external' WHEN 'm' THEN 'main' ELSE 'extended' END END,
               CASE a.attcompression WHEN 'p' THEN 'compression pglz' WHEN 'l' THEN 'compression lz4' END,
               CASE WHEN coalesce(a.attstattarget, -1) >= 0 THEN 'statistics ' || a.attstattarget END,
               NULLIF(array_to_string(ARRAY(SELECT o FROM unnest(a.attoptions) o
                 WHERE o LIKE 'n\\_distinct%'), ', '), ''))
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_type t ON t.oid = a.atttypid
           WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r'
             AND (a.attstorage <> t.typstorage OR a.attcompression IN ('p', 'l')
               OR coalesce(a.attstattarget, -1) >= 0
               OR EXISTS (SELECT FROM unnest(a.attoptions) o WHERE o LIKE 'n\\_distinct%'))
             AND {tables}
         ) objects",
        type_member = member("pg_type", "t.oid"),
        type_internal = not_internal("pg_type", "t.oid"),
        class_member = member("pg_class", "c.oid"),
        proc_member = member("pg_proc", "p.oid"),
        operator_member = member("pg_operator", "o.oid"),
        config_member = member("pg_ts_config", "o.oid"),
        dict_member = member("pg_ts_dict", "o.oid"),
        cast_member = cast_member,
        tables = relation_filter("'r', 'm'"),
        // Policies and RLS of the tables the model has are compared with them.
        modelled_table = relation_filter("'r'"),
    )
}
