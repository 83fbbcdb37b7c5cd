//! Extended statistics objects: dropped with the indexes (before the columns they cover go),
//! created with them (after the tables and columns they cover), and recreated when their
//! definition changes; a target alone is `ALTER STATISTICS ... SET STATISTICS`.

use super::super::compare::Object;
use super::expand::Changes;
use super::{Phase, Planner};

pub(super) fn plan_statistics(planner: &mut Planner, changes: &Changes) {
    let to = planner.to;
    for object in &changes.removed {
        if let Object::Statistics { name } = object {
            // IF EXISTS: dropping the last column it covers has dropped it already.
            let sql = format!("DROP STATISTICS IF EXISTS {}", planner.name(name));
            planner.push(Phase::DropIndex, "DropStatistics", sql);
        }
    }
    for (name, statistics) in &to.statistics {
        let object = Object::Statistics { name: name.clone() };
        let fields = changes.changed.get(&object);
        let recreate = fields.is_some_and(|fields| fields.contains("definition"));
        if recreate {
            let sql = format!("DROP STATISTICS {}", planner.name(name));
            planner.push(Phase::DropIndex, "DropStatistics", sql);
        }
        if recreate || changes.added.contains(&object) {
            planner.push(
                Phase::CreateIndex,
                "CreateStatistics",
                statistics.definition.clone(),
            );
        }
        let target_changed = fields.is_some_and(|fields| fields.contains("target"));
        let new_with_target =
            (recreate || changes.added.contains(&object)) && statistics.target.is_some();
        if target_changed || new_with_target {
            let target = statistics
                .target
                .map_or("DEFAULT".to_string(), |n| n.to_string());
            let sql = format!(
                "ALTER STATISTICS {} SET STATISTICS {target}",
                planner.name(name)
            );
            planner.push(Phase::CreateIndex, "AlterStatistics", sql);
        }
    }
}
