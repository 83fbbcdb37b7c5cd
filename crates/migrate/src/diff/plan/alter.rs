//! Changes inside objects both sides have: enum labels, sequence options, columns.

use super::super::compare::{Object, PossibleRename};
use super::super::model::{Name, Table};
use super::expand::Changes;
use super::sql::{
    column_definition, create_enum, identity_kind, identity_options, is_type, literal,
    set_identity_options,
};
use super::{Phase, Planner};
use crate::sql::quote_identifier as quote;

pub(super) fn plan_enum(planner: &mut Planner, name: &Name, recreate: bool) {
    let (before, after) = (&planner.from.enums[name], &planner.to.enums[name]);
    if !recreate {
        for (position, label) in after.iter().enumerate() {
            if before.contains(label) {
                continue;
            }
            let place = match after[position + 1..]
                .iter()
                .find(|next| before.contains(next))
            {
                Some(next) => format!(" BEFORE {}", literal(next)),
                None => String::new(),
            };
            let sql = format!(
                "ALTER TYPE {} ADD VALUE {}{place}",
                planner.name(name),
                literal(label)
            );
            planner.added_labels.push(literal(label));
            planner.push(Phase::CreateEnum, super::ADD_ENUM_VALUE_SECTION, sql);
        }
        return;
    }
    let removed: Vec<&str> = before
        .iter()
        .filter(|label| !after.contains(label))
        .map(String::as_str)
        .collect();
    if !removed.is_empty() {
        planner.warnings.push(format!(
            "The values [{}] on the enum `{}` will be removed. If these variants are still used in the database, this will fail.",
            removed.join(","),
            name.name
        ));
    }
    let old = Name::new(&name.schema, &format!("{}_old", name.name));
    let mut statements = vec![
        format!(
            "ALTER TYPE {} RENAME TO {}",
            planner.name(name),
            quote(&old.name)
        ),
        create_enum(planner, name, after),
    ];
    for (table_name, table) in &planner.from.tables {
        let Some(target) = planner.to.tables.get(table_name) else {
            continue;
        };
        for column in &table.columns {
            let element = column.data_type.trim_end_matches("[]");
            if !is_type(element, name, &planner.from.search_path)
                || target.column(&column.name).is_none()
            {
                continue;
            }
            let dimensions = &column.data_type[element.len()..];
            let table_sql = planner.name(table_name);
            let column_sql = quote(&column.name);
            if column.default.is_some() {
                statements.push(format!(
                    "ALTER TABLE {table_sql} ALTER COLUMN {column_sql} DROP DEFAULT"
                ));
            }
            let new_type = format!("{}{dimensions}", planner.name(name));
            statements.push(format!(
                "ALTER TABLE {table_sql} ALTER COLUMN {column_sql} TYPE {new_type} USING ({column_sql}::text{dimensions}::{new_type})"
            ));
            if let Some(default) = target.column(&column.name).and_then(|c| c.default.clone()) {
                statements.push(format!(
                    "ALTER TABLE {table_sql} ALTER COLUMN {column_sql} SET DEFAULT {default}"
                ));
            }
        }
    }
    statements.push(format!("DROP TYPE {}", planner.name(&old)));
    planner.push(Phase::RecreateEnum, "AlterEnum", statements.join(";\n"));
}

