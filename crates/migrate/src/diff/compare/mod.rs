//! The comparison: two models in, the list of differences out. Pure, deterministic (the
//! models are BTreeMaps, walked in order), unit-tested without a database.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Attribute, Domain, Name, Publication, SchemaModel, Sequence, Table};

mod difference;
mod report;
#[cfg(test)]
mod tests;

pub use difference::{Change, Difference, Object};
pub use report::{NotCompared, PossibleRename, extension_notes, not_compared, possible_renames};

/// Every difference between `from` and `to`, in a fixed order.
pub fn compare(from: &SchemaModel, to: &SchemaModel) -> Vec<Difference> {
    let mut differences = Vec::new();
    let out = &mut differences;
    let no_fields = |_: &(), _: &()| Vec::new();
    each(
        out,
        &set_map(&from.schemas),
        &set_map(&to.schemas),
        |name| Object::Schema { name: name.clone() },
        no_fields,
    );
    each(
        out,
        &from.extensions,
        &to.extensions,
        |name| Object::Extension { name: name.clone() },
        |before, after| fields([("schema", &before.schema, &after.schema)]),
    );
    each(
        out,
        &from.enums,
        &to.enums,
        |name| Object::Enum { name: name.clone() },
        |before, after| fields([("labels", &before.join(", "), &after.join(", "))]),
    );
    each(
        out,
        &from.domains,
        &to.domains,
        |name| Object::Domain { name: name.clone() },
        |before, after| {
            let base = |domain: &Domain| {
                let collation = domain.collation.as_deref().unwrap_or_default();
                format!("{} {collation}", domain.base_type)
                    .trim_end()
                    .to_string()
            };
            let constraints = |domain: &Domain| {
                domain
                    .constraints
                    .iter()
                    .map(|(name, definition)| format!("{name} {definition}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            fields([
                ("base type", &base(before), &base(after)),
                (
                    "not null",
                    &before.not_null.to_string(),
                    &after.not_null.to_string(),
                ),
                (
                    "default",
                    &before.default.clone().unwrap_or_default(),
                    &after.default.clone().unwrap_or_default(),
                ),
                ("constraints", &constraints(before), &constraints(after)),
            ])
        },
    );
    each(
        out,
        &from.collations,
        &to.collations,
        |name| Object::Collation { name: name.clone() },
        |before, after| {
            let shown = |collation: &super::model::Collation| format!("{collation:?}");
            fields([("definition", &shown(before), &shown(after))])
        },
    );
    each(
        out,
        &from.ranges,
        &to.ranges,
        |name| Object::Range { name: name.clone() },
        |before, after| {
            let shown = |range: &super::model::Range| format!("{range:?}");
            fields([("definition", &shown(before), &shown(after))])
        },
    );
    each(
        out,
        &from.event_triggers,
        &to.event_triggers,
        |name| Object::EventTrigger { name: name.clone() },
        |before, after| {
            let shown = |trigger: &super::model::EventTrigger| {
                format!(
                    "ON {} WHEN TAG IN ({}) EXECUTE FUNCTION {}",
                    trigger.event,
                    trigger.tags.join(", "),
                    trigger.function
                )
            };
            fields([
                ("definition", &shown(before), &shown(after)),
                ("enabled", &before.enabled, &after.enabled),
            ])
        },
    );
    each(
        out,
        &from.composite_types,
        &to.composite_types,
        |name| Object::CompositeType { name: name.clone() },
        |before, after| {
            let attributes = |attributes: &[Attribute]| {
                let shown: Vec<String> = attributes.iter().map(ToString::to_string).collect();
                shown.join(", ")
            };
            fields([("attributes", &attributes(before), &attributes(after))])
        },
    );
    each(
        out,
        &from.sequences,
        &to.sequences,
        |name| Object::Sequence { name: name.clone() },
        |before, after| {
            let owner = |sequence: &Sequence| {
                sequence
                    .owned_by
                    .as_ref()
                    .map(|(table, column)| format!("{table}.{column}"))
                    .unwrap_or_default()
            };
            fields([
                (
                    "options",
                    &sequence_options(before),
                    &sequence_options(after),
                ),
                ("owned by", &owner(before), &owner(after)),
            ])
        },
    );
    for (name, pair) in pairs(&from.tables, &to.tables) {
        let object = Object::Table { name: name.clone() };
        match pair {
            Pair::Added => out.push(Difference {
                object,
                change: Change::Added,
            }),
            Pair::Removed => out.push(Difference {
                object,
                change: Change::Removed,
            }),
            Pair::Both(before, after) => {
                for (object, change) in compare_tables(name, before, after) {
                    out.push(Difference { object, change });
                }
            }
        }
    }
    each(
        out,
        &from.indexes,
        &to.indexes,
        |name| Object::Index { name: name.clone() },
        |before, after| {
            fields([
                ("definition", &before.definition, &after.definition),
                ("valid", &before.valid.to_string(), &after.valid.to_string()),
            ])
        },
    );
    each(
        out,
        &from.publications,
        &to.publications,
        |name| Object::Publication { name: name.clone() },
        |before, after| {
            let members = |publication: &Publication| {
                let tables = publication.tables.iter().map(|(table, member)| {
                    let columns = member.columns.as_ref().map(|c| format!(" ({c})"));
                    let filter = member.filter.as_ref().map(|f| format!(" WHERE {f}"));
                    format!(
                        "{table}{}{}",
                        columns.unwrap_or_default(),
                        filter.unwrap_or_default()
                    )
                });
                let schemas = publication
                    .schemas
                    .iter()
                    .map(|schema| format!("TABLES IN SCHEMA {schema}"));
                tables.chain(schemas).collect::<Vec<_>>().join(", ")
            };
            let options = |publication: &Publication| {
                format!(
                    "all tables {}, publish {}, via root {}",
                    publication.all_tables,
                    publication.publish.join(" "),
                    publication.via_root
                )
            };
            fields([
                ("options", &options(before), &options(after)),
                ("members", &members(before), &members(after)),
            ])
        },
    );
    each(
        out,
        &from.statistics,
        &to.statistics,
        |name| Object::Statistics { name: name.clone() },
        |before, after| {
            let target = |target: Option<i32>| target.map(|n| n.to_string()).unwrap_or_default();
            fields([
                ("definition", &before.definition, &after.definition),
                ("target", &target(before.target), &target(after.target)),
            ])
        },
    );
    each(
        out,
        &from.views,
        &to.views,
        |name| Object::View { name: name.clone() },
        |before, after| {
            fields([
                (
                    "materialized",
                    &before.materialized.to_string(),
                    &after.materialized.to_string(),
                ),
                ("definition", &before.definition, &after.definition),
                (
                    "options",
                    &before.options.join(", "),
                    &after.options.join(", "),
                ),
            ])
        },
    );
    each(
        out,
        &from.functions,
        &to.functions,
        |name| Object::Function { name: name.clone() },
        |before, after| fields([("definition", &before.definition, &after.definition)]),
    );
    each(
        out,
        &from.triggers,
        &to.triggers,
        |(table, trigger)| Object::Trigger {
            table: table.clone(),
            trigger: trigger.clone(),
        },
        |before, after| {
            fields([
                ("definition", &before.definition, &after.definition),
                (
                    "enabled",
                    &before.enabled.to_string(),
                    &after.enabled.to_string(),
                ),
            ])
        },
    );
    each(
        out,
        &from.policies,
        &to.policies,
        |(table, policy)| Object::Policy {
            table: table.clone(),
            policy: policy.clone(),
        },
        |before, after| fields([("definition", &before.clauses(), &after.clauses())]),
    );
    for (target, pair) in pairs(&from.privileges, &to.privileges) {
        let empty = BTreeSet::new();
        let (before, after) = match pair {
            Pair::Added => (&empty, &to.privileges[target]),
            Pair::Removed => (&from.privileges[target], &empty),
            Pair::Both(before, after) => (before, after),
        };
        for entry in before.difference(after) {
            out.push(Difference {
                object: Object::Privilege {
                    target: target.clone(),
                    entry: entry.clone(),
                },
                change: Change::Removed,
            });
        }
        for entry in after.difference(before) {
            out.push(Difference {
                object: Object::Privilege {
                    target: target.clone(),
                    entry: entry.clone(),
                },
                change: Change::Added,
            });
        }
    }
    each(
        out,
        &from.comments,
        &to.comments,
        |target| Object::Comment {
            target: target.clone(),
        },
        |before, after| fields([("text", &before.text, &after.text)]),
    );
    differences
}

/// The differences of one kind: added and removed keys, and the changed fields of the others.
fn each<K: Ord, V>(
    out: &mut Vec<Difference>,
    from: &BTreeMap<K, V>,
    to: &BTreeMap<K, V>,
    object: impl Fn(&K) -> Object,
    changed: impl Fn(&V, &V) -> Vec<Change>,
) {
    for (key, pair) in pairs(from, to) {
        let changes = match pair {
            Pair::Added => vec![Change::Added],
            Pair::Removed => vec![Change::Removed],
            Pair::Both(before, after) => changed(before, after),
        };
        for change in changes {
            out.push(Difference {
                object: object(key),
                change,
            });
        }
    }
}

fn compare_tables(name: &Name, before: &Table, after: &Table) -> Vec<(Object, Change)> {
    let mut changes = Vec::new();
    if before.unlogged != after.unlogged {
        let persistence = |unlogged| if unlogged { "unlogged" } else { "logged" }.to_string();
        changes.push((
            Object::Table { name: name.clone() },
            Change::Changed {
                field: "persistence",
                before: persistence(before.unlogged),
                after: persistence(after.unlogged),
            },
        ));
    }
    if before.storage_parameters != after.storage_parameters {
        changes.push((
            Object::Table { name: name.clone() },
            Change::Changed {
                field: "storage parameters",
                before: before.storage_parameters.join(", "),
                after: after.storage_parameters.join(", "),
            },
        ));
    }
    let flag = |on: bool| if on { "on" } else { "off" }.to_string();
    for (field, before, after) in [
        (
            "row level security",
            before.row_security,
            after.row_security,
        ),
        (
            "force row level security",
            before.force_row_security,
            after.force_row_security,
        ),
    ] {
        if before != after {
            changes.push((
                Object::Table { name: name.clone() },
                Change::Changed {
                    field,
                    before: flag(before),
                    after: flag(after),
                },
            ));
        }
    }
    let columns = |table: &Table| -> BTreeMap<String, super::model::Column> {
        table
            .columns
            .iter()
            .map(|column| (column.name.clone(), column.clone()))
            .collect()
    };
    let (before_columns, after_columns) = (columns(before), columns(after));
    // Columns in the target's order, then removed ones in the source's.
    let order: Vec<&str> = after
        .columns
        .iter()
        .chain(&before.columns)
        .map(|column| column.name.as_str())
        .collect::<Vec<_>>();
    let mut seen = BTreeSet::new();
    for column_name in order {
        if !seen.insert(column_name) {
            continue;
        }
        let object = || Object::Column {
            table: name.clone(),
            column: column_name.to_string(),
        };
        match (
            before_columns.get(column_name),
            after_columns.get(column_name),
        ) {
            (None, Some(_)) => changes.push((object(), Change::Added)),
            (Some(_), None) => changes.push((object(), Change::Removed)),
            (Some(old), Some(new)) => {
                let optional = |value: &Option<String>| value.clone().unwrap_or_default();
                let identity = |value: Option<char>| match value {
                    Some('a') => "always".to_string(),
                    Some('d') => "by default".to_string(),
                    _ => String::new(),
                };
                let field_changes = fields([
                    ("type", &old.data_type, &new.data_type),
                    (
                        "collation",
                        &optional(&old.collation),
                        &optional(&new.collation),
                    ),
                    (
                        "not null",
                        &old.not_null.to_string(),
                        &new.not_null.to_string(),
                    ),
                    (
                        "default",
                        &equivalent_default(&old.default),
                        &equivalent_default(&new.default),
                    ),
                    ("identity", &identity(old.identity), &identity(new.identity)),
                    (
                        "identity options",
                        &optional(&old.identity_options),
                        &optional(&new.identity_options),
                    ),
                    (
                        "generated",
                        &optional(&old.generated),
                        &optional(&new.generated),
                    ),
                ]);
                for change in field_changes {
                    changes.push((object(), change));
                }
            }
            (None, None) => {}
        }
    }
    for (constraint, pair) in pairs(&before.constraints, &after.constraints) {
        let object = || Object::Constraint {
            table: name.clone(),
            constraint: constraint.clone(),
        };
        match pair {
            Pair::Added => changes.push((object(), Change::Added)),
            Pair::Removed => changes.push((object(), Change::Removed)),
            Pair::Both(old, new) => {
                for change in fields([("definition", &old.definition, &new.definition)]) {
                    changes.push((object(), change));
                }
            }
        }
    }
    changes
}

/// A column default as compared: the server's text, except that the spellings of the
/// transaction's start time (`now()`, `CURRENT_TIMESTAMP`, `transaction_timestamp()`, which
/// PostgreSQL documents as equivalent and renders each as written) are one.
fn equivalent_default(default: &Option<String>) -> String {
    match default.as_deref() {
        Some("now()" | "CURRENT_TIMESTAMP" | "transaction_timestamp()") => "now()".to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// A sequence's options as `CREATE SEQUENCE` writes them.
pub fn sequence_options(sequence: &Sequence) -> String {
    format!(
        "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}CYCLE",
        sequence.data_type,
        sequence.increment,
        sequence.min,
        sequence.max,
        sequence.start,
        sequence.cache,
        if sequence.cycle { "" } else { "NO " }
    )
}

fn fields<const N: usize>(fields: [(&'static str, &String, &String); N]) -> Vec<Change> {
    fields
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .map(|(field, before, after)| Change::Changed {
            field,
            before: before.clone(),
            after: after.clone(),
        })
        .collect()
}

enum Pair<'a, V> {
    Added,
    Removed,
    Both(&'a V, &'a V),
}

/// The union of both maps' keys, in order, with what each side holds.
fn pairs<'a, K: Ord, V>(
    from: &'a BTreeMap<K, V>,
    to: &'a BTreeMap<K, V>,
) -> Vec<(&'a K, Pair<'a, V>)> {
    let keys: BTreeSet<&K> = from.keys().chain(to.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let pair = match (from.get(key), to.get(key)) {
                (None, Some(_)) => Pair::Added,
                (Some(_), None) => Pair::Removed,
                (Some(before), Some(after)) => Pair::Both(before, after),
                (None, None) => return None,
            };
            Some((key, pair))
        })
        .collect()
}

fn set_map(set: &BTreeSet<String>) -> BTreeMap<String, ()> {
    set.iter().map(|name| (name.clone(), ())).collect()
}
