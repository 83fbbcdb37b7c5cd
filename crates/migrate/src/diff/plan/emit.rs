//! The steps of a plan, phase by phase; [`super::Phase`] puts them in order.

use super::super::compare::{Object, PossibleRename};
use super::super::model::CommentOwner;
use super::alter::{plan_columns, plan_enum, plan_sequences};
use super::expand::{Changes, Expansion, recreated_column};
use super::order::{FunctionPlace, Node, function_places, views_and_functions};
use super::sql::{comment_on, create_enum, create_table, drop_function, literal};
use super::{Phase, Planner, Step};
use crate::sql::quote_identifier as quote;
use std::collections::BTreeSet;
/// Drops of relations and what hangs on them, and column changes.
pub(super) fn drops(
    planner: &mut Planner,
    changes: &Changes,
    x: &Expansion,
    renames: &[PossibleRename],
) {
    let (from, to) = (planner.from, planner.to);
    // --- Drops of relations and what hangs on them.
    for (table, trigger) in &x.dropped_triggers {
        let sql = format!("DROP TRIGGER {} ON {}", quote(trigger), planner.name(table));
        planner.push(Phase::DropTrigger, "DropTrigger", sql);
    }
    // Views, and the functions that read them or tables, in reverse dependency order: a
    // function over a view (or a BEGIN ATOMIC body over a table) goes before what it reads.
    let reading = reading_functions(from, x);
    for node in views_and_functions(&x.dropped_views, &reading, from)
        .into_iter()
        .rev()
    {
        let name = match node {
            Node::View(name) => name,
            Node::Function(function) => {
                let sql = drop_function(planner, &function);
                planner.push(Phase::DropView, "DropFunction", sql);
                continue;
            }
        };
        let view = &from.views[&name];
        let kind = if view.materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        let sql = format!("DROP {kind} {}", planner.name(&name));
        planner.push(Phase::DropView, "DropView", sql);
    }
    for function in x
        .replaced_functions
        .iter()
        .chain(
            x.removed_functions
                .iter()
                .filter(|function| drops_early(from, to, function)),
        )
        .filter(|function| !reading.contains(*function))
    {
        let sql = drop_function(planner, function);
        planner.push(Phase::DropFunctionEarly, "DropFunction", sql);
    }
    for name in &x.dropped_indexes {
        let sql = format!("DROP INDEX {}", planner.name(name));
        planner.push(Phase::DropIndex, "DropIndex", sql);
    }
    for (name, table) in &from.tables {
        let dropped = changes.table_removed(name);
        for (constraint_name, constraint) in &table.constraints {
            let object = Object::Constraint {
                table: name.clone(),
                constraint: constraint_name.clone(),
            };
            let goes = changes.removed.contains(&object)
                || changes.changed.contains_key(&object)
                || x.forced_constraints
                    .contains(&(name.clone(), constraint_name.clone()));
            let foreign = constraint.kind == 'f';
            // A dropped table's foreign keys go first, so dropped tables can reference each other.
            if (goes && !dropped) || (dropped && foreign) {
                let sql = format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    planner.name(name),
                    quote(constraint_name)
                );
                if foreign {
                    planner.push(Phase::DropForeignKey, "DropForeignKey", sql);
                } else {
                    planner.push(Phase::DropConstraint, "AlterTable", sql);
                }
            }
        }
    }

    // Columns.
    for (name, after) in &to.tables {
        let Some(before) = from.tables.get(name) else {
            continue;
        };
        plan_columns(planner, changes, name, before, after, renames);
    }

    for object in &changes.removed {
        if let Object::Table { name } = object {
            let sql = format!("DROP TABLE {}", planner.name(name));
            planner.push(Phase::DropTable, "DropTable", sql);
            planner.warnings.push(format!(
                "You are about to drop the `{}` table. If the table is not empty, all the data it contains will be lost.",
                name.name
            ));
        }
    }
}
/// Creates and alters; whether functions are created.
pub(super) fn creates(planner: &mut Planner, changes: &Changes, x: &Expansion) -> bool {
    let (from, to) = (planner.from, planner.to);
    // --- Creates and alters.
    for object in &changes.added {
        if let Object::Schema { name } = object {
            planner.push(
                Phase::CreateSchema,
                "CreateSchema",
                format!("CREATE SCHEMA IF NOT EXISTS {}", quote(name)),
            );
        }
    }
    for object in &changes.added {
        if let Object::Extension { name } = object {
            let extension = &to.extensions[name];
            let schema = if extension.schema == to.search_path {
                String::new()
            } else {
                format!(" WITH SCHEMA {}", quote(&extension.schema))
            };
            planner.push(
                Phase::CreateExtension,
                "CreateExtension",
                format!("CREATE EXTENSION IF NOT EXISTS {}{schema}", quote(name)),
            );
        }
    }
    for object in changes.changed.keys() {
        if let Object::Extension { name } = object {
            let sql = format!(
                "ALTER EXTENSION {} SET SCHEMA {}",
                quote(name),
                quote(&to.extensions[name].schema)
            );
            planner.push(Phase::AlterExtension, "AlterExtension", sql);
        }
    }
    for object in &changes.added {
        if let Object::Enum { name } = object {
            let sql = create_enum(planner, name, &to.enums[name]);
            planner.push(Phase::CreateEnum, "CreateEnum", sql);
        }
    }
    for object in changes.changed.keys() {
        if let Object::Enum { name } = object {
            plan_enum(planner, name, x.recreated_enums.contains(name));
        }
    }
    plan_sequences(planner, changes);

    let mut creates_functions = false;
    let places = function_places(to);
    let mut with_views = BTreeSet::new();
    for (function, definition) in &to.functions {
        let object = Object::Function {
            name: function.clone(),
        };
        // Replaced: dropped and created again (a new result, a recreated enum it takes).
        if changes.added.contains(&object)
            || changes.changed.contains_key(&object)
            || x.replaced_functions.contains(function)
        {
            creates_functions = true;
            let phase = match places[function] {
                FunctionPlace::BeforeTables => Phase::CreateFunction,
                FunctionPlace::AfterTables => Phase::CreateRowTypeFunction,
                FunctionPlace::WithViews => {
                    with_views.insert(function.clone());
                    continue;
                }
            };
            planner.push(phase, "CreateFunction", definition.definition.clone());
        }
    }

    for object in &changes.added {
        if let Object::Table { name } = object {
            let sql = create_table(name, &to.tables[name], &to.search_path);
            planner.push(Phase::CreateTable, "CreateTable", sql);
        }
    }
    for (name, table) in &to.tables {
        let added_table = changes.table_added(name);
        for (constraint_name, constraint) in &table.constraints {
            let object = Object::Constraint {
                table: name.clone(),
                constraint: constraint_name.clone(),
            };
            let inline = added_table && constraint.kind != 'f' && constraint.validated;
            let new = added_table
                || changes.added.contains(&object)
                || changes.changed.contains_key(&object)
                || x.forced_constraints
                    .contains(&(name.clone(), constraint_name.clone()));
            if !new || inline {
                continue;
            }
            let sql = format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {}",
                planner.name(name),
                quote(constraint_name),
                constraint.definition
            );
            if constraint.kind == 'f' {
                planner.push(Phase::AddForeignKey, "AddForeignKey", sql);
            } else {
                if constraint.kind == 'u' && !added_table {
                    planner.warnings.push(format!(
                        "A unique constraint `{constraint_name}` on the table `{}` will be added. If there are existing duplicate values, this will fail.",
                        name.name
                    ));
                }
                planner.push(Phase::CreateIndex, "AlterTable", sql);
            }
        }
    }
    for name in &x.created_indexes {
        let index = &to.indexes[name];
        let phase = if index.on_view {
            Phase::CreateViewIndex
        } else {
            Phase::CreateIndex
        };
        if index.definition.starts_with("CREATE UNIQUE")
            && from.tables.contains_key(&index.table)
            && !changes.table_added(&index.table)
        {
            planner.warnings.push(format!(
                "A unique index `{}` on the table `{}` will be added. If there are existing duplicate values, this will fail.",
                name.name, index.table.name
            ));
        }
        let existing_table =
            from.tables.contains_key(&index.table) && !changes.table_added(&index.table);
        if planner.concurrent_indexes && existing_table && !index.on_view {
            planner.concurrent.push(super::ConcurrentIndex {
                name: name.name.clone(),
                step: Step {
                    section: "CreateIndex",
                    sql: concurrently(&index.definition),
                },
            });
            continue;
        }
        planner.push(phase, "CreateIndex", index.definition.clone());
    }
    for node in views_and_functions(&x.created_views, &with_views, to) {
        let name = match node {
            Node::View(name) => name,
            Node::Function(function) => {
                let sql = to.functions[&function].definition.clone();
                planner.push(Phase::CreateView, "CreateFunction", sql);
                continue;
            }
        };
        let view = &to.views[&name];
        let kind = if view.materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        let options = if view.options.is_empty() {
            String::new()
        } else {
            format!(" WITH ({})", view.options.join(", "))
        };
        let sql = format!(
            "CREATE {kind} {}{options} AS\n{}",
            planner.name(&name),
            view.definition
        );
        planner.push(Phase::CreateView, "CreateView", sql);
    }
    for key in x.created_triggers.iter().chain(&x.trigger_enabled_only) {
        let trigger = &to.triggers[key];
        if x.created_triggers.contains(key) {
            planner.push(
                Phase::CreateTrigger,
                "CreateTrigger",
                trigger.definition.clone(),
            );
        }
        let enable = match trigger.enabled {
            'D' => "DISABLE TRIGGER",
            'R' => "ENABLE REPLICA TRIGGER",
            'A' => "ENABLE ALWAYS TRIGGER",
            _ if x.created_triggers.contains(key) => continue,
            _ => "ENABLE TRIGGER",
        };
        let sql = format!(
            "ALTER TABLE {} {enable} {}",
            planner.name(&key.0),
            quote(&key.1)
        );
        planner.push(Phase::CreateTrigger, "AlterTable", sql);
    }
    creates_functions
}
/// Comments: set where new or changed, or where their object is created again.
pub(super) fn comments(planner: &mut Planner, changes: &Changes, x: &Expansion) {
    let (from, to) = (planner.from, planner.to);
    // Comments: set where new or changed, or where their object is created again.
    let recreated = |owner: &CommentOwner| match owner {
        CommentOwner::Relation(name) => {
            x.dropped_views.contains(name)
                || x.dropped_indexes.contains(name)
                || changes.table_removed(name)
                || x.created_indexes.contains(name)
        }
        CommentOwner::Column(table, column) => {
            changes.table_removed(table)
                || changes.removed.contains(&Object::Column {
                    table: table.clone(),
                    column: column.clone(),
                })
                || x.dropped_views.contains(table)
                || recreated_column(changes, table, column)
        }
        CommentOwner::Constraint(table, constraint) => {
            let object = Object::Constraint {
                table: table.clone(),
                constraint: constraint.clone(),
            };
            changes.table_removed(table)
                || changes.removed.contains(&object)
                || changes.changed.contains_key(&object)
                || x.forced_constraints
                    .contains(&(table.clone(), constraint.clone()))
        }
        CommentOwner::Trigger(table, trigger) => {
            x.dropped_triggers
                .contains(&(table.clone(), trigger.clone()))
                || changes.table_removed(table)
        }
        CommentOwner::Function(function) => {
            x.replaced_functions.contains(function) || x.removed_functions.contains(function)
        }
        CommentOwner::Type(name) => {
            x.recreated_enums.contains(name)
                || super::domain::recreated(changes, name)
                || super::composite::recreated(planner, changes, name)
                || changes
                    .removed
                    .contains(&Object::Range { name: name.clone() })
                || changes
                    .changed
                    .contains_key(&Object::Range { name: name.clone() })
                || changes
                    .removed
                    .contains(&Object::Enum { name: name.clone() })
        }
        CommentOwner::Schema(name) => changes
            .removed
            .contains(&Object::Schema { name: name.clone() }),
    };
    let mut comment_steps = Vec::new();
    for (target, comment) in &from.comments {
        if !to.comments.contains_key(target) && !recreated(&comment.owner) {
            comment_steps.push(comment_on(target, "NULL"));
        }
    }
    for (target, comment) in &to.comments {
        let same = from
            .comments
            .get(target)
            .is_some_and(|before| before.text == comment.text);
        if !same || recreated(&comment.owner) {
            comment_steps.push(comment_on(target, &literal(&comment.text)));
        }
    }
    for sql in comment_steps {
        planner.push(Phase::Comment, "Comment", sql);
    }
}
/// Drops of what relations used.
pub(super) fn final_drops(planner: &mut Planner, changes: &Changes, x: &Expansion) {
    let (from, to) = (planner.from, planner.to);
    // --- Drops of what relations used.
    let reading = reading_functions(from, x);
    for function in &x.removed_functions {
        if !drops_early(from, to, function) && !reading.contains(function) {
            let sql = drop_function(planner, function);
            planner.push(Phase::DropFunction, "DropFunction", sql);
        }
    }
    for object in &changes.removed {
        let (phase, section, sql) = match object {
            Object::Sequence { name } => (
                Phase::DropSequence,
                "DropSequence",
                format!("DROP SEQUENCE IF EXISTS {}", planner.name(name)),
            ),
            Object::Enum { name } => (
                Phase::DropEnum,
                "DropEnum",
                format!("DROP TYPE {}", planner.name(name)),
            ),
            Object::Extension { name } => (
                Phase::DropExtension,
                "DropExtension",
                format!("DROP EXTENSION {}", quote(name)),
            ),
            Object::Schema { name } => (
                Phase::DropSchema,
                "DropSchema",
                format!("DROP SCHEMA {}", quote(name)),
            ),
            _ => continue,
        };
        planner.push(phase, section, sql);
    }
}

