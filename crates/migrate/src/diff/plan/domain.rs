//! Domains: created before the sequences, functions and tables that use them, altered in
//! place (`ALTER DOMAIN`: default, NOT NULL, constraints), dropped after what used them. A
//! new base type has no `ALTER DOMAIN`: the domain is dropped and created again, which the
//! server refuses while columns use it (verification then shows its DETAIL).

use super::super::compare::Object;
use super::super::model::{Domain, Name};
use super::expand::Changes;
use super::{Phase, Planner};

pub(super) fn plan_domains(planner: &mut Planner, changes: &Changes) {
    let (from, to) = (planner.from, planner.to);
    for object in &changes.added {
        if let Object::Domain { name } = object {
            let sql = create_domain(&planner.name(name), &to.domains[name]);
            planner.push(Phase::CreateDomain, "CreateDomain", sql);
        }
    }
    for object in &changes.removed {
        if let Object::Domain { name } = object {
            let sql = format!("DROP DOMAIN {}", planner.name(name));
            planner.push(Phase::DropDomain, "DropDomain", sql);
        }
    }
    for (object, fields) in &changes.changed {
        let Object::Domain { name } = object else {
            continue;
        };
        let (before, after) = (&from.domains[name], &to.domains[name]);
        let qualified = planner.name(name);
        if fields.contains("base type") {
            let drop = format!("DROP DOMAIN {qualified}");
            planner.push(Phase::DropDomainEarly, "DropDomain", drop);
            let sql = create_domain(&qualified, after);
            planner.push(Phase::CreateDomain, "CreateDomain", sql);
            continue;
        }
        for sql in alter_domain(&qualified, before, after) {
            planner.push(Phase::AlterDomain, "AlterDomain", sql);
        }
    }
}

/// Whether the plan drops `name` and creates it again (its comment goes with it).
pub(super) fn recreated(changes: &Changes, name: &Name) -> bool {
    let object = Object::Domain { name: name.clone() };
    changes.removed.contains(&object)
        || changes
            .changed
            .get(&object)
            .is_some_and(|fields| fields.contains("base type"))
}

/// `CREATE DOMAIN` with everything the domain has; `name` is already qualified.
pub(super) fn create_domain(name: &str, domain: &Domain) -> String {
    let mut sql = format!("CREATE DOMAIN {name} AS {}", domain.base_type);
    if let Some(collation) = &domain.collation {
        sql += &format!(" COLLATE {collation}");
    }
    if let Some(default) = &domain.default {
        sql += &format!(" DEFAULT {default}");
    }
    if domain.not_null {
        sql += " NOT NULL";
    }
    for (constraint, definition) in &domain.constraints {
        // `NOT VALID` is no clause of CREATE DOMAIN: such a constraint is added after.
        if !definition.ends_with(" NOT VALID") {
            sql += &format!(" CONSTRAINT {} {definition}", quote(constraint));
        }
    }
    for (constraint, definition) in &domain.constraints {
        if definition.ends_with(" NOT VALID") {
            sql += &format!(
                ";\nALTER DOMAIN {name} ADD CONSTRAINT {} {definition}",
                quote(constraint)
            );
        }
    }
    sql
}

/// The `ALTER DOMAIN` statements from `before` to `after` (same base type): constraints that
/// go or change are dropped first, then the default, NOT NULL and the new constraints. A new
/// constraint or NOT NULL checks the values already stored, as the server does.
pub(super) fn alter_domain(name: &str, before: &Domain, after: &Domain) -> Vec<String> {
    let mut statements = Vec::new();
    for (constraint, definition) in &before.constraints {
        if after.constraints.get(constraint) != Some(definition) {
            statements.push(format!(
                "ALTER DOMAIN {name} DROP CONSTRAINT {}",
                quote(constraint)
            ));
        }
    }
    if before.default != after.default {
        statements.push(match &after.default {
            Some(default) => format!("ALTER DOMAIN {name} SET DEFAULT {default}"),
            None => format!("ALTER DOMAIN {name} DROP DEFAULT"),
        });
    }
    if before.not_null != after.not_null {
        let verb = if after.not_null { "SET" } else { "DROP" };
        statements.push(format!("ALTER DOMAIN {name} {verb} NOT NULL"));
    }
    for (constraint, definition) in &after.constraints {
        if before.constraints.get(constraint) != Some(definition) {
            statements.push(format!(
                "ALTER DOMAIN {name} ADD CONSTRAINT {} {definition}",
                quote(constraint)
            ));
        }
    }
    statements
}

fn quote(identifier: &str) -> String {
    crate::sql::quote_identifier(identifier)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(constraints: &[(&str, &str)]) -> Domain {
        Domain {
            base_type: "text".to_string(),
            constraints: constraints
                .iter()
                .map(|(name, definition)| (name.to_string(), definition.to_string()))
                .collect(),
            ..Domain::default()
        }
    }

    #[test]
    fn a_new_domain_has_its_clauses_and_adds_not_valid_checks_after() {
        let mut email = domain(&[
            ("email_check", "CHECK ((VALUE ~ '@'::text))"),
            ("short", "CHECK ((length(VALUE) < 200)) NOT VALID"),
        ]);
        email.default = Some("'a@b'::text".to_string());
        email.not_null = true;
        email.collation = Some("\"pg_catalog\".\"C\"".to_string());
        assert_eq!(
            create_domain("email", &email),
            "CREATE DOMAIN email AS text COLLATE \"pg_catalog\".\"C\" DEFAULT 'a@b'::text \
             NOT NULL CONSTRAINT \"email_check\" CHECK ((VALUE ~ '@'::text));\n\
             ALTER DOMAIN email ADD CONSTRAINT \"short\" CHECK ((length(VALUE) < 200)) NOT VALID"
        );
    }

    #[test]
    fn a_changed_check_is_dropped_before_it_is_added_again() {
        let before = domain(&[
            ("c", "CHECK ((VALUE <> ''::text))"),
            ("gone", "CHECK (true)"),
        ]);
        let mut after = domain(&[("c", "CHECK ((length(VALUE) > 1))")]);
        after.not_null = true;
        assert_eq!(
            alter_domain("d", &before, &after),
            [
                r#"ALTER DOMAIN d DROP CONSTRAINT "c""#,
                r#"ALTER DOMAIN d DROP CONSTRAINT "gone""#,
                "ALTER DOMAIN d SET NOT NULL",
                r#"ALTER DOMAIN d ADD CONSTRAINT "c" CHECK ((length(VALUE) > 1))"#,
            ]
        );
        assert!(alter_domain("d", &after, &after).is_empty());
    }
}
