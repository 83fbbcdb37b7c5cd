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

/// The not-compared objects, each with its side in `side_words` (given `from`, `to` or
/// `both`).
fn not_compared_lines(
    not_compared: &[NotCompared],
    side_words: fn(&str) -> &'static str,
) -> String {
    if not_compared.is_empty() {
        return String::new();
    }
    let mut text =
        "\nNot compared (nelo does not diff these kinds; check them by hand):\n".to_string();
    for object in not_compared {
        text += &format!(
            "  {} {} ({})\n",
            object.kind,
            object.identity,
            side_words(object.side)
        );
    }
    text
}

/// `diff`'s human summary: the differences, the data-loss warnings, what was not compared.
pub fn diff_summary(diff: &SchemaDiff) -> String {
    let mut text = if diff.is_empty() {
        "No difference detected.\n".to_string()
    } else {
        difference_lines(&diff.differences)
    };
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
    let mut text = if drift.is_empty() {
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
        _ => "in both",
    }
}

/// `diff --json`: `{ "empty", "differences", "possible_renames", "warnings", "not_compared",
/// "notes", "script" }`.
pub fn diff_json(diff: &SchemaDiff) -> serde_json::Value {
    serde_json::json!({
        "empty": diff.is_empty(),
        "differences": diff.differences,
        "possible_renames": diff.possible_renames,
        "warnings": diff.plan.warnings,
        "not_compared": diff.not_compared,
        "notes": diff.notes,
        "script": diff.script(),
    })
}

/// `status --json`'s `drift` (and `db status --json`'s, per database): `{ "drifted",
/// "differences", "replayed", "modified", "failed", "not_compared" }`.
pub fn drift_json(drift: &Drift) -> serde_json::Value {
    serde_json::json!({
        "drifted": !drift.is_empty(),
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
        let objects = [
            NotCompared {
                kind: "domain".into(),
                identity: "public.posint".into(),
                side: "to",
            },
            NotCompared {
                kind: "policy".into(),
                identity: "p1 on public.note".into(),
                side: "from",
            },
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
        let diff = not_compared_lines(&objects, side_text);
        assert!(diff.contains("(only in `to`)"), "{diff}");
    }
}
