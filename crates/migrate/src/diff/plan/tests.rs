//! The planner on hand-made models.

use super::sql::is_type;
use super::*;
use crate::diff::compare::{compare, possible_renames};
use crate::diff::model::{Column, Table};
use crate::diff::model::{Constraint, View};

fn model_with(columns: &[(&str, &str)]) -> SchemaModel {
    let mut model = SchemaModel {
        search_path: "public".into(),
        ..SchemaModel::default()
    };
    model.tables.insert(
        Name::new("public", "User"),
        Table {
            columns: columns
                .iter()
                .map(|(name, data_type)| Column {
                    name: name.to_string(),
                    data_type: data_type.to_string(),
                    not_null: true,
                    ..Column::default()
                })
                .collect(),
            ..Table::default()
        },
    );
    model
}

fn script(from: &SchemaModel, to: &SchemaModel) -> String {
    let differences = compare(from, to);
    let renames = possible_renames(&differences, from, to);
    plan(from, to, &differences, &renames).script()
}

#[test]
fn type_change_uses_using_and_warns() {
    let from = model_with(&[("id", "text"), ("age", "text")]);
    let to = model_with(&[("id", "text"), ("age", "integer")]);
    let script = script(&from, &to);
    assert!(
        script.contains(
            "ALTER TABLE \"User\" ALTER COLUMN \"age\" SET DATA TYPE integer USING \"age\"::integer;"
        ),
        "{script}"
    );
    assert!(script.starts_with("/*\n  Warnings:"), "{script}");
    assert!(!script.contains("DROP COLUMN"), "{script}");
}

/// The planner reads no data: a dropped column's warning says what is lost, in Prisma's
/// words for a migration, and claims nothing about what the table holds.
#[test]
fn a_dropped_column_warns_without_claiming_the_table_holds_data() {
    let from = model_with(&[("id", "text"), ("bio", "text")]);
    let to = model_with(&[("id", "text")]);
    let script = script(&from, &to);
    assert!(
        script.contains(
            "  - You are about to drop the column `bio` on the `User` table. All the data in the column will be lost.\n"
        ),
        "{script}"
    );
}

#[test]
fn drop_and_add_of_one_type_warns_of_a_rename() {
    let from = model_with(&[("id", "text"), ("name", "text")]);
    let to = model_with(&[("id", "text"), ("fullName", "text")]);
    let script = script(&from, &to);
    assert!(script.contains("if this is a rename"), "{script}");
    assert!(script.contains("DROP COLUMN \"name\""), "{script}");
}

#[test]
fn foreign_keys_come_after_tables_and_views_after_both() {
    let from = SchemaModel {
        search_path: "public".into(),
        ..SchemaModel::default()
    };
    let mut to = model_with(&[("id", "text"), ("teamId", "text")]);
    let user = Name::new("public", "User");
    let table = to.tables.get_mut(&user).unwrap();
    table.constraints.insert(
        "User_teamId_fkey".into(),
        Constraint {
            kind: 'f',
            definition: "FOREIGN KEY (\"teamId\") REFERENCES \"Team\"(id)".into(),
            validated: true,
        },
    );
    to.tables.insert(
        Name::new("public", "Team"),
        Table {
            columns: vec![Column {
                name: "id".into(),
                data_type: "text".into(),
                ..Column::default()
            }],
            ..Table::default()
        },
    );
    to.views.insert(
        Name::new("public", "a_view"),
        View {
            materialized: false,
            definition: " SELECT id FROM \"User\"".into(),
            options: vec![],
            depends_on: [user.clone(), Name::new("public", "b_view")].into(),
            calls: BTreeSet::new(),
        },
    );
    to.views.insert(
        Name::new("public", "b_view"),
        View {
            materialized: false,
            definition: " SELECT id FROM \"Team\"".into(),
            options: vec![],
            depends_on: BTreeSet::new(),
            calls: BTreeSet::new(),
        },
    );
    let script = script(&from, &to);
    let position = |text: &str| {
        script
            .find(text)
            .unwrap_or_else(|| panic!("{text} in {script}"))
    };
    assert!(position("CREATE TABLE \"User\"") < position("ADD CONSTRAINT \"User_teamId_fkey\""));
    assert!(position("CREATE TABLE \"Team\"") < position("ADD CONSTRAINT \"User_teamId_fkey\""));
    assert!(position("CREATE VIEW \"b_view\"") < position("CREATE VIEW \"a_view\""));
    assert!(!script.contains("Warnings"), "{script}");
}

