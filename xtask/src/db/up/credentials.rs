//! Why the server refuses DATABASE_URL's user or password, told exactly: what the volume was
//! initialised with against what DATABASE_URL says now, the fixes that keep the data first,
//! and the one that deletes it with its cost. The decision is pure; [`explain`] gathers the
//! facts through the container's local socket (which trusts local connections).

use std::collections::BTreeMap;

use crate::config::DatabaseUrl;
use crate::decision::INIT_MARKER;
use crate::docker::Engine;
use crate::spec::DATA_DIR;

/// What changed since the volume was initialised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// DATABASE_URL's user has no login role in the volume.
    UserChanged {
        configured: String,
        /// The user the volume was initialised with, when known.
        initial: Option<String>,
    },
    /// The role exists, so its password is not DATABASE_URL's.
    PasswordChanged {
        user: String,
        /// The container was created with another password than DATABASE_URL's: `.env`
        /// changed since.
        since_container: bool,
    },
}

/// Compares DATABASE_URL with what the server holds: its login roles, the user the volume
/// was initialised with, and the password the container was created with.
pub fn diagnose(
    configured_user: &str,
    configured_password: &str,
    login_roles: &[String],
    initial_user: Option<&str>,
    container_password: Option<&str>,
) -> Mismatch {
    if !login_roles.iter().any(|role| role == configured_user) {
        return Mismatch::UserChanged {
            configured: configured_user.to_string(),
            initial: initial_user
                .filter(|initial| *initial != configured_user)
                .map(str::to_string),
        };
    }
    Mismatch::PasswordChanged {
        user: configured_user.to_string(),
        since_container: container_password.is_some_and(|old| old != configured_password),
    }
}

/// The message: what changed, the fixes that keep the data, then the one that does not.
pub fn hint(mismatch: &Mismatch, container: &str, volume: &str) -> String {
    let destructive = format!(
        "or, deleting every database in volume `{volume}`: `cargo xtask db destroy --force`, \
         then `cargo xtask db up` (a new, empty volume initialised with DATABASE_URL)"
    );
    match mismatch {
        Mismatch::UserChanged {
            configured,
            initial,
        } => {
            let initial_text = initial
                .as_deref()
                .map_or("another user".to_string(), |user| format!("user `{user}`"));
            let connect_as = initial.as_deref().unwrap_or("THE_OLD_USER");
            format!(
                "DATABASE_URL names user `{configured}`, but volume `{volume}` was initialised \
                 with {initial_text} and has no login role `{configured}` (PostgreSQL creates \
                 the user only when it initialises an empty volume). To keep the data, either:\n  \
                 1. put the previous user and password back in DATABASE_URL (`.env`), or\n  \
                 2. create the role in the volume, then give it DATABASE_URL's password:\n     \
                 docker exec -it {container} psql -U {connect_as} -d postgres -c 'CREATE ROLE \
                 \"{configured}\" LOGIN SUPERUSER'\n     \
                 docker exec -it {container} psql -U {connect_as} -d postgres -c '\\password \
                 \"{configured}\"'\n\
                 {destructive}"
            )
        }
        Mismatch::PasswordChanged {
            user,
            since_container,
        } => {
            let since = if *since_container {
                format!(
                    "; DATABASE_URL's password changed since container `{container}` was created"
                )
            } else {
                String::new()
            };
            format!(
                "the password for user `{user}` in DATABASE_URL is not the one its role has in \
                 volume `{volume}`: the volume keeps the password it was initialised with, and \
                 changing it in `.env` does not change it{since}. To keep the data, either:\n  \
                 1. put the previous password back in DATABASE_URL (`.env`), or\n  \
                 2. give the role DATABASE_URL's password (psql asks for it):\n     \
                 docker exec -it {container} psql -U {user} -d postgres -c '\\password \
                 \"{user}\"'\n\
                 {destructive}"
            )
        }
    }
}

/// Whether an error is the server refusing the password (SQLSTATE `28P01`, which PostgreSQL
/// also answers for a user that does not exist).
pub fn is_password_refusal(error: &anyhow::Error) -> bool {
    crate::postgres::is_password_refusal(error)
}

