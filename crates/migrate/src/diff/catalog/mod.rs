//! The introspector: every catalog query nelo compares with, and the one function that runs
//! them. The same queries run the same way on both sides (a read-only repeatable-read
//! transaction, `search_path` set to the target schema), so the server renders both alike.
//!
//! Left out everywhere: the system schemas, every member of an extension (`pg_depend` type
//! `e`), and `_prisma_migrations`.

mod queries;
mod unmodelled;

use std::collections::BTreeSet;

use sqlx::postgres::PgConnection;

use super::model::{
    Attribute, Collation, Column, Comment, CommentOwner, CommentTarget, Constraint, Domain,
    EventTrigger, Extension, Function, FunctionName, FunctionUser, GrantTarget, Index, Name,
    Policy, Publication, PublishedTable, Range, SchemaModel, Sequence, Statistics, Table, Trigger,
    Unmodelled, View,
};
use crate::Error;
use crate::sql::quote_identifier;
use crate::store::run_script;
use queries::*;
use unmodelled::not_compared_query;

fn database_error(action: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database { action, source }
}

/// Reads the model of the database `conn` is connected to, rendering definitions against
/// `search_path` (the target schema).
pub async fn introspect(conn: &mut PgConnection, search_path: &str) -> Result<SchemaModel, Error> {
    run_script(
        conn,
        &format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL search_path TO {}",
            quote_identifier(search_path)
        ),
    )
    .await
    .map_err(database_error(
        "starting the transaction that reads the catalog",
    ))?;
    let model = read_model(conn, search_path).await;
    let _ = run_script(conn, "ROLLBACK").await;
    model
}

