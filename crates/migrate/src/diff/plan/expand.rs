//! What a change drags along: the enums recreated, the tables whose columns change shape, the
//! functions dropped and created again, and (transitively) the views, triggers, indexes,
//! constraints and defaults that must go and come back around them.

use std::collections::{BTreeMap, BTreeSet};

use super::super::compare::{Change, Difference, Object};
use super::super::model::{FunctionName, FunctionUser, Name, SchemaModel};
use super::sql::{is_type, mentions_type, signature_uses};

/// What the differences say, gathered by kind.
#[derive(Default)]
pub(super) struct Changes<'a> {
    pub added: BTreeSet<&'a Object>,
    pub removed: BTreeSet<&'a Object>,
    /// Object -> changed fields.
    pub changed: BTreeMap<&'a Object, BTreeSet<&'static str>>,
}

impl<'a> Changes<'a> {
    pub fn gather(differences: &'a [Difference]) -> Self {
        let mut changes = Changes::default();
        for difference in differences {
            match &difference.change {
                Change::Added => {
                    changes.added.insert(&difference.object);
                }
                Change::Removed => {
                    changes.removed.insert(&difference.object);
                }
                Change::Changed { field, .. } => {
                    changes
                        .changed
                        .entry(&difference.object)
                        .or_default()
                        .insert(field);
                }
            }
        }
        changes
    }

    pub fn table_removed(&self, name: &Name) -> bool {
        self.removed.contains(&Object::Table { name: name.clone() })
    }

    pub fn table_added(&self, name: &Name) -> bool {
        self.added.contains(&Object::Table { name: name.clone() })
    }
}

/// The objects the plan drops and creates beyond the differences themselves.
pub(super) struct Expansion {
    /// Enums whose labels cannot be reached by adding values.
    pub recreated_enums: BTreeSet<Name>,
    /// Functions whose result or kind changes: dropped and created again.
    pub replaced_functions: BTreeSet<FunctionName>,
    pub removed_functions: BTreeSet<FunctionName>,
    /// Constraints (table, name) and defaults (table, column) calling a replaced or removed
    /// function.
    pub forced_constraints: BTreeSet<(Name, String)>,
    pub forced_defaults: BTreeSet<(Name, String)>,
    pub dropped_views: BTreeSet<Name>,
    pub created_views: BTreeSet<Name>,
    pub dropped_triggers: BTreeSet<(Name, String)>,
    /// Triggers whose `enabled` state alone changes.
    pub trigger_enabled_only: BTreeSet<(Name, String)>,
    pub created_triggers: BTreeSet<(Name, String)>,
    pub dropped_indexes: BTreeSet<Name>,
    pub created_indexes: BTreeSet<Name>,
    /// Policies (table, name) dropped: removed, changed, or over something that changes
    /// shape (a column type, a view, a function); and those created (again).
    pub dropped_policies: BTreeSet<(Name, String)>,
    pub created_policies: BTreeSet<(Name, String)>,
}

