//! Typed configuration, built by a pure function from the environment (and `.env`, which
//! `main` loads into the environment first). `.env.example` documents every variable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use nelo_migrate::postgres;

pub const DEFAULT_DATABASE_URL: &str = "postgresql://nelo:nelo@localhost:5432/nelo";
pub const DEFAULT_TEST_DATABASE: &str = "nelo_test";
pub const DEFAULT_IMAGE: &str = "pgvector/pgvector:pg17";
pub const DEFAULT_CONTAINER: &str = "nelo_postgres";
pub const DEFAULT_VOLUME: &str = "nelo_pgdata";

#[derive(Debug, Clone)]
pub struct Config {
    /// The development database; its user, password and port configure the container.
    pub database_url: DatabaseUrl,
    /// The test database, on the same server.
    pub test_database_url: DatabaseUrl,
    pub image: String,
    pub container: String,
    pub volume: String,
    pub backup_dir: PathBuf,
    pub migrations_dir: PathBuf,
    /// The declared schema `db migrate dev`, `db migrate create --from-schema` and `db push`
    /// read (`NELO_SCHEMA`; default `schema.sql` at the workspace root).
    pub schema_path: PathBuf,
    /// How long deploy, reset and resolve wait for another migrator's lock
    /// (`NELO_LOCK_TIMEOUT`).
    pub lock_timeout: Duration,
    /// How long to keep retrying a server that is unreachable or starting up
    /// (`NELO_CONNECT_TIMEOUT`).
    pub connect_timeout: Duration,
    /// Lock-safe DDL: each migration statement's `lock_timeout` (`NELO_DDL_LOCK_TIMEOUT`, ms)
    /// and how long lock timeouts are retried (`NELO_LOCK_RETRY_BUDGET`, seconds).
    pub ddl_locks: nelo_migrate::DdlLocks,
}

impl Config {
    pub fn from_vars(vars: &HashMap<String, String>, root: &Path) -> anyhow::Result<Config> {
        let get = |name: &str| {
            vars.get(name)
                .map(|value| value.trim())
                .filter(|v| !v.is_empty())
        };
        let database_url = parse_url(
            "DATABASE_URL",
            get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL),
        )?;
        let test_database_url = match get("TEST_DATABASE_URL") {
            Some(url) => parse_url("TEST_DATABASE_URL", url)?,
            None => database_url.with_database(DEFAULT_TEST_DATABASE),
        };
        if !database_url.same_server(&test_database_url) {
            bail!(
                "DATABASE_URL ({}) and TEST_DATABASE_URL ({}) must name the same server, user and \
                 password: both databases live in one container",
                database_url.redacted(),
                test_database_url.redacted()
            );
        }
        if database_url.database() == test_database_url.database() {
            bail!(
                "DATABASE_URL and TEST_DATABASE_URL both name the database `{}`; give the test \
                 database its own name",
                database_url.database()
            );
        }
        let relative_to_root = |path: &str| {
            let path = PathBuf::from(path);
            if path.is_absolute() {
                path
            } else {
                root.join(path)
            }
        };
        // Read as `nelo-migrate` reads them: seconds, fractions allowed.
        let seconds = |name: &str, default: Duration| match get(name) {
            Some(text) => postgres::parse_seconds(text).with_context(|| format!("invalid {name}")),
            None => Ok(default),
        };
        Ok(Config {
            database_url,
            test_database_url,
            image: get("NELO_PG_IMAGE").unwrap_or(DEFAULT_IMAGE).to_string(),
            container: get("NELO_PG_CONTAINER")
                .unwrap_or(DEFAULT_CONTAINER)
                .to_string(),
            volume: get("NELO_PG_VOLUME").unwrap_or(DEFAULT_VOLUME).to_string(),
            backup_dir: relative_to_root(get("NELO_BACKUP_DIR").unwrap_or("backups")),
            migrations_dir: relative_to_root(get("NELO_MIGRATIONS_DIR").unwrap_or("migrations")),
            schema_path: relative_to_root(get("NELO_SCHEMA").unwrap_or("schema.sql")),
            lock_timeout: seconds("NELO_LOCK_TIMEOUT", postgres::LOCK_TIMEOUT)?,
            connect_timeout: seconds("NELO_CONNECT_TIMEOUT", postgres::CONNECT_TIMEOUT)?,
            ddl_locks: nelo_migrate::DdlLocks {
                timeout: match get("NELO_DDL_LOCK_TIMEOUT") {
                    Some(text) => text.parse::<u64>().map(Duration::from_millis).with_context(|| {
                        format!("invalid NELO_DDL_LOCK_TIMEOUT: `{text}` is not a whole number of milliseconds")
                    })?,
                    None => nelo_migrate::lock_retry::DDL_LOCK_TIMEOUT,
                },
                budget: seconds("NELO_LOCK_RETRY_BUDGET", nelo_migrate::lock_retry::LOCK_RETRY_BUDGET)?,
            },
        })
    }

    /// What of the configuration is ignored, one sentence each: for warnings.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = self.database_url.ignored();
        warnings.extend(self.test_database_url.ignored());
        warnings.dedup();
        warnings
    }

    /// The URL of the development or the test database.
    pub fn target_url(&self, target: TargetDatabase) -> &DatabaseUrl {
        match target {
            TargetDatabase::Development => &self.database_url,
            TargetDatabase::Test => &self.test_database_url,
        }
    }
}

