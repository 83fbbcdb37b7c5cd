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

/// An object of a kind nelo does not model, and which side has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotCompared {
    pub kind: String,
    pub identity: String,
    /// `both` (the same on both sides), `from`, `to`, or `changed` (on both sides, but what
    /// the server says it is differs).
    pub side: &'static str,
    /// What the server says it is: on the side that has it; `to`'s when both have it.
    pub definition: String,
    /// `from`'s definition, when `changed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

impl NotCompared {
    /// It exists on one side only, or differs: nelo cannot tell whether the sides are the
    /// same, since it does not diff (nor plan) this kind.
    pub fn cannot_tell(&self) -> bool {
        self.side != "both"
    }

    /// One line: kind, identity, the side in `side_words` (given `from`, `to`, `both` or
    /// `changed`) and what the server says it is (`before -> after` when it changed).
    pub fn describe(&self, side_words: fn(&str) -> &'static str) -> String {
        let what = match &self.before {
            Some(before) => {
                let (before, after) = super::difference::shown_pair(before, &self.definition);
                format!(": {before} -> {after}")
            }
            None if self.definition.is_empty() => String::new(),
            None => {
                let (shown, _) = super::difference::shown_pair(&self.definition, "");
                format!(": {shown}")
            }
        };
        format!(
            "{} {} ({}){what}",
            self.kind,
            self.identity,
            side_words(self.side)
        )
    }
}

/// Every object of a kind nelo does not model, on either side, in (kind, identity) order.
pub fn not_compared(from: &SchemaModel, to: &SchemaModel) -> Vec<NotCompared> {
    let all: BTreeSet<&(String, String)> = from
        .not_compared
        .keys()
        .chain(to.not_compared.keys())
        .collect();
    all.into_iter()
        .map(|key @ (kind, identity)| {
            let (before, after) = (from.not_compared.get(key), to.not_compared.get(key));
            let (side, definition, before) = match (before, after) {
                (Some(old), Some(new)) if old.definition == new.definition => {
                    ("both", new.definition.clone(), None)
                }
                (Some(old), Some(new)) => (
                    "changed",
                    new.definition.clone(),
                    Some(old.definition.clone()),
                ),
                (Some(old), None) => ("from", old.definition.clone(), None),
                (_, new) => (
                    "to",
                    new.map(|object| object.definition.clone())
                        .unwrap_or_default(),
                    None,
                ),
            };
            NotCompared {
                kind: kind.clone(),
                identity: identity.clone(),
                side,
                definition,
                before,
            }
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
