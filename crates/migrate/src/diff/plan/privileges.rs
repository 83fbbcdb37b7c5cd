//! Privileges: `GRANT` and `REVOKE` after everything exists, and every grant of an object
//! that the plan drops and creates again (a view over a changed column, a function whose
//! result changes), which comes back with the default privileges only.

use std::collections::BTreeSet;

use super::super::compare::Object;
use super::super::model::{FunctionName, GrantTarget, Name};
use super::expand::{Changes, Expansion, recreated_column};
use super::{Phase, Planner};
use crate::sql::quote_identifier as quote;

pub(super) fn plan_privileges(planner: &mut Planner, changes: &Changes, x: &Expansion) {
    let (from, to) = (planner.from, planner.to);
    let empty = BTreeSet::new();
    let mut revokes = Vec::new();
    let mut grants = Vec::new();
    for (target, after) in &to.privileges {
        // An object created (again) by the plan starts from the default privileges.
        let before = if recreated(planner, target, changes, x) {
            &empty
        } else {
            from.privileges.get(target).unwrap_or(&empty)
        };
        for entry in before.difference(after) {
            // `+` gone: revoke it; `-` gone: the default comes back.
            revokes.push((target, entry.clone(), entry.starts_with('+')));
        }
        for entry in after.difference(before) {
            grants.push((target, entry.clone(), entry.starts_with('+')));
        }
    }
    for (target, before) in &from.privileges {
        if to.privileges.contains_key(target) || !exists_in(target, to) {
            continue;
        }
        for entry in before {
            revokes.push((target, entry.clone(), entry.starts_with('+')));
        }
    }
    // Revokes first; a `-` entry turns one into the other (`-PUBLIC EXECUTE` gone is a grant).
    let statements = revokes
        .into_iter()
        .map(|(target, entry, granted)| statement(planner, target, &entry, !granted))
        .chain(
            grants
                .into_iter()
                .map(|(target, entry, granted)| statement(planner, target, &entry, granted)),
        )
        .collect::<Vec<_>>();
    for sql in statements {
        let section = if sql.starts_with("REVOKE ") || sql.contains(" REVOKE ") {
            "Revoke"
        } else {
            "Grant"
        };
        planner.push(Phase::Grant, section, sql);
    }
}

/// The object is created by the plan: added, or dropped and created again.
fn recreated(planner: &Planner, target: &GrantTarget, changes: &Changes, x: &Expansion) -> bool {
    let name = Name::new(&target.schema, &target.name);
    match target.kind.as_str() {
        "TABLE" => changes.table_added(&name) || x.created_views.contains(&name),
        "COLUMN" => {
            changes.table_added(&name)
                || x.created_views.contains(&name)
                || changes.added.contains(&Object::Column {
                    table: name.clone(),
                    column: target.arguments.clone(),
                })
                || recreated_column(changes, &name, &target.arguments)
        }
        "TYPE" => {
            x.recreated_enums.contains(&name)
                || changes.added.contains(&Object::Enum { name: name.clone() })
                || changes
                    .added
                    .contains(&Object::CompositeType { name: name.clone() })
                || super::composite::recreated(planner, changes, &name)
        }
        "DOMAIN" => {
            changes
                .added
                .contains(&Object::Domain { name: name.clone() })
                || super::domain::recreated(changes, &name)
        }
        "FUNCTION" | "PROCEDURE" => x.replaced_functions.contains(&FunctionName {
            name,
            arguments: target.arguments.clone(),
        }),
        _ => false,
    }
}

/// The object is there on the `to` side (a removed one goes with its privileges).
fn exists_in(target: &GrantTarget, model: &super::super::model::SchemaModel) -> bool {
    let name = Name::new(&target.schema, &target.name);
    match target.kind.as_str() {
        "TABLE" => model.tables.contains_key(&name) || model.views.contains_key(&name),
        "SEQUENCE" => model.sequences.contains_key(&name),
        "COLUMN" => {
            model.views.contains_key(&name)
                || model
                    .tables
                    .get(&name)
                    .is_some_and(|table| table.column(&target.arguments).is_some())
        }
        "TYPE" => model.enums.contains_key(&name) || model.composite_types.contains_key(&name),
        "DOMAIN" => model.domains.contains_key(&name),
        "FUNCTION" | "PROCEDURE" => model.functions.contains_key(&FunctionName {
            name,
            arguments: target.arguments.clone(),
        }),
        kind if kind.starts_with("DEFAULT ") => {
            target.schema.is_empty() || model.schemas.contains(&target.schema)
        }
        _ => model.schemas.contains(&target.schema),
    }
}

