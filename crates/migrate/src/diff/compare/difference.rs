//! A difference: which object, and how it changed from the `from` side to the `to` side.

use std::fmt;

use serde::Serialize;

use crate::diff::model::{CommentTarget, FunctionName, GrantTarget, Name};

/// The object a difference is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Object {
    Schema {
        name: String,
    },
    Extension {
        name: String,
    },
    Enum {
        name: Name,
    },
    Domain {
        name: Name,
    },
    CompositeType {
        name: Name,
    },
    Collation {
        name: Name,
    },
    Range {
        name: Name,
    },
    EventTrigger {
        name: String,
    },
    Sequence {
        name: Name,
    },
    Table {
        name: Name,
    },
    Column {
        table: Name,
        column: String,
    },
    Constraint {
        table: Name,
        constraint: String,
    },
    Index {
        name: Name,
    },
    Statistics {
        name: Name,
    },
    View {
        name: Name,
    },
    Function {
        name: FunctionName,
    },
    Trigger {
        table: Name,
        trigger: String,
    },
    Policy {
        table: Name,
        policy: String,
    },
    /// One entry of an object's privileges other than the default (`+bob SELECT`).
    Privilege {
        target: GrantTarget,
        entry: String,
    },
    Comment {
        target: CommentTarget,
    },
    Publication {
        name: String,
    },
}

impl fmt::Display for Object {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Schema { name } => write!(formatter, "schema `{name}`"),
            Object::Extension { name } => write!(formatter, "extension `{name}`"),
            Object::Enum { name } => write!(formatter, "enum `{name}`"),
            Object::Domain { name } => write!(formatter, "domain `{name}`"),
            Object::CompositeType { name } => write!(formatter, "composite type `{name}`"),
            Object::Collation { name } => write!(formatter, "collation `{name}`"),
            Object::Range { name } => write!(formatter, "range type `{name}`"),
            Object::EventTrigger { name } => write!(formatter, "event trigger `{name}`"),
            Object::Sequence { name } => write!(formatter, "sequence `{name}`"),
            Object::Table { name } => write!(formatter, "table `{name}`"),
            Object::Column { table, column } => {
                write!(formatter, "column `{column}` of table `{table}`")
            }
            Object::Constraint { table, constraint } => {
                write!(formatter, "constraint `{constraint}` of table `{table}`")
            }
            Object::Index { name } => write!(formatter, "index `{name}`"),
            Object::Statistics { name } => write!(formatter, "statistics object `{name}`"),
            Object::View { name } => write!(formatter, "view `{name}`"),
            Object::Function { name } => write!(formatter, "function `{name}`"),
            Object::Trigger { table, trigger } => {
                write!(formatter, "trigger `{trigger}` on `{table}`")
            }
            Object::Policy { table, policy } => {
                write!(formatter, "policy `{policy}` on `{table}`")
            }
            Object::Privilege { target, entry } => {
                write!(formatter, "privilege `{entry}` on {target}")
            }
            Object::Publication { name } => write!(formatter, "publication `{name}`"),
            Object::Comment { target } => write!(
                formatter,
                "comment on {} `{}`",
                target.object_type, target.identity
            ),
        }
    }
}

/// How the object differs, from the `from` side to the `to` side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    Changed {
        field: &'static str,
        before: String,
        after: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    #[serde(flatten)]
    pub object: Object,
    #[serde(flatten)]
    pub change: Change,
}

impl fmt::Display for Difference {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.change {
            Change::Added => write!(formatter, "added {}", self.object),
            Change::Removed => write!(formatter, "removed {}", self.object),
            Change::Changed {
                field,
                before,
                after,
            } => {
                let (before, after) = shown_pair(before, after);
                write!(
                    formatter,
                    "changed {} ({field}: {before} -> {after})",
                    self.object
                )
            }
        }
    }
}

/// Before and after on one line each: whitespace collapsed, `none` for nothing, and long
/// values cut to a window around where they start to differ.
pub(super) fn shown_pair(before: &str, after: &str) -> (String, String) {
    const WIDTH: usize = 80;
    let one_line = |text: &str| -> Vec<char> {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .collect()
    };
    let (before, after) = (one_line(before), one_line(after));
    let common = before
        .iter()
        .zip(&after)
        .take_while(|(left, right)| left == right)
        .count();
    let window = |text: &[char]| -> String {
        if text.is_empty() {
            return "none".to_string();
        }
        if text.len() <= WIDTH {
            return text.iter().collect();
        }
        let start = common
            .saturating_sub(20)
            .min(text.len().saturating_sub(WIDTH));
        let end = (start + WIDTH).min(text.len());
        format!(
            "{}{}{}",
            if start > 0 { "..." } else { "" },
            text[start..end].iter().collect::<String>(),
            if end < text.len() { "..." } else { "" }
        )
    };
    (window(&before), window(&after))
}
