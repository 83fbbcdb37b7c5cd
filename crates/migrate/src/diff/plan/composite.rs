//! Composite types: created with the domains, before the functions and tables that use them;
//! attributes altered in place (`ALTER TYPE ... DROP/ADD ATTRIBUTE`, `ALTER ATTRIBUTE ...
//! TYPE`) when the kept ones stay in order, otherwise dropped and created again. The server
//! refuses either while a table column uses the type (verification then shows why).

use super::super::compare::Object;
use super::super::model::{Attribute, Name};
use super::expand::Changes;
use super::{Phase, Planner};

pub(super) fn plan_composite_types(planner: &mut Planner, changes: &Changes) {
    let (from, to) = (planner.from, planner.to);
    for object in &changes.added {
        if let Object::CompositeType { name } = object {
            let sql = create_type(&planner.name(name), &to.composite_types[name]);
            planner.push(Phase::CreateDomain, "CreateType", sql);
        }
    }
    for object in &changes.removed {
        if let Object::CompositeType { name } = object {
            let sql = format!("DROP TYPE {}", planner.name(name));
            planner.push(Phase::DropCompositeType, "DropType", sql);
        }
    }
    for object in changes.changed.keys() {
        let Object::CompositeType { name } = object else {
            continue;
        };
        let qualified = planner.name(name);
        let (before, after) = (&from.composite_types[name], &to.composite_types[name]);
        match alter_type(&qualified, before, after) {
            Some(statements) => {
                for sql in statements {
                    planner.push(Phase::AlterDomain, "AlterType", sql);
                }
            }
            None => {
                let drop = format!("DROP TYPE {qualified}");
                planner.push(Phase::DropDomainEarly, "DropType", drop);
                let sql = create_type(&qualified, after);
                planner.push(Phase::CreateDomain, "CreateType", sql);
            }
        }
    }
}

/// Whether the plan drops `name` and creates it again (its comment goes with it).
pub(super) fn recreated(planner: &Planner, changes: &Changes, name: &Name) -> bool {
    let object = Object::CompositeType { name: name.clone() };
    if changes.removed.contains(&object) {
        return true;
    }
    changes.changed.contains_key(&object)
        && match (
            planner.from.composite_types.get(name),
            planner.to.composite_types.get(name),
        ) {
            (Some(before), Some(after)) => alter_type("", before, after).is_none(),
            _ => false,
        }
}

/// `CREATE TYPE name AS (...)`; `name` is already qualified.
pub(super) fn create_type(name: &str, attributes: &[Attribute]) -> String {
    let shown: Vec<String> = attributes.iter().map(ToString::to_string).collect();
    format!("CREATE TYPE {name} AS ({})", shown.join(", "))
}

/// The `ALTER TYPE` statements from `before` to `after`, or `None` when the attributes `after`
/// keeps are not in `before`'s order followed by the new ones (PostgreSQL adds attributes
/// only at the end).
pub(super) fn alter_type(
    name: &str,
    before: &[Attribute],
    after: &[Attribute],
) -> Option<Vec<String>> {
    let kept: Vec<&Attribute> = before
        .iter()
        .filter(|old| after.iter().any(|new| new.name == old.name))
        .collect();
    if after.len() < kept.len()
        || kept
            .iter()
            .zip(after)
            .any(|(old, new)| old.name != new.name)
    {
        return None;
    }
    let quote = crate::sql::quote_identifier;
    let mut statements = Vec::new();
    for old in before {
        if !kept.iter().any(|kept| kept.name == old.name) {
            statements.push(format!(
                "ALTER TYPE {name} DROP ATTRIBUTE {}",
                quote(&old.name)
            ));
        }
    }
    for (old, new) in kept.iter().zip(after) {
        if old.data_type != new.data_type || old.collation != new.collation {
            let collation = new
                .collation
                .as_ref()
                .map(|collation| format!(" COLLATE {collation}"))
                .unwrap_or_default();
            statements.push(format!(
                "ALTER TYPE {name} ALTER ATTRIBUTE {} TYPE {}{collation}",
                quote(&new.name),
                new.data_type
            ));
        }
    }
    for new in &after[kept.len()..] {
        statements.push(format!("ALTER TYPE {name} ADD ATTRIBUTE {new}"));
    }
    Some(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(list: &[(&str, &str)]) -> Vec<Attribute> {
        list.iter()
            .map(|(name, data_type)| Attribute {
                name: name.to_string(),
                data_type: data_type.to_string(),
                collation: None,
            })
            .collect()
    }

    #[test]
    fn kept_attributes_in_order_are_altered_in_place() {
        let before = attributes(&[("a", "integer"), ("gone", "text"), ("b", "text")]);
        let after = attributes(&[("a", "bigint"), ("b", "text"), ("c", "date")]);
        assert_eq!(
            alter_type("t", &before, &after).unwrap(),
            [
                r#"ALTER TYPE t DROP ATTRIBUTE "gone""#,
                r#"ALTER TYPE t ALTER ATTRIBUTE "a" TYPE bigint"#,
                r#"ALTER TYPE t ADD ATTRIBUTE "c" date"#,
            ]
        );
    }

    #[test]
    fn reordered_attributes_recreate_the_type() {
        let before = attributes(&[("a", "integer"), ("b", "text")]);
        let after = attributes(&[("b", "text"), ("a", "integer")]);
        assert_eq!(alter_type("t", &before, &after), None);
        assert_eq!(
            create_type("t", &after),
            r#"CREATE TYPE t AS ("b" text, "a" integer)"#
        );
    }
}