/// `GRANT`, or `REVOKE` when `grant` is false, of one entry (`+bob SELECT WITH GRANT
/// OPTION`, `-PUBLIC EXECUTE`: the sign is read by the caller).
fn statement(planner: &Planner, target: &GrantTarget, entry: &str, grant: bool) -> String {
    let (grantee, privilege, grant_option) = parse_entry(entry);
    if let Some(objects) = target.kind.strip_prefix("DEFAULT ") {
        return default_statement(target, objects, (grantee, privilege, grant_option), grant);
    }
    if target.kind == "COLUMN" {
        // `GRANT SELECT (col) ON TABLE t`: the column list goes with the privilege.
        let table = planner.name(&Name::new(&target.schema, &target.name));
        let privilege = format!("{privilege} ({})", quote(&target.arguments));
        return if grant {
            let option = if grant_option {
                " WITH GRANT OPTION"
            } else {
                ""
            };
            format!("GRANT {privilege} ON TABLE {table} TO {grantee}{option}")
        } else {
            format!("REVOKE {privilege} ON TABLE {table} FROM {grantee}")
        };
    }
    let on = match target.kind.as_str() {
        "SCHEMA" => format!("SCHEMA {}", quote(&target.schema)),
        "FUNCTION" | "PROCEDURE" => format!(
            "{} {}({})",
            target.kind,
            planner.name(&Name::new(&target.schema, &target.name)),
            target.arguments
        ),
        kind => format!(
            "{kind} {}",
            planner.name(&Name::new(&target.schema, &target.name))
        ),
    };
    if grant {
        let option = if grant_option {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        format!("GRANT {privilege} ON {on} TO {grantee}{option}")
    } else {
        format!("REVOKE {privilege} ON {on} FROM {grantee}")
    }
}

/// `ALTER DEFAULT PRIVILEGES FOR ROLE r [IN SCHEMA s] GRANT|REVOKE ...` of one entry.
fn default_statement(
    target: &GrantTarget,
    objects: &str,
    (grantee, privilege, grant_option): (&str, &str, bool),
    grant: bool,
) -> String {
    let mut sql = format!("ALTER DEFAULT PRIVILEGES FOR ROLE {}", target.name);
    if !target.schema.is_empty() {
        sql += &format!(" IN SCHEMA {}", quote(&target.schema));
    }
    if grant {
        let option = if grant_option {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        sql + &format!(" GRANT {privilege} ON {objects} TO {grantee}{option}")
    } else {
        sql + &format!(" REVOKE {privilege} ON {objects} FROM {grantee}")
    }
}

/// (grantee, privilege, with grant option) of `+"my role" SELECT WITH GRANT OPTION`.
pub(super) fn parse_entry(entry: &str) -> (&str, &str, bool) {
    let body = &entry[1..];
    let end = if body.starts_with('"') {
        let mut index = 1;
        let bytes = body.as_bytes();
        while index < bytes.len() {
            if bytes[index] == b'"' {
                if bytes.get(index + 1) == Some(&b'"') {
                    index += 2;
                    continue;
                }
                break;
            }
            index += 1;
        }
        index + 1
    } else {
        body.find(' ').unwrap_or(body.len())
    };
    let grantee = &body[..end.min(body.len())];
    let rest = body[end.min(body.len())..].trim();
    match rest.strip_suffix(" WITH GRANT OPTION") {
        Some(privilege) => (grantee, privilege, true),
        None => (grantee, rest, false),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_entry;

    #[test]
    fn entries_parse_with_quoted_grantees_and_grant_options() {
        assert_eq!(parse_entry("+bob SELECT"), ("bob", "SELECT", false));
        assert_eq!(
            parse_entry("+\"my \"\"x\"\" role\" UPDATE WITH GRANT OPTION"),
            ("\"my \"\"x\"\" role\"", "UPDATE", true)
        );
        assert_eq!(parse_entry("-PUBLIC EXECUTE"), ("PUBLIC", "EXECUTE", false));
    }
}
