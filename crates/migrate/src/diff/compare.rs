//! The comparison: two models in, the list of differences out. Pure, deterministic (the
//! models are BTreeMaps, walked in order), unit-tested without a database.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::model::{CommentTarget, FunctionName, Name, SchemaModel, Sequence, Table};

/// The object a difference is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Object {
    Schema { name: String },
    Extension { name: String },
    Enum { name: Name },
    Sequence { name: Name },
    Table { name: Name },
    Column { table: Name, column: String },
    Constraint { table: Name, constraint: String },
    Index { name: Name },
    View { name: Name },
    Function { name: FunctionName },
    Trigger { table: Name, trigger: String },
    Comment { target: CommentTarget },
}

impl fmt::Display for Object {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Schema { name } => write!(formatter, "schema `{name}`"),
            Object::Extension { name } => write!(formatter, "extension `{name}`"),
            Object::Enum { name } => write!(formatter, "enum `{name}`"),
            Object::Sequence { name } => write!(formatter, "sequence `{name}`"),
            Object::Table { name } => write!(formatter, "table `{name}`"),
            Object::Column { table, column } => {
                write!(formatter, "column `{column}` of table `{table}`")
            }
            Object::Constraint { table, constraint } => {
                write!(formatter, "constraint `{constraint}` of table `{table}`")
            }
            Object::Index { name } => write!(formatter, "index `{name}`"),
            Object::View { name } => write!(formatter, "view `{name}`"),
            Object::Function { name } => write!(formatter, "function `{name}`"),
            Object::Trigger { table, trigger } => {
                write!(formatter, "trigger `{trigger}` on `{table}`")
            }
            Object::Comment { target } => write!(
                formatter,
                "comment on {} `{}`",
                target.object_type, target.identity
            ),
        }
    }
}

/// How the object differs, from the `from` side to the `to` side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    Changed {
        field: &'static str,
        before: String,
        after: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    #[serde(flatten)]
    pub object: Object,
    #[serde(flatten)]
    pub change: Change,
}

impl fmt::Display for Difference {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.change {
            Change::Added => write!(formatter, "added {}", self.object),
            Change::Removed => write!(formatter, "removed {}", self.object),
            Change::Changed {
                field,
                before,
                after,
            } => {
                let (before, after) = shown_pair(before, after);
                write!(
                    formatter,
                    "changed {} ({field}: {before} -> {after})",
                    self.object
                )
            }
        }
    }
}

/// Before and after on one line each: whitespace collapsed, `none` for nothing, and long
/// values cut to a window around where they start to differ.
fn shown_pair(before: &str, after: &str) -> (String, String) {
    const WIDTH: usize = 80;
    let one_line = |text: &str| -> Vec<char> {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .collect()
    };
    let (before, after) = (one_line(before), one_line(after));
    let common = before
        .iter()
        .zip(&after)
        .take_while(|(left, right)| left == right)
        .count();
    let window = |text: &[char]| -> String {
        if text.is_empty() {
            return "none".to_string();
        }
        if text.len() <= WIDTH {
            return text.iter().collect();
        }
        let start = common
            .saturating_sub(20)
            .min(text.len().saturating_sub(WIDTH));
        let end = (start + WIDTH).min(text.len());
        format!(
            "{}{}{}",
            if start > 0 { "..." } else { "" },
            text[start..end].iter().collect::<String>(),
            if end < text.len() { "..." } else { "" }
        )
    };
    (window(&before), window(&after))
}