/// `pg_get_indexdef`'s `CREATE [UNIQUE] INDEX name ...` as `CREATE [UNIQUE] INDEX CONCURRENTLY
/// name ...`.
fn concurrently(definition: &str) -> String {
    for start in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = definition.strip_prefix(start) {
            return format!("{start}CONCURRENTLY {rest}");
        }
    }
    definition.to_string()
}

/// The replaced and removed functions that read relations (`BEGIN ATOMIC` bodies, row types,
/// or through the functions they call): dropped with the views, before what they read.
fn reading_functions(
    from: &crate::diff::model::SchemaModel,
    x: &Expansion,
) -> BTreeSet<crate::diff::model::FunctionName> {
    let places = function_places(from);
    x.replaced_functions
        .iter()
        .chain(&x.removed_functions)
        .filter(|function| {
            places
                .get(*function)
                .is_some_and(|place| *place != FunctionPlace::BeforeTables)
        })
        .cloned()
        .collect()
}

/// A removed function that goes before the creates: one taking or returning a row type (its
/// table may go), and one whose name the `to` side keeps with other arguments (a changed
/// signature: while both exist, a call that fits both is "not unique").
fn drops_early(
    from: &crate::diff::model::SchemaModel,
    to: &crate::diff::model::SchemaModel,
    function: &crate::diff::model::FunctionName,
) -> bool {
    from.functions[function].uses_row_type
        || to
            .functions
            .keys()
            .any(|other| other.name == function.name && other.arguments != function.arguments)
}