/// Which of the two configured databases a command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetDatabase {
    /// `DATABASE_URL`'s.
    Development,
    /// `TEST_DATABASE_URL`'s, chosen by a command's `--test`.
    Test,
}

impl TargetDatabase {
    /// The test database when `--test` was given, else the development one.
    pub fn from_test_flag(test: bool) -> TargetDatabase {
        if test {
            TargetDatabase::Test
        } else {
            TargetDatabase::Development
        }
    }
}

/// The database URL type of the migration engine: one parser and one redactor for both
/// binaries. `Display` and `Debug` mask the password.
pub use nelo_migrate::DatabaseUrl;

/// Replaces every password in `text` (URLs, `password=` parameters) with `***`.
pub fn redact(text: &str) -> String {
    nelo_migrate::redact_text(text)
}

/// `name`'s URL: parsed, and naming the user that the container is created with.
fn parse_url(name: &str, text: &str) -> anyhow::Result<DatabaseUrl> {
    let url = DatabaseUrl::parse(text).with_context(|| format!("invalid {name}"))?;
    if url.user().is_empty() {
        bail!("{name} ({url}) names no user; the container is created with its user and password");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let vars = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(&vars, Path::new("/repo"))
    }

    #[test]
    fn defaults_match_the_migrations_guide() {
        let config = config(&[]).unwrap();
        assert_eq!(config.database_url.as_str(), DEFAULT_DATABASE_URL);
        assert_eq!(
            config.test_database_url.as_str(),
            "postgresql://nelo:nelo@localhost:5432/nelo_test"
        );
        assert_eq!(config.image, "pgvector/pgvector:pg17");
        assert_eq!(config.container, "nelo_postgres");
        assert_eq!(config.volume, "nelo_pgdata");
        assert_eq!(config.backup_dir, Path::new("/repo/backups"));
        assert_eq!(config.migrations_dir, Path::new("/repo/migrations"));
        assert_eq!(config.schema_path, Path::new("/repo/schema.sql"));
        assert_eq!(config.lock_timeout, Duration::from_secs(10));
        assert_eq!(config.connect_timeout, Duration::from_secs(10));
    }

    #[test]
    fn test_flag_targets_the_test_database() {
        let config = config(&[]).unwrap();
        let test = config.target_url(TargetDatabase::from_test_flag(true));
        assert_eq!(test, &config.test_database_url);
        let development = config.target_url(TargetDatabase::from_test_flag(false));
        assert_eq!(development, &config.database_url);
        assert_ne!(test, development);
    }

    #[test]
    fn timeouts_are_seconds_read_as_nelo_migrate_reads_them() {
        let read = config(&[
            ("NELO_LOCK_TIMEOUT", "3"),
            ("NELO_CONNECT_TIMEOUT", "0.5"),
            ("NELO_DDL_LOCK_TIMEOUT", "0"),
            ("NELO_LOCK_RETRY_BUDGET", "2.5"),
        ])
        .unwrap();
        assert_eq!(read.ddl_locks.timeout, Duration::ZERO);
        assert_eq!(read.ddl_locks.budget, Duration::from_millis(2500));
        assert_eq!(read.lock_timeout, Duration::from_secs(3));
        assert_eq!(read.connect_timeout, Duration::from_millis(500));
        for name in ["NELO_LOCK_TIMEOUT", "NELO_CONNECT_TIMEOUT"] {
            let error = config(&[(name, "soon")]).unwrap_err();
            let message = format!("{error:#}");
            assert!(message.contains(name), "{message}");
            assert!(message.contains("`soon`"), "{message}");
        }
    }

    #[test]
    fn database_url_drives_user_password_port_and_test_database() {
        let config = config(&[(
            "DATABASE_URL",
            "postgresql://app:s%40cret@127.0.0.1:6543/main",
        )])
        .unwrap();
        assert_eq!(config.database_url.user(), "app");
        assert_eq!(config.database_url.password(), "s@cret");
        assert_eq!(config.database_url.port(), 6543);
        assert_eq!(config.database_url.database(), "main");
        assert_eq!(config.test_database_url.database(), "nelo_test");
        assert_eq!(config.test_database_url.port(), 6543);
    }

    #[test]
    fn test_database_on_another_server_is_refused() {
        let error = config(&[
            ("DATABASE_URL", "postgresql://nelo:pw@localhost:5432/nelo"),
            (
                "TEST_DATABASE_URL",
                "postgresql://nelo:pw@localhost:5433/nelo_test",
            ),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("same server"), "{error}");
        assert!(
            !error.to_string().contains(":pw@"),
            "password leaked: {error}"
        );
    }

    #[test]
    fn same_database_for_both_is_refused() {
        let error = config(&[("TEST_DATABASE_URL", DEFAULT_DATABASE_URL)]).unwrap_err();
        assert!(error.to_string().contains("`nelo`"), "{error}");
    }

    #[test]
    fn non_postgres_urls_are_refused_without_leaking_the_password() {
        let error = config(&[("DATABASE_URL", "mysql://root:hunter2@localhost/db")]).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(message.contains("`postgresql://`"), "{message}");
        assert!(!message.contains("hunter2"), "password leaked: {message}");
    }

    #[test]
    fn a_password_with_raw_special_characters_is_refused_without_leaking() {
        let error = config(&[(
            "DATABASE_URL",
            "postgresql://nelo:s3c#r/et@localhost:5432/nelo",
        )])
        .unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("percent-encoded"), "{message}");
        for piece in ["s3c", "3c#", "c#r", "#r/", "r/e", "/et", "et@"] {
            assert!(!message.contains(piece), "password leaked: {message}");
        }
    }

    #[test]
    fn display_and_debug_redact_the_password() {
        let url = DatabaseUrl::parse("postgresql://nelo:hunter2@localhost:5432/nelo").unwrap();
        assert!(!url.to_string().contains("hunter2"));
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(
            url.to_string().contains("nelo:***@localhost:5432/nelo"),
            "{url}"
        );
    }

    #[test]
    fn with_port_and_with_database_keep_credentials() {
        let url = DatabaseUrl::parse(DEFAULT_DATABASE_URL).unwrap();
        let moved = url.with_port(55000).with_database("other");
        assert_eq!(
            moved.as_str(),
            "postgresql://nelo:nelo@localhost:55000/other"
        );
    }

    #[test]
    fn relative_paths_are_taken_from_the_workspace_root() {
        let config = config(&[
            ("NELO_BACKUP_DIR", "var/dumps"),
            ("NELO_MIGRATIONS_DIR", "/abs"),
        ])
        .unwrap();
        assert_eq!(config.backup_dir, Path::new("/repo/var/dumps"));
        assert_eq!(config.migrations_dir, Path::new("/abs"));
    }
}
