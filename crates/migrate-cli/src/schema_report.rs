//! Schema differences for people: `diff`'s summary and the drift report of `status --drift`
//! (nelo-migrate) and `db status` (cargo xtask), written once.

use nelo_migrate::diff::{Change, Difference, Drift, NotCompared, SchemaDiff, side_text};

/// One line per difference, marked `[+]` added, `[-]` removed, `[*]` changed.
pub fn difference_lines(differences: &[Difference]) -> String {
    differences
        .iter()
        .map(|difference| {
            let mark = match difference.change {
                Change::Added => "[+]",
                Change::Removed => "[-]",
                Change::Changed { .. } => "[*]",
            };
            format!("{mark} {difference}\n")
        })
        .collect()
}

/// The objects of kinds nelo does not compare: first those that exist on one side only or
/// differ ("cannot tell"), then those that are the same on both sides; each with its side in
/// `side_words` (given `from`, `to`, `both` or `changed`).
fn not_compared_lines(
    not_compared: &[NotCompared],
    side_words: fn(&str) -> &'static str,
) -> String {
    let (differ, same): (Vec<&NotCompared>, Vec<&NotCompared>) =
        not_compared.iter().partition(|object| object.cannot_tell());
    let mut text = String::new();
    if !differ.is_empty() {
        text += "\nCannot tell: these exist on one side only or differ, and nelo does not diff their kinds (make them the same by hand):\n";
        for object in differ {
            text += &format!("  {}\n", object.describe(side_words));
        }
    }
    if !same.is_empty() {
        text += "\nNot compared (nelo does not diff these kinds; the same on both sides):\n";
        for object in same {
            text += &format!("  {} {}\n", object.kind, object.identity);
        }
    }
    text
}

/// `diff`'s human summary: the differences, the data-loss warnings, what was not compared.
pub fn diff_summary(diff: &SchemaDiff) -> String {
    let cannot_tell = diff.cannot_tell().len();
    let mut text = if diff.is_empty() && cannot_tell > 0 {
        format!(
            "Cannot tell whether they are the same: no difference in what nelo compares, but {} of kinds it does not compare exist on one side only or differ (below).\n",
            crate::count(cannot_tell, "object")
        )
    } else if diff.is_empty() {
        "No difference detected.\n".to_string()
    } else {
        difference_lines(&diff.differences)
    };
    if let Some(reason) = &diff.unverified {
        text += &format!(
            "\nNot verified: the script fails or falls short on a shadow database, as it lacks what nelo cannot diff (below): {}\n",
            reason.lines().next().unwrap_or_default()
        );
    }
    if !diff.plan.warnings.is_empty() {
        text.push_str("\nWarnings:\n");
        for warning in &diff.plan.warnings {
            text += &format!("  - {warning}\n");
        }
    }
    text + &not_compared_lines(&diff.not_compared, side_text)
}

/// The drift report: whether the database is what its applied migrations build, each
/// difference (`[+]` only in the database, `[-]` only in the migrations), and what the
/// comparison could not see. `diff_command` is the caller's command that writes the drift as
/// a migration's SQL.
pub fn drift_summary(drift: &Drift, diff_command: &str) -> String {
    let replayed = crate::count(drift.replayed.len(), "applied migration");
    let cannot_tell = drift.cannot_tell().len();
    let mut text = if drift.is_empty() && cannot_tell > 0 {
        format!(
            "\nCannot tell whether the database drifted: what nelo compares is what replaying its {replayed} gives, but {} of kinds it does not compare exist on one side only or differ (below).\n",
            crate::count(cannot_tell, "object")
        )
    } else if drift.is_empty() {
        format!("\nNo drift: the database is what replaying its {replayed} gives.\n")
    } else {
        format!(
            "\nDrift detected: the database differs from what replaying its {replayed} gives \
             ([+] only in the database, [-] only in the migrations):\n{}",
            difference_lines(&drift.differences)
        )
    };
    if !drift.modified.is_empty() {
        text += &format!(
            "(replayed as the files are now; modified after they were applied: {})\n",
            drift.modified.join(", ")
        );
    }
    if !drift.failed.is_empty() {
        text += &format!(
            "(not replayed, recorded as failed: {}; what they left shows as drift)\n",
            drift.failed.join(", ")
        );
    }
    if !drift.is_empty() {
        text += &format!(
            "to keep the change, write it as a migration (`{diff_command}` prints its SQL); \
             to drop it, reset the database or undo it by hand\n"
        );
    }
    text + &not_compared_lines(&drift.not_compared, drift_side_text)
}