async fn read_model(conn: &mut PgConnection, search_path: &str) -> Result<SchemaModel, Error> {
    let mut model = SchemaModel {
        search_path: search_path.to_string(),
        ..SchemaModel::default()
    };
    let error = database_error("reading the catalog");

    let schemas: Vec<(String,)> = sqlx::query_as(&schemas_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading schemas"))?;
    model.schemas = schemas.into_iter().map(|(name,)| name).collect();

    let extensions: Vec<(String, String, String)> = sqlx::query_as(EXTENSIONS)
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading extensions"))?;
    for (name, schema, version) in extensions {
        model.extensions.insert(name, Extension { schema, version });
    }

    let enums: Vec<(String, String, Vec<String>)> = sqlx::query_as(&enums_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading enums"))?;
    for (schema, name, labels) in enums {
        model.enums.insert(Name::new(&schema, &name), labels);
    }

    type DomainRow = (
        String,
        String,
        String,
        Option<String>,
        bool,
        Option<String>,
        Vec<String>,
    );
    let domains: Vec<DomainRow> = sqlx::query_as(&domains_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading domains"))?;
    for (schema, name, base_type, collation, not_null, default, constraints) in domains {
        let constraints = constraints
            .iter()
            .filter_map(|entry| entry.split_once('\t'))
            .map(|(name, definition)| (name.to_string(), definition.to_string()))
            .collect();
        let domain = Domain {
            base_type,
            collation,
            not_null,
            default,
            constraints,
        };
        model.domains.insert(Name::new(&schema, &name), domain);
    }

    let attributes: Vec<(String, String, String, String, Option<String>)> =
        sqlx::query_as(&composite_types_query())
            .fetch_all(&mut *conn)
            .await
            .map_err(database_error("reading composite types"))?;
    for (schema, name, attribute, data_type, collation) in attributes {
        model
            .composite_types
            .entry(Name::new(&schema, &name))
            .or_default()
            .push(Attribute {
                name: attribute,
                data_type,
                collation,
            });
    }

    type TableRow = (String, String, bool, bool, bool, Vec<String>);
    let statistics: Vec<(String, String, String, Option<i32>)> =
        sqlx::query_as(&statistics_query())
            .fetch_all(&mut *conn)
            .await
            .map_err(database_error("reading statistics objects"))?;
    for (schema, name, definition, target) in statistics {
        let object = Statistics { definition, target };
        model.statistics.insert(Name::new(&schema, &name), object);
    }

    type PublicationRow = (String, bool, bool, bool, bool, bool, bool);
    let publications: Vec<PublicationRow> = sqlx::query_as(&publications_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading publications"))?;
    for (name, all_tables, insert, update, delete, truncate, via_root) in publications {
        let publish = [
            ("insert", insert),
            ("update", update),
            ("delete", delete),
            ("truncate", truncate),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(what, _)| what.to_string())
        .collect();
        let publication = Publication {
            all_tables,
            publish,
            via_root,
            ..Publication::default()
        };
        model.publications.insert(name, publication);
    }
    type PublishedRow = (String, String, String, Option<String>, Option<String>);
    let published: Vec<PublishedRow> = sqlx::query_as(PUBLICATION_TABLES)
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading publication tables"))?;
    for (publication, schema, table, columns, filter) in published {
        if let Some(publication) = model.publications.get_mut(&publication) {
            let member = PublishedTable { columns, filter };
            publication
                .tables
                .insert(Name::new(&schema, &table), member);
        }
    }
    let schemas: Vec<(String, String)> = sqlx::query_as(PUBLICATION_SCHEMAS)
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading publication schemas"))?;
    for (publication, schema) in schemas {
        if let Some(publication) = model.publications.get_mut(&publication) {
            publication.schemas.insert(schema);
        }
    }

    type CollationRow = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    );
    let collations: Vec<CollationRow> = sqlx::query_as(&collations_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading collations"))?;
    for row in collations {
        let (schema, name, provider, locale, lc_collate, lc_ctype, rules, deterministic) = row;
        let empty_is_none = |text: Option<String>| text.filter(|text| !text.is_empty());
        let collation = Collation {
            provider,
            locale: empty_is_none(locale),
            lc_collate: empty_is_none(lc_collate),
            lc_ctype: empty_is_none(lc_ctype),
            rules: empty_is_none(rules),
            deterministic,
        };
        model
            .collations
            .insert(Name::new(&schema, &name), collation);
    }
    type RangeRow = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    );
    let ranges: Vec<RangeRow> = sqlx::query_as(&ranges_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading range types"))?;
    for row in ranges {
        let (
            schema,
            name,
            subtype,
            subtype_opclass,
            collation,
            canonical,
            subtype_diff,
            multirange,
        ) = row;
        let range = Range {
            subtype,
            subtype_opclass,
            collation,
            canonical,
            subtype_diff,
            multirange,
        };
        model.ranges.insert(Name::new(&schema, &name), range);
    }
    type EventTriggerRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        Vec<String>,
        String,
    );
    let event_triggers: Vec<EventTriggerRow> = sqlx::query_as(&event_triggers_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading event triggers"))?;
    for (name, event, function, schema, proname, arguments, tags, enabled) in event_triggers {
        let function_name = FunctionName {
            name: Name::new(&schema, &proname),
            arguments,
        };
        let trigger = EventTrigger {
            event,
            function,
            function_name: Some(function_name),
            tags,
            enabled,
        };
        model.event_triggers.insert(name, trigger);
    }

    let tables: Vec<TableRow> = sqlx::query_as(&tables_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading tables"))?;
    for (schema, name, unlogged, row_security, force_row_security, storage_parameters) in tables {
        let table = Table {
            unlogged,
            row_security,
            force_row_security,
            storage_parameters,
            ..Table::default()
        };
        model.tables.insert(Name::new(&schema, &name), table);
    }

    type ColumnRow = (
        String,
        String,
        String,
        String,
        Option<String>,
        bool,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let columns: Vec<ColumnRow> = sqlx::query_as(&columns_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading columns"))?;
    for row in columns {
        let (schema, table, name, data_type, collation, not_null, default, identity, generated) = (
            row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8,
        );
        if let Some(table) = model.tables.get_mut(&Name::new(&schema, &table)) {
            table.columns.push(Column {
                name,
                data_type,
                collation,
                not_null,
                default,
                identity: identity.and_then(|text| text.chars().next()),
                identity_options: row.9,
                generated,
            });
        }
    }

    let constraints: Vec<(String, String, String, String, String, bool)> =
        sqlx::query_as(&constraints_query())
            .fetch_all(&mut *conn)
            .await
            .map_err(database_error("reading constraints"))?;
    for (schema, table, name, kind, definition, validated) in constraints {
        if let Some(table) = model.tables.get_mut(&Name::new(&schema, &table)) {
            let kind = kind.chars().next().unwrap_or('c');
            table.constraints.insert(
                name,
                Constraint {
                    kind,
                    definition,
                    validated,
                },
            );
        }
    }

    let indexes: Vec<(String, String, String, String, bool, bool)> =
        sqlx::query_as(&indexes_query())
            .fetch_all(&mut *conn)
            .await
            .map_err(database_error("reading indexes"))?;
    for (schema, name, table, definition, valid, on_view) in indexes {
        model.indexes.insert(
            Name::new(&schema, &name),
            Index {
                table: Name::new(&schema, &table),
                definition,
                valid,
                on_view,
            },
        );
    }

    type SequenceRow = (
        String,
        String,
        String,
        i64,
        i64,
        i64,
        i64,
        i64,
        bool,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let sequences: Vec<SequenceRow> = sqlx::query_as(&sequences_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading sequences"))?;
    for row in sequences {
        let (schema, name, data_type, start, increment, min, max, cache, cycle) = (
            row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8,
        );
        let owned_by = match (row.9, row.10, row.11) {
            (Some(table_schema), Some(table), Some(column)) => {
                Some((Name::new(&table_schema, &table), column))
            }
            _ => None,
        };
        model.sequences.insert(
            Name::new(&schema, &name),
            Sequence {
                data_type,
                start,
                increment,
                min,
                max,
                cache,
                cycle,
                owned_by,
            },
        );
    }

    let views: Vec<(String, String, bool, String, Vec<String>)> = sqlx::query_as(&views_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading views"))?;
    for (schema, name, materialized, definition, options) in views {
        let definition = definition.trim_end().trim_end_matches(';').to_string();
        model.views.insert(
            Name::new(&schema, &name),
            View {
                materialized,
                definition,
                options,
                depends_on: BTreeSet::new(),
                calls: BTreeSet::new(),
            },
        );
    }
    let relations: Vec<(String, String, String, String)> = sqlx::query_as(VIEW_RELATIONS)
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading what views depend on"))?;
    for (schema, name, relation_schema, relation) in relations {
        if let Some(view) = model.views.get_mut(&Name::new(&schema, &name)) {
            view.depends_on
                .insert(Name::new(&relation_schema, &relation));
        }
    }
    let calls: Vec<(String, String, String, String, String)> = sqlx::query_as(&view_calls_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading the functions views call"))?;
    for (schema, name, function_schema, function, arguments) in calls {
        if let Some(view) = model.views.get_mut(&Name::new(&schema, &name)) {
            view.calls.insert(FunctionName {
                name: Name::new(&function_schema, &function),
                arguments,
            });
        }
    }

    type FunctionRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        bool,
        Vec<String>,
        Vec<String>,
    );
    let functions: Vec<FunctionRow> = sqlx::query_as(&functions_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading functions"))?;
    for row in functions {
        let (schema, name, arguments, kind, definition, result, uses_row_type, reads, calls) = row;
        let reads = reads
            .iter()
            .filter_map(|entry| entry.split_once('\t'))
            .map(|(schema, name)| Name::new(schema, name))
            .collect();
        let calls = calls
            .iter()
            .filter_map(|entry| {
                let mut parts = entry.splitn(3, '\t');
                Some(FunctionName {
                    name: Name::new(parts.next()?, parts.next()?),
                    arguments: parts.next()?.to_string(),
                })
            })
            .collect();
        model.functions.insert(
            FunctionName {
                name: Name::new(&schema, &name),
                arguments,
            },
            Function {
                kind: kind.chars().next().unwrap_or('f'),
                definition: definition.trim_end().to_string(),
                result,
                uses_row_type,
                reads,
                calls,
                used_by: BTreeSet::new(),
            },
        );
    }
    let users: Vec<(String, String, String, String, String, String, String)> =
        sqlx::query_as(&function_users_query())
            .fetch_all(&mut *conn)
            .await
            .map_err(database_error("reading what calls functions"))?;
    for (schema, name, arguments, kind, user_schema, relation, member) in users {
        let function = FunctionName {
            name: Name::new(&schema, &name),
            arguments,
        };
        let relation = Name::new(&user_schema, &relation);
        let user = match kind.as_str() {
            "index" => FunctionUser::Index(relation),
            "constraint" => FunctionUser::Constraint(relation, member),
            _ => FunctionUser::Default(relation, member),
        };
        if let Some(function) = model.functions.get_mut(&function) {
            function.used_by.insert(user);
        }
    }

    type TriggerRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        bool,
    );
    let triggers: Vec<TriggerRow> = sqlx::query_as(&triggers_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading triggers"))?;
    for row in triggers {
        let (schema, table, name, definition, enabled) = (row.0, row.1, row.2, row.3, row.4);
        model.triggers.insert(
            (Name::new(&schema, &table), name),
            Trigger {
                definition,
                enabled: enabled.chars().next().unwrap_or('O'),
                function: FunctionName {
                    name: Name::new(&row.5, &row.6),
                    arguments: row.7,
                },
                uses_columns: row.8,
            },
        );
    }

    type PolicyRow = (
        String,
        String,
        String,
        bool,
        String,
        Vec<String>,
        Option<String>,
        Option<String>,
    );
    let policies: Vec<PolicyRow> = sqlx::query_as(&policies_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading policies"))?;
    for (schema, table, name, permissive, command, roles, using, check) in policies {
        model.policies.insert(
            (Name::new(&schema, &table), name),
            Policy {
                permissive,
                command,
                roles,
                using,
                check,
                depends_on: BTreeSet::new(),
                calls: BTreeSet::new(),
            },
        );
    }
    let needs: Vec<(String, String, String, String, String, String, String)> =
        sqlx::query_as(POLICY_DEPENDENCIES)
            .fetch_all(&mut *conn)
            .await
            .map_err(database_error("reading what policies depend on"))?;
    for (schema, table, name, kind, other_schema, other, arguments) in needs {
        if let Some(policy) = model.policies.get_mut(&(Name::new(&schema, &table), name)) {
            let other = Name::new(&other_schema, &other);
            if kind == "relation" {
                policy.depends_on.insert(other);
            } else {
                policy.calls.insert(FunctionName {
                    name: other,
                    arguments,
                });
            }
        }
    }

    let privileges: Vec<(String, String, String, String, String)> =
        sqlx::query_as(&privileges_query())
            .fetch_all(&mut *conn)
            .await
            .map_err(database_error("reading privileges"))?;
    for (kind, schema, name, arguments, changes) in privileges {
        model.privileges.insert(
            GrantTarget {
                kind,
                schema,
                name,
                arguments,
            },
            split_acl_changes(&changes),
        );
    }

    type CommentRow = (String, String, String, String, String, String, String);
    let comments: Vec<CommentRow> = sqlx::query_as(&comments_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(database_error("reading comments"))?;
    for (object_type, identity, text, owner_kind, schema, name, member) in comments {
        let owner = match owner_kind.as_str() {
            "relation" => CommentOwner::Relation(Name::new(&schema, &name)),
            "column" => CommentOwner::Column(Name::new(&schema, &name), member),
            "constraint" => CommentOwner::Constraint(Name::new(&schema, &name), member),
            "trigger" => CommentOwner::Trigger(Name::new(&schema, &name), member),
            "function" => CommentOwner::Function(FunctionName {
                name: Name::new(&schema, &name),
                arguments: member,
            }),
            "type" => CommentOwner::Type(Name::new(&schema, &name)),
            _ => CommentOwner::Schema(schema),
        };
        model.comments.insert(
            CommentTarget {
                object_type,
                identity,
            },
            Comment { text, owner },
        );
    }

    let others: Vec<(String, String, String, String)> = sqlx::query_as(&not_compared_query())
        .fetch_all(&mut *conn)
        .await
        .map_err(error)?;
    model.not_compared = others
        .into_iter()
        .map(|(kind, schema, identity, definition)| {
            ((kind, identity), Unmodelled { schema, definition })
        })
        .collect();
    Ok(model)
}

/// `+bob SELECT, -PUBLIC EXECUTE` as its entries; a `, ` inside a quoted role name stays.
fn split_acl_changes(changes: &str) -> BTreeSet<String> {
    let mut entries = BTreeSet::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut characters = changes.chars().peekable();
    while let Some(character) = characters.next() {
        if character == '"' {
            quoted = !quoted;
        }
        if !quoted && character == ',' && characters.peek() == Some(&' ') {
            characters.next();
            entries.insert(std::mem::take(&mut current));
            continue;
        }
        current.push(character);
    }
    if !current.is_empty() {
        entries.insert(current);
    }
    entries
}

#[cfg(test)]
mod tests {
    #[test]
    fn acl_changes_split_outside_quoted_role_names() {
        let entries = super::split_acl_changes("+\"a, b\" SELECT, -PUBLIC EXECUTE");
        let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
        assert_eq!(entries, ["+\"a, b\" SELECT", "-PUBLIC EXECUTE"]);
    }
}