pub(super) fn plan_sequences(planner: &mut Planner, changes: &Changes) {
    for (name, sequence) in &planner.to.sequences {
        let object = Object::Sequence { name: name.clone() };
        let options = super::super::compare::sequence_options(sequence);
        let owner = match &sequence.owned_by {
            Some((table, column)) => format!("{}.{}", planner.name(table), quote(column)),
            None => "NONE".to_string(),
        };
        if changes.added.contains(&object) {
            let sql = format!("CREATE SEQUENCE {} {options}", planner.name(name));
            planner.push(Phase::CreateSequence, "CreateSequence", sql);
            if sequence.owned_by.is_some() {
                let sql = format!("ALTER SEQUENCE {} OWNED BY {}", planner.name(name), owner);
                planner.push(Phase::OwnSequence, "AlterSequence", sql);
            }
        } else if let Some(fields) = changes.changed.get(&object) {
            if fields.contains("options") {
                let sql = format!("ALTER SEQUENCE {} {options}", planner.name(name));
                planner.push(Phase::CreateSequence, "AlterSequence", sql);
            }
            if fields.contains("owned by") {
                let sql = format!("ALTER SEQUENCE {} OWNED BY {}", planner.name(name), owner);
                planner.push(Phase::OwnSequence, "AlterSequence", sql);
            }
        }
    }
    for object in &changes.removed {
        if let Object::Sequence { name } = object {
            planner.warnings.push(format!(
                "You are about to drop the sequence `{}`; its current value is lost.",
                name.name
            ));
        }
    }
}

