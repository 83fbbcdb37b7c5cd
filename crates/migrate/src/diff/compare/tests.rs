//! The comparison on hand-made models.

use super::difference::shown_pair;
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
fn not_compared_objects_say_which_side_has_them_and_whether_they_differ() {
    use crate::diff::model::Unmodelled;
    let object = |definition: &str| Unmodelled {
        schema: "public".into(),
        definition: definition.into(),
    };
    let mut from = SchemaModel::default();
    from.not_compared.insert(
        ("policy".into(), "p on public.t".into()),
        object("USING (true)"),
    );
    from.not_compared.insert(
        ("rule".into(), "r on public.t".into()),
        object("DO NOTHING"),
    );
    let mut to = SchemaModel::default();
    to.not_compared
        .insert(("domain".into(), "public.email".into()), object("text"));
    to.not_compared.insert(
        ("policy".into(), "p on public.t".into()),
        object("USING (true)"),
    );
    to.not_compared.insert(
        ("rule".into(), "r on public.t".into()),
        object("DO INSTEAD NOTHING"),
    );
    let listed = not_compared(&from, &to);
    let shown: Vec<(&str, &str, bool)> = listed
        .iter()
        .map(|object| (object.kind.as_str(), object.side, object.cannot_tell()))
        .collect();
    assert_eq!(
        shown,
        [
            ("domain", "to", true),
            ("policy", "both", false),
            ("rule", "changed", true)
        ]
    );
    assert_eq!(listed[2].before.as_deref(), Some("DO NOTHING"));
    assert_eq!(listed[2].definition, "DO INSTEAD NOTHING");
}
