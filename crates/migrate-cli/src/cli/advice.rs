//! What to do next, in this binary's own commands and flags, for the library's errors (whose
//! messages state facts only).

use nelo_migrate::Error;
use nelo_migrate::diff::DiffError;
use nelo_migrate::lint::LintMode;

/// Where this binary's database URLs come from.
const URL_SOURCES: &str = "DATABASE_URL (--database-url), --shadow-database-url (NELO_SHADOW_DATABASE_URL), or diff's --from-url and --to-url";

/// The next step for `error`, if this binary has one to offer.
pub fn next_step(error: &Error) -> Option<String> {
    Some(match error {
        Error::FolderMissing { .. } => {
            "create it with `nelo-migrate create --name NAME`, or pass --migrations DIR (NELO_MIGRATIONS_DIR)"
                .to_string()
        }
        Error::ConnectTimeout { .. } => {
            "raise --connect-timeout (NELO_CONNECT_TIMEOUT) to wait longer".to_string()
        }
        Error::LockTimeout { .. } => {
            "wait for that deploy to finish, or raise --lock-timeout (NELO_LOCK_TIMEOUT)".to_string()
        }
        Error::LockRetryBudgetSpent { .. } => {
            "run deploy again once that session is done (or end it), or raise --lock-retry-budget (NELO_LOCK_RETRY_BUDGET); nothing needs resolving".to_string()
        }
        Error::FailedMigrationFound { name } => format!(
            "once the database is fixed: `nelo-migrate resolve --rolled-back {name}` to run it again, or `nelo-migrate resolve --applied {name}` if you completed it by hand"
        ),
        Error::SchemaNotEmpty {
            first_migration, ..
        } => format!(
            "`nelo-migrate resolve --applied {}` for each migration the schema already has, then deploy",
            first_migration.as_deref().unwrap_or("NAME")
        ),
        Error::SeedNotConfigured => {
            "set NELO_SEED_COMMAND, or pass --seed-command CMD".to_string()
        }
        Error::LintRefused(refusal) if refusal.mode == LintMode::Deny => {
            "`--lint warn` (NELO_LINT=warn) stops only on findings that would fail at run time"
                .to_string()
        }
        // Any of the command's URLs may be the one: the database's, the shadow server's, a
        // diff side's.
        Error::AuthenticationFailed { target, .. } => format!(
            "check the user and password of the URL that names {target}: {URL_SOURCES}"
        ),
        Error::DatabaseMissing { database, server } => format!(
            "create it (e.g. `createdb {database}`), or fix the URL that names it on {server}: {URL_SOURCES}"
        ),
        Error::Diff(diff) => return diff_next_step(diff),
        _ => return None,
    })
}

fn diff_next_step(error: &DiffError) -> Option<String> {
    Some(match error {
        DiffError::ShadowNotPermitted { .. } => {
            "or pass --shadow-database-url URL (NELO_SHADOW_DATABASE_URL) naming a server where the role can create databases"
                .to_string()
        }
        DiffError::NoShadowServer => {
            "pass --shadow-database-url URL (NELO_SHADOW_DATABASE_URL; any database on that server), or set DATABASE_URL"
                .to_string()
        }
        DiffError::DataLoss { .. } => {
            "review the warnings; pass --accept-data-loss to apply the change anyway".to_string()
        }
        DiffError::PushPartlyApplied { .. } => {
            "fix what failed (the data, or the schema), then push again: it applies only what still differs"
                .to_string()
        }
        DiffError::DriftUnreplayable { .. } => {
            "restore the missing migration folders (from version control), then check again"
                .to_string()
        }
        _ => return None,
    })
}

/// The next step for the first library error in `error`'s chain.
pub fn for_chain(error: &anyhow::Error) -> Option<String> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Error>())
        .and_then(next_step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_deploy_names_this_binarys_resolve_commands() {
        let error = anyhow::Error::new(Error::FailedMigrationFound {
            name: "0_init".into(),
        })
        .context("cannot deploy");
        let step = for_chain(&error).unwrap();
        assert!(
            step.contains("`nelo-migrate resolve --rolled-back 0_init`"),
            "{step}"
        );
        assert!(
            step.contains("`nelo-migrate resolve --applied 0_init`"),
            "{step}"
        );
        assert_eq!(for_chain(&anyhow::anyhow!("unrelated")), None);
    }

    #[test]
    fn library_messages_name_no_command_of_this_binary() {
        let errors = [
            Error::FolderMissing {
                path: "migrations".into(),
            },
            Error::FailedMigrationFound {
                name: "0_init".into(),
            },
            Error::SeedNotConfigured,
            Error::Diff(Box::new(DiffError::NoShadowServer)),
            Error::Diff(Box::new(DiffError::ShadowNotPermitted {
                role: "app".into(),
                server: "db:5432".into(),
            })),
            Error::Diff(Box::new(DiffError::DataLoss {
                warnings: vec!["You are about to drop the column `title`".into()],
            })),
            Error::LockTimeout {
                key: 1,
                waited: std::time::Duration::from_secs(1),
                holder: None,
            },
            Error::AuthenticationFailed {
                user: "app".into(),
                target: "db:5432/shadow".into(),
            },
            Error::DatabaseMissing {
                database: "nope".into(),
                server: "db:5432".into(),
            },
        ];
        for error in errors {
            let text = error.to_string();
            // The library cannot tell which URL failed: naming one would send people to the
            // wrong one (a shadow server's password is not DATABASE_URL's).
            assert!(!text.contains("DATABASE_URL"), "{text}");
            assert!(!text.contains("nelo-migrate"), "{text}");
            assert!(!text.contains("--"), "{text}");
            assert!(next_step(&error).is_some(), "{text}");
        }
    }
}