/// Every difference between `from` and `to`, in a fixed order.
pub fn compare(from: &SchemaModel, to: &SchemaModel) -> Vec<Difference> {
    let mut differences = Vec::new();
    let mut push = |object: Object, change: Change| differences.push(Difference { object, change });

    let schemas = presence(&set_map(&from.schemas), &set_map(&to.schemas));
    for (name, change) in schemas {
        push(Object::Schema { name: name.clone() }, change);
    }
    for (name, pair) in pairs(&from.extensions, &to.extensions) {
        let object = || Object::Extension { name: name.clone() };
        match pair {
            Pair::Added => push(object(), Change::Added),
            Pair::Removed => push(object(), Change::Removed),
            Pair::Both(before, after) => {
                for change in fields([("schema", &before.schema, &after.schema)]) {
                    push(object(), change);
                }
            }
        }
    }
    for (name, pair) in pairs(&from.enums, &to.enums) {
        let object = || Object::Enum { name: name.clone() };
        match pair {
            Pair::Added => push(object(), Change::Added),
            Pair::Removed => push(object(), Change::Removed),
            Pair::Both(before, after) => {
                for change in fields([("labels", &before.join(", "), &after.join(", "))]) {
                    push(object(), change);
                }
            }
        }
    }
    for (name, pair) in pairs(&from.sequences, &to.sequences) {
        let object = || Object::Sequence { name: name.clone() };
        match pair {
            Pair::Added => push(object(), Change::Added),
            Pair::Removed => push(object(), Change::Removed),
            Pair::Both(before, after) => {
                let owner = |sequence: &Sequence| {
                    sequence
                        .owned_by
                        .as_ref()
                        .map(|(table, column)| format!("{table}.{column}"))
                        .unwrap_or_default()
                };
                let changes = fields([
                    (
                        "options",
                        &sequence_options(before),
                        &sequence_options(after),
                    ),
                    ("owned by", &owner(before), &owner(after)),
                ]);
                for change in changes {
                    push(object(), change);
                }
            }
        }
    }
    for (name, pair) in pairs(&from.tables, &to.tables) {
        match pair {
            Pair::Added => push(Object::Table { name: name.clone() }, Change::Added),
            Pair::Removed => push(Object::Table { name: name.clone() }, Change::Removed),
            Pair::Both(before, after) => {
                for (object, change) in compare_tables(name, before, after) {
                    push(object, change);
                }
            }
        }
    }
    for (name, pair) in pairs(&from.indexes, &to.indexes) {
        let object = || Object::Index { name: name.clone() };
        match pair {
            Pair::Added => push(object(), Change::Added),
            Pair::Removed => push(object(), Change::Removed),
            Pair::Both(before, after) => {
                let changes = fields([
                    ("definition", &before.definition, &after.definition),
                    ("valid", &before.valid.to_string(), &after.valid.to_string()),
                ]);
                for change in changes {
                    push(object(), change);
                }
            }
        }
    }
    for (name, pair) in pairs(&from.views, &to.views) {
        let object = || Object::View { name: name.clone() };
        match pair {
            Pair::Added => push(object(), Change::Added),
            Pair::Removed => push(object(), Change::Removed),
            Pair::Both(before, after) => {
                let changes = fields([
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
                ]);
                for change in changes {
                    push(object(), change);
                }
            }
        }
    }
    for (name, pair) in pairs(&from.functions, &to.functions) {
        let object = || Object::Function { name: name.clone() };
        match pair {
            Pair::Added => push(object(), Change::Added),
            Pair::Removed => push(object(), Change::Removed),
            Pair::Both(before, after) => {
                for change in fields([("definition", &before.definition, &after.definition)]) {
                    push(object(), change);
                }
            }
        }
    }
    for ((table, trigger), pair) in pairs(&from.triggers, &to.triggers) {
        let object = || Object::Trigger {
            table: table.clone(),
            trigger: trigger.clone(),
        };
        match pair {
            Pair::Added => push(object(), Change::Added),
            Pair::Removed => push(object(), Change::Removed),
            Pair::Both(before, after) => {
                let changes = fields([
                    ("definition", &before.definition, &after.definition),
                    (
                        "enabled",
                        &before.enabled.to_string(),
                        &after.enabled.to_string(),
                    ),
                ]);
                for change in changes {
                    push(object(), change);
                }
            }
        }
    }
    for (target, pair) in pairs(&from.comments, &to.comments) {
        let object = || Object::Comment {
            target: target.clone(),
        };
        match pair {
            Pair::Added => push(object(), Change::Added),
            Pair::Removed => push(object(), Change::Removed),
            Pair::Both(before, after) => {
                for change in fields([("text", &before.text, &after.text)]) {
                    push(object(), change);
                }
            }
        }
    }
    differences
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
                    ("default", &optional(&old.default), &optional(&new.default)),
                    ("identity", &identity(old.identity), &identity(new.identity)),
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

fn presence<'a>(
    from: &'a BTreeMap<String, ()>,
    to: &'a BTreeMap<String, ()>,
) -> Vec<(String, Change)> {
    pairs(from, to)
        .into_iter()
        .filter_map(|(name, pair)| match pair {
            Pair::Added => Some((name.clone(), Change::Added)),
            Pair::Removed => Some((name.clone(), Change::Removed)),
            Pair::Both(..) => None,
        })
        .collect()
}

