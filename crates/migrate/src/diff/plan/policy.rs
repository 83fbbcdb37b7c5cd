//! Row-level security and its policies: `ENABLE`/`FORCE ROW LEVEL SECURITY` with the table's
//! other alterations, policies dropped before anything they use changes and created after
//! everything they read (tables, views, functions) exists.

use super::expand::{Changes, Expansion};
use super::{Phase, Planner};
use crate::sql::quote_identifier as quote;

pub(super) fn plan_policies(planner: &mut Planner, changes: &Changes, x: &Expansion) {
    let (from, to) = (planner.from, planner.to);
    for (name, table) in &to.tables {
        let before = from.tables.get(name).filter(|_| !changes.table_added(name));
        let (was_enabled, was_forced) =
            before.map_or((false, false), |t| (t.row_security, t.force_row_security));
        let mut clauses = Vec::new();
        if table.row_security != was_enabled {
            clauses.push(if table.row_security {
                "ENABLE ROW LEVEL SECURITY"
            } else {
                "DISABLE ROW LEVEL SECURITY"
            });
        }
        if table.force_row_security != was_forced {
            clauses.push(if table.force_row_security {
                "FORCE ROW LEVEL SECURITY"
            } else {
                "NO FORCE ROW LEVEL SECURITY"
            });
        }
        if !clauses.is_empty() {
            let sql = format!("ALTER TABLE {} {}", planner.name(name), clauses.join(", "));
            planner.push(Phase::AlterTable, "AlterTable", sql);
        }
    }
    for (table, policy) in &x.dropped_policies {
        let sql = format!("DROP POLICY {} ON {}", quote(policy), planner.name(table));
        planner.push(Phase::DropPolicy, "DropPolicy", sql);
    }
    for key @ (table, policy) in &x.created_policies {
        let sql = format!(
            "CREATE POLICY {} ON {} {}",
            quote(policy),
            planner.name(table),
            to.policies[key].clauses()
        );
        planner.push(Phase::CreatePolicy, "CreatePolicy", sql);
    }
}