/// A drift check's sides in its own words: `from` is what the migrations build, `to` the
/// database.
fn drift_side_text(side: &str) -> &'static str {
    match side {
        "from" => "only in the migrations",
        "to" => "only in the database",
        "changed" => "differs",
        _ => "in both",
    }
}

/// `diff --json`: `{ "empty", "cannot_tell", "differences", "possible_renames", "warnings",
/// "not_compared", "notes", "script" }` (`cannot_tell`: the not-compared objects that exist
/// on one side only or differ).
pub fn diff_json(diff: &SchemaDiff) -> serde_json::Value {
    serde_json::json!({
        "empty": diff.is_empty(),
        "cannot_tell": diff.cannot_tell(),
        "differences": diff.differences,
        "possible_renames": diff.possible_renames,
        "warnings": diff.plan.warnings,
        "not_compared": diff.not_compared,
        "notes": diff.notes,
        "script": diff.script(),
    })
}

/// `status --json`'s `drift` (and `db status --json`'s, per database): `{ "drifted",
/// "cannot_tell", "differences", "replayed", "modified", "failed", "not_compared" }`.
pub fn drift_json(drift: &Drift) -> serde_json::Value {
    serde_json::json!({
        "drifted": !drift.is_empty(),
        "cannot_tell": drift.cannot_tell(),
        "differences": drift.differences,
        "replayed": drift.replayed,
        "modified": drift.modified,
        "failed": drift.failed,
        "not_compared": drift.not_compared,
    })
}

/// `push --json`: `{ "applied", "differences", "warnings", "not_compared", "script" }`
/// (`applied` is false when the database was already in sync).
pub fn push_json(diff: &SchemaDiff) -> serde_json::Value {
    serde_json::json!({
        "applied": !diff.is_empty(),
        "differences": diff.differences,
        "warnings": diff.plan.warnings,
        "not_compared": diff.not_compared,
        "script": diff.script(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_names_its_sides_the_database_and_the_migrations() {
        let object = |kind: &str, identity: &str, side| NotCompared {
            kind: kind.into(),
            identity: identity.into(),
            side,
            definition: String::new(),
            before: None,
        };
        let mut changed = object("rule", "r on public.note", "changed");
        changed.before = Some("DO NOTHING".into());
        changed.definition = "DO INSTEAD NOTHING".into();
        let objects = [
            object("domain", "public.posint", "to"),
            object("policy", "p1 on public.note", "from"),
            changed,
            object("collation", "public.c", "both"),
        ];
        let drift = not_compared_lines(&objects, drift_side_text);
        assert!(
            drift.contains("domain public.posint (only in the database)"),
            "{drift}"
        );
        assert!(
            drift.contains("policy p1 on public.note (only in the migrations)"),
            "{drift}"
        );
        assert!(
            drift.contains("rule r on public.note (differs): DO NOTHING -> DO INSTEAD NOTHING"),
            "{drift}"
        );
        let (cannot, same) = drift.split_once("Not compared").unwrap();
        assert!(cannot.contains("Cannot tell"), "{drift}");
        assert!(same.contains("collation public.c"), "{drift}");
        assert!(!cannot.contains("collation"), "{drift}");
        let diff = not_compared_lines(&objects, side_text);
        assert!(diff.contains("(only in `to`)"), "{diff}");
    }
}