pub(super) fn expand(from: &SchemaModel, to: &SchemaModel, changes: &Changes) -> Expansion {
    // Enums whose labels cannot be reached by adding values are recreated; their columns
    // change type, like a column type change.
    let mut recreated_enums = BTreeSet::new();
    for object in changes.changed.keys() {
        if let Object::Enum { name } = object
            && let (Some(before), Some(after)) = (from.enums.get(name), to.enums.get(name))
            && !is_subsequence(before, after)
        {
            recreated_enums.insert(name.clone());
        }
    }

    // Tables whose columns change type or go away: views over them are recreated.
    let mut retyped_tables: BTreeSet<Name> = BTreeSet::new();
    for (object, fields) in &changes.changed {
        if let Object::Column { table, .. } = object
            && (fields.contains("type") || fields.contains("collation"))
        {
            retyped_tables.insert(table.clone());
        }
    }
    for object in &changes.removed {
        if let Object::Column { table, .. } = object {
            retyped_tables.insert(table.clone());
        }
    }
    for (name, table) in &from.tables {
        if table.columns.iter().any(|column| {
            recreated_enums.iter().any(|enum_name| {
                is_type(
                    column.data_type.trim_end_matches("[]"),
                    enum_name,
                    &from.search_path,
                )
            })
        }) {
            retyped_tables.insert(name.clone());
        }
    }

    // Functions dropped and created again (their result or kind changes), or removed.
    let mut replaced_functions: BTreeSet<FunctionName> = BTreeSet::new();
    let mut removed_functions: BTreeSet<FunctionName> = BTreeSet::new();
    for object in &changes.removed {
        if let Object::Function { name } = object {
            removed_functions.insert(name.clone());
        }
    }
    for object in changes.changed.keys() {
        if let Object::Function { name } = object
            && let (Some(before), Some(after)) = (from.functions.get(name), to.functions.get(name))
            && (before.result != after.result || before.kind != after.kind)
        {
            replaced_functions.insert(name.clone());
        }
    }

    // Functions that take or return a recreated enum: dropped before it is renamed away and
    // created again over the new one (else they keep the old type, which cannot be dropped).
    for (name, function) in &from.functions {
        let uses_enum = recreated_enums.iter().any(|enum_name| {
            signature_uses(
                &name.arguments,
                &function.result,
                enum_name,
                &from.search_path,
            )
        });
        if uses_enum && to.functions.contains_key(name) {
            replaced_functions.insert(name.clone());
        }
    }

    // What calls a function that is dropped and created again goes and comes back with it.
    let mut forced_indexes = BTreeSet::new();
    let mut forced_defaults = BTreeSet::new();
    let mut forced_constraints = BTreeSet::new();
    for function in replaced_functions.iter().chain(&removed_functions) {
        for user in &from.functions[function].used_by {
            match user {
                FunctionUser::Index(name) => {
                    forced_indexes.insert(name.clone());
                }
                FunctionUser::Constraint(table, constraint) => {
                    forced_constraints.insert((table.clone(), constraint.clone()));
                }
                FunctionUser::Default(table, column) => {
                    forced_defaults.insert((table.clone(), column.clone()));
                }
            }
        }
    }

    // CHECKs and indexes whose expressions cast to a recreated enum (`'sad'::mood`): they go
    // while its columns change type, and come back over the new one.
    let mentions_enum = |expression: &str| {
        recreated_enums
            .iter()
            .any(|enum_name| mentions_type(expression, enum_name, &from.search_path))
    };
    for (name, table) in &from.tables {
        for (constraint_name, constraint) in &table.constraints {
            let kept = to
                .tables
                .get(name)
                .is_some_and(|table| table.constraints.contains_key(constraint_name));
            if kept && mentions_enum(&constraint.definition) {
                forced_constraints.insert((name.clone(), constraint_name.clone()));
            }
        }
    }
    for (name, index) in &from.indexes {
        if to.indexes.contains_key(name) && mentions_enum(&index.definition) {
            forced_indexes.insert(name.clone());
        }
    }

    // Views: removed, changed, and (transitively) those over anything that changes shape.
    let mut dropped_views: BTreeSet<Name> = BTreeSet::new();
    for object in changes.removed.iter().chain(changes.changed.keys()) {
        if let Object::View { name } = object {
            dropped_views.insert(name.clone());
        }
    }
    loop {
        let before = dropped_views.len();
        for (name, view) in &from.views {
            let affected = view.depends_on.iter().any(|relation| {
                retyped_tables.contains(relation)
                    || changes.table_removed(relation)
                    || dropped_views.contains(relation)
            }) || view.calls.iter().any(|function| {
                replaced_functions.contains(function) || removed_functions.contains(function)
            });
            if affected {
                dropped_views.insert(name.clone());
            }
        }
        if dropped_views.len() == before {
            break;
        }
    }
    let created_views: BTreeSet<Name> = changes
        .added
        .iter()
        .filter_map(|object| match object {
            Object::View { name } => Some(name.clone()),
            _ => None,
        })
        .chain(
            dropped_views
                .iter()
                .filter(|name| to.views.contains_key(*name))
                .cloned(),
        )
        .collect();

    // Triggers: removed, changed (other than enabled), and those on recreated things.
    let mut dropped_triggers: BTreeSet<(Name, String)> = BTreeSet::new();
    let mut trigger_enabled_only: BTreeSet<(Name, String)> = BTreeSet::new();
    for object in &changes.removed {
        if let Object::Trigger { table, trigger } = object
            && !changes.table_removed(table)
        {
            dropped_triggers.insert((table.clone(), trigger.clone()));
        }
    }
    for (object, fields) in &changes.changed {
        if let Object::Trigger { table, trigger } = object {
            let key = (table.clone(), trigger.clone());
            if fields.iter().all(|field| *field == "enabled") {
                trigger_enabled_only.insert(key);
            } else {
                dropped_triggers.insert(key);
            }
        }
    }
    for ((table, trigger), definition) in &from.triggers {
        let key = (table.clone(), trigger.clone());
        if changes.table_removed(table) {
            continue;
        }
        if replaced_functions.contains(&definition.function)
            || dropped_views.contains(table)
            || (definition.uses_columns && retyped_tables.contains(table))
        {
            dropped_triggers.insert(key);
        }
    }
    trigger_enabled_only.retain(|key| !dropped_triggers.contains(key));
    let created_triggers: BTreeSet<(Name, String)> = changes
        .added
        .iter()
        .filter_map(|object| match object {
            Object::Trigger { table, trigger } => Some((table.clone(), trigger.clone())),
            _ => None,
        })
        .chain(
            dropped_triggers
                .iter()
                .filter(|key| to.triggers.contains_key(*key))
                .cloned(),
        )
        .collect();

    // Indexes: removed or changed ones are dropped (unless their table or view goes); those
    // on recreated materialized views come back with them.
    let mut dropped_indexes = BTreeSet::new();
    let mut created_indexes = BTreeSet::new();
    let forced_index_objects: Vec<Object> = forced_indexes
        .iter()
        .map(|name| Object::Index { name: name.clone() })
        .collect();
    for object in changes
        .removed
        .iter()
        .copied()
        .chain(changes.changed.keys().copied())
        .chain(&forced_index_objects)
    {
        if let Object::Index { name } = object
            && let Some(index) = from.indexes.get(name)
            && !changes.table_removed(&index.table)
            && !dropped_views.contains(&index.table)
        {
            dropped_indexes.insert(name.clone());
        }
    }
    for object in changes.added.iter().chain(changes.changed.keys()) {
        if let Object::Index { name } = object {
            created_indexes.insert(name.clone());
        }
    }
    for name in &forced_indexes {
        if to.indexes.contains_key(name) && dropped_indexes.contains(name) {
            created_indexes.insert(name.clone());
        }
    }
    for (name, index) in &to.indexes {
        if index.on_view && created_views.contains(&index.table) {
            created_indexes.insert(name.clone());
        }
    }
    // Policies: removed, changed, and those over what is dropped or changes shape (the
    // server refuses to alter a column's type, or drop it, under a policy).
    let mut dropped_policies = BTreeSet::new();
    for ((table, name), policy) in &from.policies {
        // A removed table's policies go with it, unless they read what goes before it.
        if changes.table_removed(table) {
            if !policy.depends_on.is_empty() || !policy.calls.is_empty() {
                dropped_policies.insert((table.clone(), name.clone()));
            }
            continue;
        }
        let object = Object::Policy {
            table: table.clone(),
            policy: name.clone(),
        };
        let affected = changes.removed.contains(&object)
            || changes.changed.contains_key(&object)
            || retyped_tables.contains(table)
            || policy.depends_on.iter().any(|relation| {
                retyped_tables.contains(relation)
                    || dropped_views.contains(relation)
                    || changes.table_removed(relation)
            })
            || policy.calls.iter().any(|function| {
                replaced_functions.contains(function) || removed_functions.contains(function)
            });
        if affected {
            dropped_policies.insert((table.clone(), name.clone()));
        }
    }
    let created_policies: BTreeSet<(Name, String)> = changes
        .added
        .iter()
        .filter_map(|object| match object {
            Object::Policy { table, policy } => Some((table.clone(), policy.clone())),
            _ => None,
        })
        .chain(
            dropped_policies
                .iter()
                .filter(|key| to.policies.contains_key(*key))
                .cloned(),
        )
        .collect();
    Expansion {
        dropped_policies,
        created_policies,
        recreated_enums,
        replaced_functions,
        removed_functions,
        forced_constraints,
        dropped_views,
        created_views,
        dropped_triggers,
        trigger_enabled_only,
        created_triggers,
        dropped_indexes,
        created_indexes,
        forced_defaults,
    }
}

/// A column dropped and added again (it becomes generated).
pub(super) fn recreated_column(changes: &Changes, table: &Name, column: &str) -> bool {
    changes
        .changed
        .get(&Object::Column {
            table: table.clone(),
            column: column.to_string(),
        })
        .is_some_and(|fields| fields.contains("generated"))
}

/// Whether `before` appears in `after` in the same order (labels are only added).
pub(super) fn is_subsequence(before: &[String], after: &[String]) -> bool {
    let mut remaining = after.iter();
    before
        .iter()
        .all(|label| remaining.any(|candidate| candidate == label))
}
