//! Collations: created before the types and tables that use them, dropped after. A collation
//! cannot be altered: a changed one is dropped and created again, which the server refuses
//! while a column, domain or index uses it (verification then shows why).

use super::super::compare::Object;
use super::super::model::Collation;
use super::expand::Changes;
use super::sql::literal;
use super::{Phase, Planner};

pub(super) fn plan_collations(planner: &mut Planner, changes: &Changes) {
    let to = planner.to;
    for object in &changes.removed {
        if let Object::Collation { name } = object {
            let sql = format!("DROP COLLATION {}", planner.name(name));
            planner.push(Phase::DropCollation, "DropCollation", sql);
        }
    }
    for (name, collation) in &to.collations {
        let object = Object::Collation { name: name.clone() };
        let changed = changes.changed.contains_key(&object);
        if changed {
            let sql = format!("DROP COLLATION {}", planner.name(name));
            planner.push(Phase::DropDomainEarly, "DropCollation", sql);
        }
        if changed || changes.added.contains(&object) {
            let sql = create_collation(&planner.name(name), collation);
            planner.push(Phase::CreateCollation, "CreateCollation", sql);
        }
    }
}

/// `CREATE COLLATION name (...)`; `name` is already qualified.
pub(super) fn create_collation(name: &str, collation: &Collation) -> String {
    let mut options = vec![format!("provider = {}", collation.provider)];
    if let Some(locale) = &collation.locale {
        options.push(format!("locale = {}", literal(locale)));
    }
    if let Some(lc_collate) = &collation.lc_collate {
        options.push(format!("lc_collate = {}", literal(lc_collate)));
    }
    if let Some(lc_ctype) = &collation.lc_ctype {
        options.push(format!("lc_ctype = {}", literal(lc_ctype)));
    }
    if let Some(rules) = &collation.rules {
        options.push(format!("rules = {}", literal(rules)));
    }
    if !collation.deterministic {
        options.push("deterministic = false".to_string());
    }
    format!("CREATE COLLATION {name} ({})", options.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icu_and_libc_collations_take_their_own_options() {
        let icu = Collation {
            provider: "icu".to_string(),
            locale: Some("und-u-ks-level2".to_string()),
            deterministic: false,
            ..Collation::default()
        };
        assert_eq!(
            create_collation("nocase", &icu),
            "CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
        );
        let libc = Collation {
            provider: "libc".to_string(),
            lc_collate: Some("C".to_string()),
            lc_ctype: Some("C".to_string()),
            deterministic: true,
            ..Collation::default()
        };
        assert_eq!(
            create_collation("c", &libc),
            "CREATE COLLATION c (provider = libc, lc_collate = 'C', lc_ctype = 'C')"
        );
    }
}
