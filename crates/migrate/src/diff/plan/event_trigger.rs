//! Event triggers: created after the functions they run, dropped before; recreated when
//! their event, tags or function change, or when the plan replaces their function; enabled
//! state altered in place.

use super::super::compare::Object;
use super::super::model::EventTrigger;
use super::expand::{Changes, Expansion};
use super::sql::literal;
use super::{Phase, Planner};
use crate::sql::quote_identifier as quote;

pub(super) fn plan_event_triggers(planner: &mut Planner, changes: &Changes, x: &Expansion) {
    let (from, to) = (planner.from, planner.to);
    let replaced = |trigger: &EventTrigger| {
        trigger.function_name.as_ref().is_some_and(|function| {
            x.replaced_functions.contains(function) || x.removed_functions.contains(function)
        })
    };
    for (name, before) in &from.event_triggers {
        let object = Object::EventTrigger { name: name.clone() };
        let redefined = changes
            .changed
            .get(&object)
            .is_some_and(|fields| fields.contains("definition"));
        let kept = to.event_triggers.contains_key(name);
        if !kept || redefined || replaced(before) {
            let sql = format!("DROP EVENT TRIGGER {}", quote(name));
            planner.push(Phase::DropTrigger, "DropEventTrigger", sql);
        }
    }
    for (name, after) in &to.event_triggers {
        let object = Object::EventTrigger { name: name.clone() };
        let fields = changes.changed.get(&object);
        let redefined = fields.is_some_and(|fields| fields.contains("definition"));
        let recreated = from
            .event_triggers
            .get(name)
            .is_some_and(|before| redefined || replaced(before));
        if recreated || changes.added.contains(&object) {
            for sql in create_event_trigger(name, after) {
                planner.push(Phase::CreateTrigger, "CreateEventTrigger", sql);
            }
        } else if fields.is_some_and(|fields| fields.contains("enabled")) {
            let sql = format!(
                "ALTER EVENT TRIGGER {} {}",
                quote(name),
                enable(&after.enabled)
            );
            planner.push(Phase::CreateTrigger, "AlterEventTrigger", sql);
        }
    }
}

/// `CREATE EVENT TRIGGER`, and `ALTER EVENT TRIGGER` when it is not simply enabled.
pub(super) fn create_event_trigger(name: &str, trigger: &EventTrigger) -> Vec<String> {
    let mut sql = format!("CREATE EVENT TRIGGER {} ON {}", quote(name), trigger.event);
    if !trigger.tags.is_empty() {
        let tags: Vec<String> = trigger.tags.iter().map(|tag| literal(tag)).collect();
        sql += &format!(" WHEN TAG IN ({})", tags.join(", "));
    }
    sql += &format!(" EXECUTE FUNCTION {}", trigger.function);
    let mut statements = vec![sql];
    if trigger.enabled != "O" {
        statements.push(format!(
            "ALTER EVENT TRIGGER {} {}",
            quote(name),
            enable(&trigger.enabled)
        ));
    }
    statements
}

fn enable(state: &str) -> &'static str {
    match state {
        "D" => "DISABLE",
        "R" => "ENABLE REPLICA",
        "A" => "ENABLE ALWAYS",
        _ => "ENABLE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_listed_and_a_disabled_trigger_is_disabled_after() {
        let trigger = EventTrigger {
            event: "ddl_command_end".to_string(),
            function: "audit_ddl()".to_string(),
            tags: vec!["CREATE TABLE".to_string(), "DROP TABLE".to_string()],
            enabled: "D".to_string(),
            ..EventTrigger::default()
        };
        assert_eq!(
            create_event_trigger("audit", &trigger),
            [
                r#"CREATE EVENT TRIGGER "audit" ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'DROP TABLE') EXECUTE FUNCTION audit_ddl()"#,
                r#"ALTER EVENT TRIGGER "audit" DISABLE"#,
            ]
        );
    }
}