#[test]
fn enum_labels_added_in_place_or_recreated_when_removed() {
    let mut from = model_with(&[("id", "text")]);
    let mut to = from.clone();
    let role = Name::new("public", "Role");
    from.enums
        .insert(role.clone(), vec!["A".into(), "C".into()]);
    to.enums
        .insert(role.clone(), vec!["A".into(), "B".into(), "C".into()]);
    assert!(script(&from, &to).contains("ALTER TYPE \"Role\" ADD VALUE 'B' BEFORE 'C'"));
    to.enums.insert(role, vec!["A".into()]);
    let recreated = script(&from, &to);
    assert!(recreated.contains("RENAME TO \"Role_old\""), "{recreated}");
    assert!(
        recreated.contains("The values [C] on the enum `Role`"),
        "{recreated}"
    );
}

#[test]
fn type_names_match_as_format_type_renders_them() {
    let name = Name::new("public", "EntityType");
    assert!(is_type("\"EntityType\"", &name, "public"));
    assert!(!is_type("\"EntityType\"[]", &name, "public"));
    assert!(is_type("mood", &Name::new("public", "mood"), "public"));
    assert!(is_type("app.mood", &Name::new("app", "mood"), "public"));
}

#[test]
fn identity_options_become_set_clauses() {
    assert_eq!(
        super::sql::set_identity_options(
            "INCREMENT BY 1 MINVALUE 1 MAXVALUE 9 START WITH 5 CACHE 1 NO CYCLE"
        ),
        "SET INCREMENT BY 1 SET MINVALUE 1 SET MAXVALUE 9 SET START WITH 5 SET CACHE 1 SET NO CYCLE"
    );
    assert!(
        super::sql::set_identity_options(
            "INCREMENT BY 1 MINVALUE 1 MAXVALUE 9 START WITH 5 CACHE 1 CYCLE"
        )
        .ends_with("SET CACHE 1 SET CYCLE")
    );
}

#[test]
fn a_label_used_where_it_is_added_splits_the_plan_after_the_label() {
    let mut from = model_with(&[("id", "text"), ("role", "\"Role\"")]);
    let role = Name::new("public", "Role");
    from.enums
        .insert(role.clone(), vec!["A".into(), "C".into()]);
    let mut to = from.clone();
    to.enums
        .insert(role.clone(), vec!["A".into(), "B".into(), "C".into()]);
    // Only added: one transaction is enough.
    let differences = compare(&from, &to);
    let added_only = plan(&from, &to, &differences, &[]);
    assert_eq!(added_only.commit_after, None);
    assert_eq!(added_only.parts().len(), 1);

    // Added and used at once (a default): the use goes after a commit.
    let user = Name::new("public", "User");
    to.tables.get_mut(&user).unwrap().columns[1].default = Some("'B'::\"Role\"".into());
    let differences = compare(&from, &to);
    let used = plan(&from, &to, &differences, &[]);
    let parts = used.parts();
    assert_eq!(parts.len(), 2, "{}", used.script());
    assert!(
        parts[0]
            .plan
            .steps
            .iter()
            .any(|step| step.sql.contains("ADD VALUE 'B'")),
        "{}",
        used.script()
    );
    assert!(
        parts[1]
            .plan
            .steps
            .iter()
            .all(|step| !step.sql.contains("ADD VALUE")),
        "{}",
        used.script()
    );
    assert!(
        parts[1].plan.script().contains("SET DEFAULT 'B'::\"Role\""),
        "{}",
        used.script()
    );
    assert!(used.script().contains("run them in a new transaction"));
}

#[test]
fn asked_for_new_indexes_on_existing_tables_are_built_concurrently_each_alone_at_the_end() {
    let from = model_with(&[("id", "text"), ("email", "text")]);
    let mut to = from.clone();
    let user = Name::new("public", "User");
    to.indexes.insert(
        Name::new("public", "User_email_idx"),
        crate::diff::model::Index {
            table: user.clone(),
            definition: "CREATE INDEX \"User_email_idx\" ON \"User\" USING btree (email)".into(),
            valid: true,
            on_view: false,
        },
    );
    let differences = compare(&from, &to);
    let in_transaction = plan(&from, &to, &differences, &[]);
    assert!(in_transaction.concurrent.is_empty());
    assert_eq!(in_transaction.parts().len(), 1);

    let concurrent = plan_with(&from, &to, &differences, &[], true);
    assert!(concurrent.steps.is_empty(), "{}", concurrent.script());
    let parts = concurrent.parts();
    assert_eq!(parts.len(), 1);
    assert!(parts[0].plan.outside_transaction);
    assert_eq!(
        parts[0].plan.runnable_script().trim_end(),
        "-- CreateIndex\nCREATE INDEX CONCURRENTLY \"User_email_idx\" ON \"User\" USING btree (email);"
    );
    assert!(
        concurrent
            .script()
            .contains("cannot run in a transaction block")
    );
}
