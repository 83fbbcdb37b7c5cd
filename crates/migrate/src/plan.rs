//! The pure decision: history rows + local migrations -> the state of each migration.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Error;
use crate::checksum::checksum_matches;
use crate::folder::Migration;

/// One row of `_prisma_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub id: String,
    pub checksum: String,
    pub finished_at: Option<DateTime<Utc>>,
    pub migration_name: String,
    pub logs: Option<String>,
    pub rolled_back_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub applied_steps_count: i32,
}

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Applied, and the file still has the checksum it was applied with.
    Applied,
    /// In the folder, not applied (or its earlier attempt was rolled back).
    Pending,
    /// Started and neither finished nor rolled back: blocks deploy until resolved.
    Failed,
    /// Applied, but the file changed since (checksum differs).
    Modified,
    /// Applied in the database, but no longer in the folder.
    Missing,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Failed => "failed",
            State::Modified => "modified after apply",
            State::Missing => "applied but missing from the folder",
        })
    }
}

/// The state of one migration, with what the history table says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    pub name: String,
    pub state: State,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub applied_steps_count: Option<i32>,
    /// The error recorded for a failed migration.
    pub logs: Option<String>,
}

/// The state of every migration, local or recorded, ordered by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub entries: Vec<MigrationStatus>,
}

impl StatusReport {
    /// True when every migration is applied unchanged and nothing else needs attention.
    pub fn is_up_to_date(&self) -> bool {
        self.entries
            .iter()
            .all(|entry| entry.state == State::Applied)
    }

    /// The entries in `state`.
    pub fn in_state(&self, state: State) -> impl Iterator<Item = &MigrationStatus> {
        self.entries
            .iter()
            .filter(move |entry| entry.state == state)
    }

    pub fn pending(&self) -> impl Iterator<Item = &MigrationStatus> {
        self.in_state(State::Pending)
    }

    pub fn failed(&self) -> impl Iterator<Item = &MigrationStatus> {
        self.in_state(State::Failed)
    }

    pub fn modified(&self) -> impl Iterator<Item = &MigrationStatus> {
        self.in_state(State::Modified)
    }

    pub fn missing(&self) -> impl Iterator<Item = &MigrationStatus> {
        self.in_state(State::Missing)
    }

    /// The entry for `name`.
    pub fn get(&self, name: &str) -> Option<&MigrationStatus> {
        self.entries.iter().find(|entry| entry.name == name)
    }
}

/// Classifies every migration. Rolled-back rows are ignored, so a rolled-back migration
/// is pending again. Runs in O((local + rows) log rows), with no allocation per row: the
/// active rows are sorted by name (stably, so each name's rows keep their order) and each
/// local migration finds its run of rows by binary search.
pub fn classify(local: &[Migration], rows: &[HistoryRow]) -> StatusReport {
    let mut active: Vec<&HistoryRow> = rows
        .iter()
        .filter(|row| row.rolled_back_at.is_none())
        .collect();
    active.sort_by(|left, right| left.migration_name.cmp(&right.migration_name));
    let runs: Vec<&[&HistoryRow]> = active
        .chunk_by(|left, right| left.migration_name == right.migration_name)
        .collect();
    let mut matched = vec![false; runs.len()];
    let mut entries = Vec::with_capacity(local.len().max(runs.len()));
    for migration in local {
        let found = runs
            .binary_search_by(|run| run[0].migration_name.as_str().cmp(migration.name.as_str()));
        let entry = match found {
            Err(_) => pending(&migration.name),
            Ok(index) => {
                matched[index] = true;
                from_rows(&migration.name, runs[index], Some(migration))
            }
        };
        entries.push(entry);
    }
    for (run, _) in runs.iter().zip(&matched).filter(|(_, matched)| !**matched) {
        entries.push(from_rows(&run[0].migration_name, run, None));
    }
    // Already in order when the folder was (as `folder::load` returns it) and nothing is
    // missing: then this sort only checks.
    entries.sort_by(|left, right| left.name.cmp(&right.name));
    StatusReport { entries }
}

fn pending(name: &str) -> MigrationStatus {
    MigrationStatus {
        name: name.to_string(),
        state: State::Pending,
        started_at: None,
        finished_at: None,
        applied_steps_count: None,
        logs: None,
    }
}

fn from_rows(name: &str, rows: &[&HistoryRow], local: Option<&Migration>) -> MigrationStatus {
    let failed = rows.iter().find(|row| row.finished_at.is_none());
    let row = failed
        .or_else(|| rows.last())
        .expect("rows are never empty");
    let state = match (failed, local) {
        (Some(_), _) => State::Failed,
        (None, None) => State::Missing,
        (None, Some(migration)) => {
            if checksum_matches(&row.checksum, migration.sql.as_bytes(), &migration.checksum) {
                State::Applied
            } else {
                State::Modified
            }
        }
    };
    MigrationStatus {
        name: name.to_string(),
        state,
        started_at: Some(row.started_at),
        finished_at: row.finished_at,
        applied_steps_count: Some(row.applied_steps_count),
        logs: row.logs.clone(),
    }
}