/// A removed and an added column of the same type on one table: maybe a rename, which the
/// plan carries out as a drop and an add (the column's data is lost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PossibleRename {
    pub table: Name,
    pub removed: String,
    pub added: String,
    pub data_type: String,
}

pub fn possible_renames(
    differences: &[Difference],
    from: &SchemaModel,
    to: &SchemaModel,
) -> Vec<PossibleRename> {
    let mut removed: BTreeMap<&Name, Vec<&str>> = BTreeMap::new();
    let mut added: BTreeMap<&Name, Vec<&str>> = BTreeMap::new();
    for difference in differences {
        if let Object::Column { table, column } = &difference.object {
            match difference.change {
                Change::Removed => removed.entry(table).or_default().push(column),
                Change::Added => added.entry(table).or_default().push(column),
                Change::Changed { .. } => {}
            }
        }
    }
    let mut renames = Vec::new();
    for (table, removed_columns) in removed {
        let (Some(added_columns), Some(before), Some(after)) = (
            added.get(table),
            from.tables.get(table),
            to.tables.get(table),
        ) else {
            continue;
        };
        for removed_column in removed_columns {
            let Some(old) = before.column(removed_column) else {
                continue;
            };
            for added_column in added_columns {
                if after
                    .column(added_column)
                    .is_some_and(|new| new.data_type == old.data_type)
                {
                    renames.push(PossibleRename {
                        table: table.clone(),
                        removed: removed_column.to_string(),
                        added: added_column.to_string(),
                        data_type: old.data_type.clone(),
                    });
                }
            }
        }
    }
    renames
}

/// An object of a kind nelo does not compare, and which side has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotCompared {
    pub kind: String,
    pub identity: String,
    /// `both`, `from` or `to`.
    pub side: &'static str,
}

pub fn not_compared(from: &SchemaModel, to: &SchemaModel) -> Vec<NotCompared> {
    let all: BTreeSet<&(String, String)> =
        from.not_compared.iter().chain(&to.not_compared).collect();
    all.into_iter()
        .map(|entry @ (kind, identity)| NotCompared {
            kind: kind.clone(),
            identity: identity.clone(),
            side: match (
                from.not_compared.contains(entry),
                to.not_compared.contains(entry),
            ) {
                (true, true) => "both",
                (true, false) => "from",
                _ => "to",
            },
        })
        .collect()
}