/// The message for a refused password, from what the container and its volume say; `None`
/// when they cannot be asked (the container is not running).
pub async fn explain(
    engine: &Engine,
    container: &str,
    volume: &str,
    url: &DatabaseUrl,
) -> Option<String> {
    let env = engine.container_env(container).await.ok()?;
    let initial_user = initial_user(engine, container).await;
    let mut candidates: Vec<String> = Vec::new();
    for user in [
        initial_user.clone(),
        env.get("POSTGRES_USER").cloned(),
        Some(url.user()),
    ]
    .into_iter()
    .flatten()
    {
        if !candidates.contains(&user) {
            candidates.push(user);
        }
    }
    let mut login_roles = None;
    for user in &candidates {
        if let Some(roles) = roles_as(engine, container, user).await {
            login_roles = Some(roles);
            break;
        }
    }
    let login_roles = login_roles?;
    let initial_user = initial_user.or_else(|| env.get("POSTGRES_USER").cloned());
    let mismatch = diagnose(
        &url.user(),
        &url.password(),
        &login_roles,
        initial_user.as_deref(),
        password_of(&env),
    );
    Some(hint(&mismatch, container, volume))
}

fn password_of(env: &BTreeMap<String, String>) -> Option<&str> {
    env.get("POSTGRES_PASSWORD").map(String::as_str)
}

/// The user nelo's entrypoint recorded in its marker when it initialised the volume.
async fn initial_user(engine: &Engine, container: &str) -> Option<String> {
    let argv = ["cat".to_string(), format!("{DATA_DIR}/{INIT_MARKER}")];
    let text = engine.exec_checked(container, &argv).await.ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("user="))
        .map(str::to_string)
}

/// The login roles, asked as `user` over the local socket; `None` when that fails.
async fn roles_as(engine: &Engine, container: &str, user: &str) -> Option<Vec<String>> {
    let argv = [
        "psql",
        "--no-psqlrc",
        "--tuples-only",
        "--no-align",
        "--username",
        user,
        "--dbname",
        "postgres",
        "--command",
        "SELECT rolname FROM pg_roles WHERE rolcanlogin",
    ]
    .map(String::from);
    let output = engine.exec_checked(container, &argv).await.ok()?;
    Some(output.lines().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn a_new_user_is_told_apart_from_a_new_password() {
        assert_eq!(
            diagnose("app", "pw", &roles(&["nelo"]), Some("nelo"), Some("pw")),
            Mismatch::UserChanged {
                configured: "app".to_string(),
                initial: Some("nelo".to_string())
            }
        );
        assert_eq!(
            diagnose("nelo", "new", &roles(&["nelo"]), Some("nelo"), Some("old")),
            Mismatch::PasswordChanged {
                user: "nelo".to_string(),
                since_container: true
            }
        );
        // The container was recreated with the new password: only the volume has the old one.
        assert_eq!(
            diagnose("nelo", "new", &roles(&["nelo"]), None, Some("new")),
            Mismatch::PasswordChanged {
                user: "nelo".to_string(),
                since_container: false
            }
        );
    }

    #[test]
    fn the_hint_puts_the_fixes_that_keep_data_first_and_names_the_cost_of_the_last() {
        for mismatch in [
            diagnose("app", "pw", &roles(&["nelo"]), Some("nelo"), None),
            diagnose("nelo", "new", &roles(&["nelo"]), None, Some("old")),
        ] {
            let text = hint(&mismatch, "nelo_postgres", "nelo_pgdata");
            let keep = text.find("To keep the data").unwrap();
            let destroy = text.find("db destroy --force").unwrap();
            assert!(keep < destroy, "{text}");
            assert!(text.contains("deleting every database in volume `nelo_pgdata`"));
            assert!(!text.contains("the container keeps"), "{text}");
        }
        let user = hint(
            &diagnose("app", "pw", &roles(&["nelo"]), Some("nelo"), None),
            "c",
            "v",
        );
        assert!(
            user.contains("DATABASE_URL names user `app`")
                && user.contains("initialised with user `nelo`"),
            "{user}"
        );
        assert!(user.contains("psql -U nelo"), "{user}");
        let password = hint(
            &diagnose("nelo", "new", &roles(&["nelo"]), None, Some("old")),
            "c",
            "v",
        );
        assert!(password.contains("password for user `nelo`"), "{password}");
        assert!(
            password.contains("changed since container `c`"),
            "{password}"
        );
    }
}