/// Column drops, adds and alterations of a table both sides have.
pub(super) fn plan_columns(
    planner: &mut Planner,
    changes: &Changes,
    name: &Name,
    before: &Table,
    after: &Table,
    renames: &[PossibleRename],
) {
    let table_sql = planner.name(name);
    let mut drop_defaults = Vec::new();
    let mut drops = Vec::new();
    let mut alters = Vec::new();
    let mut identity_alters = Vec::new();
    if before.unlogged != after.unlogged {
        alters.push(if after.unlogged {
            "SET UNLOGGED".to_string()
        } else {
            "SET LOGGED".to_string()
        });
    }
    alters.extend(super::sql::storage_parameter_changes(
        &before.storage_parameters,
        &after.storage_parameters,
    ));
    for column in &before.columns {
        let object = Object::Column {
            table: name.clone(),
            column: column.name.clone(),
        };
        if changes.removed.contains(&object) {
            drops.push(format!("DROP COLUMN {}", quote(&column.name)));
            planner.warnings.push(format!(
                "You are about to drop the column `{}` on the `{}` table. All the data in the column will be lost.",
                column.name, name.name
            ));
        }
    }
    for column in &after.columns {
        let object = Object::Column {
            table: name.clone(),
            column: column.name.clone(),
        };
        let column_sql = quote(&column.name);
        if changes.added.contains(&object) {
            alters.push(format!("ADD COLUMN {}", column_definition(column)));
            if column.not_null
                && column.default.is_none()
                && column.identity.is_none()
                && column.generated.is_none()
            {
                planner.warnings.push(format!(
                    "Added the required column `{}` to the `{}` table without a default value. This is not possible if the table is not empty.",
                    column.name, name.name
                ));
            }
            continue;
        }
        let mut fields = changes.changed.get(&object).cloned().unwrap_or_default();
        if planner
            .forced_defaults
            .contains(&(name.clone(), column.name.clone()))
        {
            fields.insert("default");
        }
        if fields.is_empty() {
            continue;
        }
        let Some(old) = before.column(&column.name) else {
            continue;
        };
        // Becoming generated: the column is dropped and added again.
        if fields.contains("generated") && old.generated.is_none() {
            drops.push(format!("DROP COLUMN {column_sql}"));
            alters.push(format!("ADD COLUMN {}", column_definition(column)));
            planner.warnings.push(format!(
                "The column `{}` on the `{}` table becomes generated: it is dropped and added again, and its data is lost.",
                column.name, name.name
            ));
            continue;
        }
        let retyped = fields.contains("type") || fields.contains("collation");
        if old.default.is_some() && (fields.contains("default") || retyped) {
            drop_defaults.push(format!("ALTER COLUMN {column_sql} DROP DEFAULT"));
        }
        if fields.contains("generated") {
            alters.push(match &column.generated {
                Some(expression) => {
                    format!("ALTER COLUMN {column_sql} SET EXPRESSION AS ({expression})")
                }
                None => format!("ALTER COLUMN {column_sql} DROP EXPRESSION"),
            });
        }
        if fields.contains("identity") && old.identity.is_some() && column.identity.is_none() {
            alters.push(format!("ALTER COLUMN {column_sql} DROP IDENTITY"));
        }
        if retyped {
            let via_text = planner
                .from
                .enums
                .keys()
                .any(|enum_name| is_type(&old.data_type, enum_name, &planner.from.search_path));
            let cast = if via_text { "::text" } else { "" };
            let collation = column
                .collation
                .as_ref()
                .map(|collation| format!(" COLLATE {collation}"))
                .unwrap_or_default();
            // No `USING` to a string or bit type: its explicit cast would truncate silently,
            // where the assignment cast raises "value too long" ([`super::casts`]).
            let using = if super::casts::writes_using(&column.data_type) {
                format!(" USING {column_sql}{cast}::{}", column.data_type)
            } else {
                String::new()
            };
            alters.push(format!(
                "ALTER COLUMN {column_sql} SET DATA TYPE {}{collation}{using}",
                column.data_type
            ));
            if fields.contains("type")
                && !super::casts::is_safe_cast(&old.data_type, &column.data_type)
            {
                let how = if using.is_empty() {
                    "This fails, and nothing is changed, if a value does not fit."
                } else {
                    "This cast may fail. Please make sure the data in the column can be cast."
                };
                planner.warnings.push(format!(
                    "You are about to alter the column `{}` on the `{}` table. The data in that column will be cast from `{}` to `{}`. {how}",
                    column.name, name.name, old.data_type, column.data_type
                ));
            }
        }
        if fields.contains("not null") {
            if column.not_null {
                alters.push(format!("ALTER COLUMN {column_sql} SET NOT NULL"));
                planner.warnings.push(format!(
                    "Made the column `{}` on table `{}` required; this fails if it holds NULL values.",
                    column.name, name.name
                ));
            } else {
                alters.push(format!("ALTER COLUMN {column_sql} DROP NOT NULL"));
            }
        }
        if let Some(default) = &column.default
            && (fields.contains("default") || retyped)
        {
            alters.push(format!("ALTER COLUMN {column_sql} SET DEFAULT {default}"));
        }
        if fields.contains("identity") {
            match (old.identity, column.identity) {
                (None, Some(kind)) => alters.push(format!(
                    "ALTER COLUMN {column_sql} ADD GENERATED {} AS IDENTITY{}",
                    identity_kind(kind),
                    identity_options(column)
                )),
                (Some(_), Some(kind)) => alters.push(format!(
                    "ALTER COLUMN {column_sql} SET GENERATED {}",
                    identity_kind(kind)
                )),
                _ => {}
            }
        }
        // After any type change, in a statement of its own: the sequence follows the type.
        if fields.contains("identity options")
            && old.identity.is_some()
            && let Some(options) = &column.identity_options
        {
            identity_alters.push(format!(
                "ALTER TABLE {table_sql} ALTER COLUMN {column_sql} {}",
                set_identity_options(options)
            ));
        }
    }
    for rename in renames.iter().filter(|rename| &rename.table == name) {
        planner.warnings.push(format!(
            "The column `{}` on the `{}` table is dropped and the column `{}` ({}) is added: if this is a rename, write `ALTER TABLE {} RENAME COLUMN {} TO {}` instead, or the data of `{}` is lost.",
            rename.removed,
            name.name,
            rename.added,
            rename.data_type,
            table_sql,
            quote(&rename.removed),
            quote(&rename.added),
            rename.removed
        ));
    }
    let mut push = |phase, clauses: Vec<String>| {
        if !clauses.is_empty() {
            let sql = format!("ALTER TABLE {table_sql} {}", clauses.join(",\n    "));
            planner.push(phase, "AlterTable", sql);
        }
    };
    push(Phase::DropDefault, drop_defaults);
    push(Phase::DropColumn, drops);
    push(Phase::AlterTable, alters);
    for sql in identity_alters {
        planner.push(Phase::AlterTable, "AlterTable", sql);
    }
}