/// Extension versions that differ: shown, not a difference.
pub fn extension_notes(from: &SchemaModel, to: &SchemaModel) -> Vec<String> {
    from.extensions
        .iter()
        .filter_map(|(name, before)| {
            let after = to.extensions.get(name)?;
            (before.version != after.version).then(|| {
                format!(
                    "extension `{name}` is version {} on the `from` side and {} on the `to` side (not compared)",
                    before.version, after.version
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::model::{Column, Constraint, Extension};

    fn name(table: &str) -> Name {
        Name::new("public", table)
    }

    fn column(name: &str, data_type: &str) -> Column {
        Column {
            name: name.into(),
            data_type: data_type.into(),
            ..Column::default()
        }
    }

    fn with_table(columns: Vec<Column>) -> SchemaModel {
        let mut model = SchemaModel::default();
        model.tables.insert(
            name("User"),
            Table {
                columns,
                ..Table::default()
            },
        );
        model
    }

    #[test]
    fn identical_models_have_no_difference() {
        let model = with_table(vec![column("id", "text")]);
        assert!(compare(&model, &model).is_empty());
    }

    #[test]
    fn column_type_change_is_one_changed_field() {
        let from = with_table(vec![column("age", "text")]);
        let to = with_table(vec![column("age", "integer")]);
        let differences = compare(&from, &to);
        assert_eq!(differences.len(), 1);
        assert_eq!(
            differences[0].change,
            Change::Changed {
                field: "type",
                before: "text".into(),
                after: "integer".into()
            }
        );
        assert_eq!(
            differences[0].to_string(),
            "changed column `age` of table `public.User` (type: text -> integer)"
        );
    }

    #[test]
    fn dropped_and_added_column_of_one_type_is_a_possible_rename() {
        let from = with_table(vec![column("id", "text"), column("name", "text")]);
        let to = with_table(vec![column("id", "text"), column("fullName", "text")]);
        let differences = compare(&from, &to);
        assert_eq!(differences.len(), 2);
        let renames = possible_renames(&differences, &from, &to);
        assert_eq!(renames.len(), 1);
        assert_eq!(
            (renames[0].removed.as_str(), renames[0].added.as_str()),
            ("name", "fullName")
        );
        let other_type = with_table(vec![column("id", "text"), column("fullName", "integer")]);
        assert!(possible_renames(&compare(&from, &other_type), &from, &other_type).is_empty());
    }

    #[test]
    fn long_values_are_shown_where_they_differ() {
        let before = format!(
            "CREATE INDEX i ON t USING hnsw (e vector_cosine_ops) {}WITH (m='16')",
            "x".repeat(60)
        );
        let after = before.replace("'16'", "'24'");
        let (shown_before, shown_after) = shown_pair(&before, &after);
        assert!(
            shown_before.contains("m='16'") && shown_after.contains("m='24'"),
            "{shown_before} / {shown_after}"
        );
        assert!(shown_before.starts_with("..."));
        assert_eq!(shown_pair("", "x"), ("none".to_string(), "x".to_string()));
    }

    #[test]
    fn extension_version_is_a_note_not_a_difference() {
        let extension = |version: &str| Extension {
            schema: "public".into(),
            version: version.into(),
        };
        let mut from = SchemaModel::default();
        from.extensions.insert("vector".into(), extension("0.8.0"));
        let mut to = SchemaModel::default();
        to.extensions.insert("vector".into(), extension("0.8.1"));
        assert!(compare(&from, &to).is_empty());
        assert_eq!(extension_notes(&from, &to).len(), 1);
    }

    #[test]
    fn constraint_definition_change_and_enum_labels() {
        let mut from = with_table(vec![column("id", "text")]);
        let mut to = from.clone();
        let constraint = |definition: &str| Constraint {
            kind: 'f',
            definition: definition.into(),
            validated: true,
        };
        from.tables
            .get_mut(&name("User"))
            .unwrap()
            .constraints
            .insert(
                "User_fkey".into(),
                constraint("FOREIGN KEY (a) REFERENCES b(id) ON DELETE CASCADE"),
            );
        to.tables
            .get_mut(&name("User"))
            .unwrap()
            .constraints
            .insert(
                "User_fkey".into(),
                constraint("FOREIGN KEY (a) REFERENCES b(id) ON DELETE RESTRICT"),
            );
        from.enums
            .insert(name("Role"), vec!["A".into(), "B".into()]);
        to.enums
            .insert(name("Role"), vec!["A".into(), "C".into(), "B".into()]);
        let text: Vec<String> = compare(&from, &to).iter().map(|d| d.to_string()).collect();
        assert_eq!(
            text,
            [
                "changed enum `public.Role` (labels: A, B -> A, C, B)",
                "changed constraint `User_fkey` of table `public.User` (definition: FOREIGN KEY (a) REFERENCES b(id) ON DELETE CASCADE -> FOREIGN KEY (a) REFERENCES b(id) ON DELETE RESTRICT)",
            ]
        );
    }

    #[test]
    fn not_compared_objects_say_which_side_has_them() {
        let mut from = SchemaModel::default();
        from.not_compared
            .insert(("policy".into(), "p on public.t".into()));
        let mut to = SchemaModel::default();
        to.not_compared
            .insert(("domain".into(), "public.email".into()));
        to.not_compared
            .insert(("policy".into(), "p on public.t".into()));
        let listed = not_compared(&from, &to);
        assert_eq!(listed.len(), 2);
        assert_eq!((listed[0].kind.as_str(), listed[0].side), ("domain", "to"));
        assert_eq!(
            (listed[1].kind.as_str(), listed[1].side),
            ("policy", "both")
        );
    }
}
