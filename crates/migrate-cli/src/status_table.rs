//! The human `status` report: one line per migration, a summary, then what to do next.

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use nelo_migrate::{State, StatusReport};

use crate::{Commands, count};

/// The report as text: a `MIGRATION  FINISHED AT (UTC)  STATE` table, a summary line, then one
/// line of advice per kind of problem, in `commands`' words.
pub fn status_table(report: &StatusReport, commands: Commands) -> String {
    let width = report
        .entries
        .iter()
        .map(|entry| entry.name.len())
        .max()
        .unwrap_or(9)
        .max(9);
    let mut text = format!(
        "{:width$}  {:20}  STATE\n",
        "MIGRATION", "FINISHED AT (UTC)"
    );
    // Written in place, one line per migration (10,000 for a large history): the time
    // format parsed once, no string made per line.
    let time_format: Vec<Item> = StrftimeItems::new("%Y-%m-%d %H:%M:%S").collect();
    for entry in &report.entries {
        let _ = write!(text, "{:width$}  ", entry.name);
        let column_start = text.len();
        match entry.finished_at {
            Some(at) => {
                let _ = write!(text, "{}", at.format_with_items(time_format.iter()));
            }
            None => text.push('-'),
        }
        let padding = 20usize.saturating_sub(text.len() - column_start);
        text.extend(std::iter::repeat_n(' ', padding));
        let _ = writeln!(text, "  {}", entry.state);
    }
    text += &format!("\n{}\n", summary(report));
    let number = |state| report.in_state(state).count();
    let advice = [
        (State::Pending, format!("run `{}`", commands.deploy)),
        (
            State::Failed,
            format!(
                "fix it, then `{} --rolled-back NAME` (or `--applied NAME`)",
                commands.resolve
            ),
        ),
        (
            State::Modified,
            "restore the applied file, or add a new migration for the change".to_string(),
        ),
        (
            State::Missing,
            "restore the folder from version control".to_string(),
        ),
    ];
    for (state, what_to_do) in advice {
        if number(state) > 0 {
            text += &format!("{} {state}: {what_to_do}\n", number(state));
        }
    }
    if report.is_up_to_date() {
        text += "the database is up to date\n";
    }
    text
}

/// `3 migrations in the folder, 3 applied to the database`: a modified migration is applied
/// and in the folder, a missing one applied but not in the folder, a failed one neither
/// finished nor rolled back.
fn summary(report: &StatusReport) -> String {
    let in_folder = report
        .entries
        .iter()
        .filter(|entry| entry.state != State::Missing)
        .count();
    let applied = report
        .entries
        .iter()
        .filter(|entry| {
            matches!(
                entry.state,
                State::Applied | State::Modified | State::Missing
            )
        })
        .count();
    format!(
        "{} in the folder, {applied} applied to the database",
        count(in_folder, "migration")
    )
}

#[cfg(test)]
mod tests {
    use nelo_migrate::MigrationStatus;

    use super::*;

    fn report(states: &[State]) -> StatusReport {
        StatusReport {
            entries: states
                .iter()
                .enumerate()
                .map(|(index, &state)| MigrationStatus {
                    name: format!("2025010100000{index}_m"),
                    state,
                    started_at: None,
                    finished_at: None,
                    applied_steps_count: None,
                    logs: None,
                })
                .collect(),
        }
    }

    const COMMANDS: Commands = Commands {
        deploy: "tool deploy",
        resolve: "tool resolve",
    };

    #[test]
    fn modified_and_missing_migrations_count_as_applied_and_missing_ones_not_in_the_folder() {
        let text = status_table(
            &report(&[
                State::Applied,
                State::Modified,
                State::Missing,
                State::Pending,
                State::Failed,
            ]),
            COMMANDS,
        );
        assert!(
            text.contains("\n4 migrations in the folder, 3 applied to the database\n"),
            "{text}"
        );
        assert!(!text.contains("up to date"), "{text}");
    }

    #[test]
    fn the_advice_names_the_tools_own_commands() {
        let text = status_table(&report(&[State::Pending, State::Failed]), COMMANDS);
        assert!(text.contains("1 pending: run `tool deploy`\n"), "{text}");
        assert!(
            text.contains("1 failed: fix it, then `tool resolve --rolled-back NAME`"),
            "{text}"
        );
        let text = status_table(&report(&[State::Applied]), COMMANDS);
        assert!(
            text.ends_with(
                "\n1 migration in the folder, 1 applied to the database\nthe database is up to date\n"
            ),
            "{text}"
        );
    }
}
