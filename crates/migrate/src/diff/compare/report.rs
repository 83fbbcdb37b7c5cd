//! What a diff reports beside its differences: possible renames, the objects of kinds that
//! are not compared, and extension versions.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Change, Difference, Object};
use crate::diff::model::{Name, SchemaModel};

/// A removed and an added column of the same type on one table: maybe a rename, which the
/// plan carries out as a drop and an add (the column's data is lost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PossibleRename {
    pub table: Name,
    pub removed: String,
    pub added: String,
    pub data_type: String,
}

pub fn possible_renames(
    differences: &[Difference],
    from: &SchemaModel,
    to: &SchemaModel,
) -> Vec<PossibleRename> {
    let mut removed: BTreeMap<&Name, Vec<&str>> = BTreeMap::new();
    let mut added: BTreeMap<&Name, Vec<&str>> = BTreeMap::new();
    for difference in differences {
        if let Object::Column { table, column } = &difference.object {
            match difference.change {
                Change::Removed => removed.entry(table).or_default().push(column),
                Change::Added => added.entry(table).or_default().push(column),
                Change::Changed { .. } => {}
            }
        }
    }
    let mut renames = Vec::new();
    for (table, removed_columns) in removed {
        let (Some(added_columns), Some(before), Some(after)) = (
            added.get(table),
            from.tables.get(table),
            to.tables.get(table),
        ) else {
            continue;
        };
        for removed_column in removed_columns {
            let Some(old) = before.column(removed_column) else {
                continue;
            };
            for added_column in added_columns {
                if after
                    .column(added_column)
                    .is_some_and(|new| new.data_type == old.data_type)
                {
                    renames.push(PossibleRename {
                        table: table.clone(),
                        removed: removed_column.to_string(),
                        added: added_column.to_string(),
                        data_type: old.data_type.clone(),
                    });
                }
            }
        }
    }
    renames
}

/// An object of a kind nelo does not compare, and which side has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotCompared {
    pub kind: String,
    pub identity: String,
    /// `both`, `from` or `to`.
    pub side: &'static str,
}

pub fn not_compared(from: &SchemaModel, to: &SchemaModel) -> Vec<NotCompared> {
    let all: BTreeSet<&(String, String)> =
        from.not_compared.iter().chain(&to.not_compared).collect();
    all.into_iter()
        .map(|entry @ (kind, identity)| NotCompared {
            kind: kind.clone(),
            identity: identity.clone(),
            side: match (
                from.not_compared.contains(entry),
                to.not_compared.contains(entry),
            ) {
                (true, true) => "both",
                (true, false) => "from",
                _ => "to",
            },
        })
        .collect()
}

/// Extension versions that differ: shown, not a difference.
pub fn extension_notes(from: &SchemaModel, to: &SchemaModel) -> Vec<String> {
    from.extensions
        .iter()
        .filter_map(|(name, before)| {
            let after = to.extensions.get(name)?;
            (before.version != after.version).then(|| {
                format!(
                    "extension `{name}` is version {} on the `from` side and {} on the `to` side (not compared)",
                    before.version, after.version
                )
            })
        })
        .collect()
}