/// What a deploy will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployPlan<'a> {
    /// In order of name.
    pub to_apply: Vec<&'a Migration>,
    pub modified: Vec<String>,
    pub missing: Vec<String>,
}

/// The migrations to apply, or the error that a failed migration blocks the deploy.
pub fn deploy_plan<'a>(
    local: &'a [Migration],
    rows: &[HistoryRow],
) -> Result<DeployPlan<'a>, Error> {
    let report = classify(local, rows);
    if let Some(failed) = report.failed().next() {
        return Err(Error::FailedMigrationFound {
            name: failed.name.clone(),
        });
    }
    let pending: std::collections::HashSet<&str> =
        report.pending().map(|entry| entry.name.as_str()).collect();
    Ok(DeployPlan {
        to_apply: local
            .iter()
            .filter(|migration| pending.contains(migration.name.as_str()))
            .collect(),
        modified: report.modified().map(|entry| entry.name.clone()).collect(),
        missing: report.missing().map(|entry| entry.name.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::checksum;

    fn migration(name: &str, sql: &str) -> Migration {
        Migration {
            name: name.into(),
            path: format!("m/{name}/migration.sql").into(),
            sql: sql.into(),
            checksum: checksum(sql.as_bytes()),
            no_transaction: false,
        }
    }

    fn row(name: &str, sql: &str) -> HistoryRow {
        HistoryRow {
            id: format!("id-{name}"),
            checksum: checksum(sql.as_bytes()),
            finished_at: Some(Utc::now()),
            migration_name: name.into(),
            logs: None,
            rolled_back_at: None,
            started_at: Utc::now(),
            applied_steps_count: 1,
        }
    }

    fn states(report: &StatusReport) -> Vec<(&str, State)> {
        report
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.state))
            .collect()
    }

    #[test]
    fn nothing_applied_is_all_pending() {
        let local = [migration("1_a", "A"), migration("2_b", "B")];
        let report = classify(&local, &[]);
        assert_eq!(
            states(&report),
            [("1_a", State::Pending), ("2_b", State::Pending)]
        );
        assert!(!report.is_up_to_date());
    }

    #[test]
    fn applied_pending_modified_missing() {
        let local = [
            migration("1_a", "A"),
            migration("2_b", "B changed"),
            migration("4_d", "D"),
        ];
        let rows = [row("1_a", "A"), row("2_b", "B"), row("3_c", "C")];
        let report = classify(&local, &rows);
        assert_eq!(
            states(&report),
            [
                ("1_a", State::Applied),
                ("2_b", State::Modified),
                ("3_c", State::Missing),
                ("4_d", State::Pending)
            ]
        );
    }

    #[test]
    fn up_to_date_when_everything_applied() {
        let local = [migration("1_a", "A\n")];
        let report = classify(&local, &[row("1_a", "A\r\n")]);
        assert!(
            report.is_up_to_date(),
            "CRLF checksum must count as applied"
        );
    }

    #[test]
    fn unfinished_row_is_failed_and_blocks_deploy() {
        let local = [migration("1_a", "A"), migration("2_b", "B")];
        let mut failed = row("1_a", "A");
        failed.finished_at = None;
        failed.logs = Some("boom".into());
        let report = classify(&local, &[failed.clone()]);
        assert_eq!(
            report.failed().next().unwrap().logs.as_deref(),
            Some("boom")
        );
        match deploy_plan(&local, &[failed]) {
            Err(Error::FailedMigrationFound { name }) => assert_eq!(name, "1_a"),
            other => panic!("expected a failed migration error, got {other:?}"),
        }
    }

    #[test]
    fn rolled_back_row_makes_migration_pending_again() {
        let local = [migration("1_a", "A")];
        let mut rolled_back = row("1_a", "A");
        rolled_back.finished_at = None;
        rolled_back.rolled_back_at = Some(Utc::now());
        let plan = deploy_plan(&local, &[rolled_back.clone()]).unwrap();
        assert_eq!(plan.to_apply.len(), 1);
        // A rolled-back row followed by a successful retry is applied.
        let report = classify(&local, &[rolled_back, row("1_a", "A")]);
        assert_eq!(states(&report), [("1_a", State::Applied)]);
    }

    #[test]
    fn rolled_back_row_without_local_file_is_ignored() {
        let mut rolled_back = row("1_a", "A");
        rolled_back.rolled_back_at = Some(Utc::now());
        assert!(classify(&[], &[rolled_back]).entries.is_empty());
    }

    #[test]
    fn deploy_plan_applies_pending_in_order_and_reports_drift() {
        let local = [
            migration("1_a", "A"),
            migration("2_b", "B2"),
            migration("3_c", "C"),
            migration("5_e", "E"),
        ];
        let rows = [row("2_b", "B"), row("4_d", "D")];
        let plan = deploy_plan(&local, &rows).unwrap();
        let names: Vec<_> = plan.to_apply.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["1_a", "3_c", "5_e"]);
        assert_eq!(plan.modified, ["2_b"]);
        assert_eq!(plan.missing, ["4_d"]);
    }
}
