//! Range types: created with the composite types, before what uses them; their multirange
//! type and constructor functions come with them and are never emitted. A range type cannot
//! be altered: a changed one is dropped and created again, which the server refuses while a
//! column uses it.

use super::super::compare::Object;
use super::super::model::Range;
use super::expand::Changes;
use super::{Phase, Planner};

pub(super) fn plan_ranges(planner: &mut Planner, changes: &Changes) {
    let to = planner.to;
    for object in &changes.removed {
        if let Object::Range { name } = object {
            let sql = format!("DROP TYPE {}", planner.name(name));
            planner.push(Phase::DropCompositeType, "DropType", sql);
        }
    }
    for (name, range) in &to.ranges {
        let object = Object::Range { name: name.clone() };
        let changed = changes.changed.contains_key(&object);
        if changed {
            let sql = format!("DROP TYPE {}", planner.name(name));
            planner.push(Phase::DropDomainEarly, "DropType", sql);
        }
        if changed || changes.added.contains(&object) {
            let sql = create_range(&planner.name(name), range);
            planner.push(Phase::CreateDomain, "CreateType", sql);
        }
    }
}

/// `CREATE TYPE name AS RANGE (...)`; `name` is already qualified.
pub(super) fn create_range(name: &str, range: &Range) -> String {
    let mut options = vec![format!("SUBTYPE = {}", range.subtype)];
    let optional = [
        ("SUBTYPE_OPCLASS", &range.subtype_opclass),
        ("COLLATION", &range.collation),
        ("CANONICAL", &range.canonical),
        ("SUBTYPE_DIFF", &range.subtype_diff),
    ];
    for (option, value) in optional {
        if let Some(value) = value {
            options.push(format!("{option} = {value}"));
        }
    }
    options.push(format!("MULTIRANGE_TYPE_NAME = {}", range.multirange));
    format!("CREATE TYPE {name} AS RANGE ({})", options.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_names_its_multirange_and_only_non_default_options() {
        let range = Range {
            subtype: "double precision".to_string(),
            subtype_diff: Some("float8mi".to_string()),
            multirange: "floatmultirange".to_string(),
            ..Range::default()
        };
        assert_eq!(
            create_range("floatrange", &range),
            "CREATE TYPE floatrange AS RANGE (SUBTYPE = double precision, \
             SUBTYPE_DIFF = float8mi, MULTIRANGE_TYPE_NAME = floatmultirange)"
        );
    }
}
