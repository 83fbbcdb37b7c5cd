//! `resolve --applied` and `resolve --rolled-back`: repair the history by hand.

use crate::database_url::url_schema;
use crate::plan::{self, State, StatusReport};
use crate::store::{self, HistoryTable};
use crate::{Error, Migrator, folder};

/// What the user asks `resolve` to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Record as applied without running it (baselining, or a failed migration fixed by hand).
    Applied,
    /// Mark a failed migration rolled back, so that the next deploy runs it again.
    RolledBack,
}

impl Resolution {
    fn allows(self, state: State) -> bool {
        match self {
            Resolution::Applied => matches!(state, State::Pending | State::Failed),
            Resolution::RolledBack => state == State::Failed,
        }
    }

    fn wanted(self) -> &'static str {
        match self {
            Resolution::Applied => "marked applied",
            Resolution::RolledBack => "marked rolled back",
        }
    }
}

/// Checks that `name` can be resolved that way; the error lists the valid choices.
pub fn check_resolution(
    report: &StatusReport,
    name: &str,
    resolution: Resolution,
) -> Result<(), Error> {
    let choices = || {
        report
            .entries
            .iter()
            .filter(|entry| resolution.allows(entry.state))
            .map(|entry| entry.name.clone())
            .collect::<Vec<_>>()
    };
    match report.get(name) {
        None
        | Some(plan::MigrationStatus {
            state: State::Missing,
            ..
        }) => Err(Error::UnknownMigration {
            name: name.to_string(),
            choices: choices(),
        }),
        Some(entry) if !resolution.allows(entry.state) => Err(Error::WrongState {
            name: name.to_string(),
            state: entry.state,
            wanted: resolution.wanted(),
            choices: choices(),
        }),
        Some(_) => Ok(()),
    }
}

impl Migrator {
    /// Records `name` as applied without running it. Refuses when it is already applied.
    pub async fn resolve_applied(&self, database_url: &str, name: &str) -> Result<(), Error> {
        self.resolve(database_url, name, Resolution::Applied).await
    }

    /// Marks the failed migration `name` rolled back. Refuses when it is not failed.
    pub async fn resolve_rolled_back(&self, database_url: &str, name: &str) -> Result<(), Error> {
        self.resolve(database_url, name, Resolution::RolledBack)
            .await
    }

    async fn resolve(
        &self,
        database_url: &str,
        name: &str,
        resolution: Resolution,
    ) -> Result<(), Error> {
        let local = folder::load(self.migrations_dir())?;
        let (mut conn, locking) = self.connect_locked(database_url).await?;
        let url_schema = url_schema(database_url);
        let outcome = async {
            let table = HistoryTable::for_url(&mut conn, url_schema.as_deref()).await?;
            store::ensure_table(&mut conn, &table).await?;
            let rows = store::read_rows(&mut conn, &table).await?;
            check_resolution(&plan::classify(&local, &rows), name, resolution)?;
            match resolution {
                Resolution::Applied => {
                    let migration = local
                        .iter()
                        .find(|migration| migration.name == name)
                        .expect("checked above");
                    store::mark_applied(&mut conn, &table, migration, locking.timeout()).await
                }
                Resolution::RolledBack => {
                    store::mark_rolled_back(&mut conn, &table, name, locking.timeout()).await
                }
            }
        }
        .await;
        Self::unlock(conn, locking, outcome).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::MigrationStatus;

    fn report(states: &[(&str, State)]) -> StatusReport {
        StatusReport {
            entries: states
                .iter()
                .map(|(name, state)| MigrationStatus {
                    name: name.to_string(),
                    state: *state,
                    started_at: None,
                    finished_at: None,
                    applied_steps_count: None,
                    logs: None,
                })
                .collect(),
        }
    }

    #[test]
    fn applied_allows_pending_and_failed() {
        let report = report(&[
            ("1_a", State::Applied),
            ("2_b", State::Failed),
            ("3_c", State::Pending),
        ]);
        assert!(check_resolution(&report, "3_c", Resolution::Applied).is_ok());
        assert!(check_resolution(&report, "2_b", Resolution::Applied).is_ok());
        match check_resolution(&report, "1_a", Resolution::Applied) {
            Err(Error::WrongState { state, choices, .. }) => {
                assert_eq!(state, State::Applied);
                assert_eq!(choices, ["2_b", "3_c"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rolled_back_only_for_failed() {
        let report = report(&[
            ("1_a", State::Applied),
            ("2_b", State::Failed),
            ("3_c", State::Pending),
        ]);
        assert!(check_resolution(&report, "2_b", Resolution::RolledBack).is_ok());
        let error = check_resolution(&report, "3_c", Resolution::RolledBack).unwrap_err();
        assert!(error.to_string().contains("valid choices: 2_b"), "{error}");
    }

    #[test]
    fn unknown_and_missing_names_list_choices() {
        let report = report(&[("1_a", State::Missing), ("2_b", State::Pending)]);
        for name in ["nope", "1_a"] {
            match check_resolution(&report, name, Resolution::Applied) {
                Err(Error::UnknownMigration { choices, .. }) => assert_eq!(choices, ["2_b"]),
                other => panic!("{other:?}"),
            }
        }
    }
}
