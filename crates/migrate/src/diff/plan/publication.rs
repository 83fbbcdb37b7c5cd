//! Publications: created after the tables they publish, altered in place (`ALTER PUBLICATION
//! ... ADD/DROP TABLE`, `TABLES IN SCHEMA`, `SET (publish = ...)`), so subscribers keep their
//! publication; only a change to or from `FOR ALL TABLES` drops and creates it again. Members
//! that go are dropped first, before the columns of their column lists can go.

use super::super::compare::Object;
use super::super::model::{Name, Publication, PublishedTable};
use super::expand::Changes;
use super::{Phase, Planner};
use crate::sql::quote_identifier as quote;

pub(super) fn plan_publications(planner: &mut Planner, changes: &Changes) {
    let (from, to) = (planner.from, planner.to);
    for object in &changes.removed {
        if let Object::Publication { name } = object {
            let sql = format!("DROP PUBLICATION {}", quote(name));
            planner.push(Phase::DropPolicy, "DropPublication", sql);
        }
    }
    for object in &changes.added {
        if let Object::Publication { name } = object {
            let sql = create_publication(planner, name, &to.publications[name]);
            planner.push(Phase::CreatePublication, "CreatePublication", sql);
        }
    }
    for object in changes.changed.keys() {
        let Object::Publication { name } = object else {
            continue;
        };
        let (before, after) = (&from.publications[name], &to.publications[name]);
        let publication = quote(name);
        if before.all_tables != after.all_tables {
            let drop = format!("DROP PUBLICATION {publication}");
            planner.push(Phase::DropPolicy, "DropPublication", drop);
            let sql = create_publication(planner, name, after);
            planner.push(Phase::CreatePublication, "CreatePublication", sql);
            continue;
        }
        for (table, member) in &before.tables {
            let kept = after.tables.get(table) == Some(member);
            // A table the plan drops leaves its publications with it.
            if !kept && !changes.table_removed(table) {
                let sql = format!(
                    "ALTER PUBLICATION {publication} DROP TABLE {}",
                    planner.name(table)
                );
                planner.push(Phase::DropPolicy, "AlterPublication", sql);
            }
        }
        for schema in before.schemas.difference(&after.schemas) {
            let sql = format!(
                "ALTER PUBLICATION {publication} DROP TABLES IN SCHEMA {}",
                quote(schema)
            );
            planner.push(Phase::DropPolicy, "AlterPublication", sql);
        }
        let mut added: Vec<String> = after
            .tables
            .iter()
            .filter(|(table, member)| before.tables.get(*table) != Some(*member))
            .map(|(table, member)| published_table(planner, table, member))
            .collect();
        added.extend(
            after
                .schemas
                .difference(&before.schemas)
                .map(|schema| format!("TABLES IN SCHEMA {}", quote(schema))),
        );
        if !added.is_empty() {
            let sql = format!("ALTER PUBLICATION {publication} ADD {}", added.join(", "));
            planner.push(Phase::CreatePublication, "AlterPublication", sql);
        }
        if before.publish != after.publish || before.via_root != after.via_root {
            let sql = format!("ALTER PUBLICATION {publication} SET ({})", options(after));
            planner.push(Phase::CreatePublication, "AlterPublication", sql);
        }
    }
}

fn create_publication(planner: &Planner, name: &str, publication: &Publication) -> String {
    let mut members: Vec<String> = publication
        .tables
        .iter()
        .map(|(table, member)| published_table(planner, table, member))
        .collect();
    members.extend(
        publication
            .schemas
            .iter()
            .map(|schema| format!("TABLES IN SCHEMA {}", quote(schema))),
    );
    let scope = if publication.all_tables {
        " FOR ALL TABLES".to_string()
    } else if members.is_empty() {
        String::new()
    } else {
        format!(" FOR {}", members.join(", "))
    };
    format!(
        "CREATE PUBLICATION {}{scope} WITH ({})",
        quote(name),
        options(publication)
    )
}

/// `TABLE t (a, b) WHERE (...)`, as `FOR` and `ADD` take a member.
fn published_table(planner: &Planner, table: &Name, member: &PublishedTable) -> String {
    let mut sql = format!("TABLE {}", planner.name(table));
    if let Some(columns) = &member.columns {
        sql += &format!(" ({columns})");
    }
    if let Some(filter) = &member.filter {
        sql += &format!(" WHERE ({filter})");
    }
    sql
}

fn options(publication: &Publication) -> String {
    format!(
        "publish = '{}', publish_via_partition_root = {}",
        publication.publish.join(", "),
        publication.via_root
    )
}
