//! `create`: a new, timestamped migration folder.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::Error;
use crate::folder::{LOCK_FILE, SQL_FILE, lock_file_text};

/// The body `create` writes when there is no SQL yet (Prisma's wording).
pub const EMPTY_MIGRATION: &str = "-- This is an empty migration.\n";

/// `name` in snake_case: lowercased, spaces and dashes turned into `_`. Refuses a name
/// that is not `[a-z0-9_]+` afterwards.
pub fn normalize_name(name: &str) -> Result<String, Error> {
    let normalized: String = name
        .trim()
        .chars()
        .map(|character| match character {
            ' ' | '-' => '_',
            other => other.to_ascii_lowercase(),
        })
        .collect();
    let valid = !normalized.is_empty()
        && normalized.len() <= 240
        && normalized
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
    if valid {
        Ok(normalized)
    } else {
        Err(Error::InvalidName {
            name: name.to_string(),
            normalized,
        })
    }
}

/// The 14-digit UTC timestamp that starts a folder name.
pub fn timestamp(now: DateTime<Utc>) -> String {
    now.format("%Y%m%d%H%M%S").to_string()
}

/// Creates `<dir>/<timestamp>_<name>/migration.sql` holding `sql_body`, and
/// `migration_lock.toml` when `dir` has none. Returns the path of the new `migration.sql`.
/// Refuses when a folder with the same timestamp exists.
pub fn create_migration(
    dir: &Path,
    name: &str,
    sql_body: &str,
    now: DateTime<Utc>,
) -> Result<PathBuf, Error> {
    let name = normalize_name(name)?;
    let timestamp = timestamp(now);
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        if entry.file_name().to_string_lossy().starts_with(&timestamp) {
            return Err(Error::TimestampTaken {
                timestamp,
                path: entry.path(),
            });
        }
    }
    let lock_file = dir.join(LOCK_FILE);
    if !lock_file.exists() {
        std::fs::write(&lock_file, lock_file_text()).map_err(io_error(&lock_file))?;
    }
    let folder = dir.join(format!("{timestamp}_{name}"));
    std::fs::create_dir(&folder).map_err(io_error(&folder))?;
    let sql_path = folder.join(SQL_FILE);
    std::fs::write(&sql_path, sql_body).map_err(io_error(&sql_path))?;
    Ok(sql_path)
}

/// Writes a change's `scripts` as migration folders, in order, each named `name` plus its
/// suffix (`<name>_after_enum_values` for a second migration that uses enum values the first
/// adds, `<name>_index_<index>` for an index built concurrently, as
/// [`crate::diff::SchemaDiff::migration_scripts`] splits them), stamped one second apart from
/// `now` so that they sort in order. Returns the path of each `migration.sql`. Errors as
/// [`create_migration`]; nothing is written after the first failure.
pub fn create_migrations(
    dir: &Path,
    name: &str,
    scripts: &[crate::diff::MigrationScript],
    now: DateTime<Utc>,
) -> Result<Vec<PathBuf>, Error> {
    scripts
        .iter()
        .enumerate()
        .map(|(index, script)| {
            let name = format!("{}{}", name.trim(), script.suffix);
            let stamp = now + chrono::Duration::seconds(index as i64);
            create_migration(dir, &name, &script.sql, stamp)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn normalizes_names() {
        assert_eq!(
            normalize_name("Add Users-Table").unwrap(),
            "add_users_table"
        );
        assert_eq!(normalize_name("v2_index").unwrap(), "v2_index");
    }

    #[test]
    fn refuses_bad_names() {
        for name in ["", "   ", "drop;table", "émoji", "a/b"] {
            assert!(normalize_name(name).is_err(), "{name:?} should be refused");
        }
    }

    #[test]
    fn timestamp_is_14_digits_utc() {
        let now = Utc.with_ymd_and_hms(2025, 8, 17, 9, 5, 3).unwrap();
        assert_eq!(timestamp(now), "20250817090503");
    }

    #[test]
    fn creates_folder_and_lock_file_and_refuses_same_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("migrations");
        let now = Utc.with_ymd_and_hms(2025, 8, 17, 9, 5, 3).unwrap();
        let path = create_migration(&migrations, "Init Schema", "SELECT 1;\n", now).unwrap();
        assert_eq!(
            path,
            migrations
                .join("20250817090503_init_schema")
                .join("migration.sql")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "SELECT 1;\n");
        assert!(migrations.join(LOCK_FILE).is_file());
        let loaded = crate::folder::load(&migrations).unwrap();
        assert_eq!(loaded.len(), 1);
        let error = create_migration(&migrations, "other", "", now).unwrap_err();
        assert!(matches!(error, Error::TimestampTaken { .. }), "{error:?}");
    }

    #[test]
    fn writes_the_second_migration_one_second_later_after_enum_values() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc.with_ymd_and_hms(2025, 8, 17, 9, 5, 59).unwrap();
        let script = |suffix: &str, sql: &str| crate::diff::MigrationScript {
            suffix: suffix.to_string(),
            sql: sql.to_string(),
        };
        let scripts = vec![
            script("", "ALTER TYPE a ADD VALUE 'b';\n"),
            script("_after_enum_values", "SELECT 'b'::a;\n"),
        ];
        let paths = create_migrations(dir.path(), "Add B", &scripts, now).unwrap();
        assert_eq!(
            paths,
            [
                dir.path().join("20250817090559_add_b/migration.sql"),
                dir.path()
                    .join("20250817090600_add_b_after_enum_values/migration.sql"),
            ]
        );
        assert_eq!(std::fs::read_to_string(&paths[1]).unwrap(), scripts[1].sql);
        let loaded = crate::folder::load(dir.path()).unwrap();
        let names: Vec<_> = loaded.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "20250817090559_add_b",
                "20250817090600_add_b_after_enum_values"
            ]
        );
    }
}
