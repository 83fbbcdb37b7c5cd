//! The migrations folder in Prisma Migrate's layout: `<dir>/<name>/migration.sql` plus
//! `<dir>/migration_lock.toml`.
//!
//! As in Prisma (`listMigrations` in prisma's `packages/migrate`, and `migrations_directory.rs`
//! in prisma-engines before it), every directory is a migration whatever its name (`0_init`,
//! `20240126184148_new_models copy`), ordered by name in byte order, and plain files are
//! ignored. `create` still writes `<14-digit UTC timestamp>_<snake_name>`.

use std::path::{Path, PathBuf};

use crate::Error;

mod read;

use read::{MigrationFolder, load_migrations};

/// The file Prisma writes next to the migration folders.
pub const LOCK_FILE: &str = "migration_lock.toml";
/// The SQL file inside each migration folder.
pub const SQL_FILE: &str = "migration.sql";
/// First line that makes a migration run outside a transaction, statement by statement.
pub const NO_TRANSACTION_MARKER: &str = "-- nelo:no-transaction";

/// One migration folder, read and checksummed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The folder name, verbatim (e.g. `20250817000000_baseline`, `0_init`); the key in
    /// `_prisma_migrations`.
    pub name: String,
    /// Path of its `migration.sql`.
    pub path: PathBuf,
    /// The file's text.
    pub sql: String,
    /// [`checksum`] of the file's bytes.
    pub checksum: String,
    /// Whether the first line is [`NO_TRANSACTION_MARKER`].
    pub no_transaction: bool,
}

impl Migration {
    /// The SQL to send to the server (the file without a UTF-8 byte order mark).
    pub fn sql_to_send(&self) -> &str {
        self.sql.strip_prefix('\u{feff}').unwrap_or(&self.sql)
    }
}

/// Reads the migrations in `dir`, ordered by name: every directory is a migration
/// (dot-directories excepted), plain files are ignored, a directory without `migration.sql` is
/// an error that names it. The one public way to read a folder.
///
/// Entries are checked in name order and the first one that fails is the error, whether it
/// breaks the layout or its `migration.sql` cannot be read. The files of a large folder are
/// read and checksummed on several threads.
pub fn load(dir: &Path) -> Result<Vec<Migration>, Error> {
    if !dir.is_dir() {
        return Err(Error::FolderMissing {
            path: dir.to_path_buf(),
        });
    }
    let listing = list_migration_folders(dir)?;
    // The folders listed all come before the misplaced entry, so their errors win over its.
    let migrations = load_migrations(dir, listing.folders)?;
    match listing.first_misplaced {
        Some(error) => Err(error),
        None => Ok(migrations),
    }
}

/// The migration folders of `dir` in name order, up to the first entry that breaks the layout.
struct Listing {
    folders: Vec<MigrationFolder>,
    first_misplaced: Option<Error>,
}

fn list_migration_folders(dir: &Path) -> Result<Listing, Error> {
    let mut folders = Vec::new();
    for entry in read_dir_sorted(dir)? {
        match check_entry(&entry) {
            Ok(Some(folder)) => folders.push(folder),
            Ok(None) => {}
            Err(error) => {
                return Ok(Listing {
                    folders,
                    first_misplaced: Some(error),
                });
            }
        }
    }
    Ok(Listing {
        folders,
        first_misplaced: None,
    })
}

/// Checks one entry of the folder: a migration folder to read, or `None` for what is not a
/// migration (a dot-entry, a plain file; the lock file is checked on the way).
fn check_entry(entry: &std::fs::DirEntry) -> Result<Option<MigrationFolder>, Error> {
    let file_name = entry.file_name();
    let entry_path = entry.path();
    if file_name.as_encoded_bytes().starts_with(b".") {
        return Ok(None);
    }
    if !is_dir(entry) {
        if file_name == LOCK_FILE {
            check_lock_file(&entry_path)?;
        }
        return Ok(None);
    }
    let Some(name) = file_name.to_str() else {
        return Err(layout_error(
            &entry_path,
            "a migration folder's name is its `migration_name` in `_prisma_migrations`, so it must be valid UTF-8; rename the folder",
        ));
    };
    Ok(Some(MigrationFolder {
        path: entry_path,
        name: name.to_string(),
    }))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<std::fs::DirEntry>, Error> {
    let io_error = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error)?;
    entries.sort_by_key(|entry| entry.file_name());
    Ok(entries)
}

/// From the directory listing where it can (no extra `stat`), following symlinks.
fn is_dir(entry: &std::fs::DirEntry) -> bool {
    match entry.file_type() {
        Ok(file_type) if file_type.is_symlink() => entry.path().is_dir(),
        Ok(file_type) => file_type.is_dir(),
        Err(_) => entry.path().is_dir(),
    }
}

/// `migration_lock.toml` names PostgreSQL (another provider is Prisma's P3019). A folder
/// without the file is accepted, as Prisma accepts it: in prisma-engines
/// (`schema-connector/src/migrations_directory.rs`, `error_on_changed_provider`) no lock file
/// means no provider check.
fn check_lock_file(path: &Path) -> Result<(), Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match lock_file_provider(&text) {
        Some(provider) if provider == "postgresql" || provider == "postgres" => Ok(()),
        Some(provider) => Err(Error::Provider {
            path: path.to_path_buf(),
            provider,
        }),
        None => Err(layout_error(
            path,
            "expected a line `provider = \"postgresql\"`",
        )),
    }
}

fn layout_error(path: &Path, reason: &str) -> Error {
    Error::Layout {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Whether `name` is a migration folder name as `create` writes them: 14 digits, then `_` and
/// a name of ASCII letters, digits, `_` and `-`, at most 255 bytes. Any directory is a
/// migration when the folder is read; this is the shape of the names nelo-migrate makes.
pub fn is_migration_folder_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 14
        && bytes.len() <= 255
        && bytes[..14].iter().all(u8::is_ascii_digit)
        && (bytes.len() == 14
            || (bytes[14] == b'_'
                && bytes[15..]
                    .iter()
                    .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')))
}

/// The `provider` value of a `migration_lock.toml`.
pub fn lock_file_provider(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.trim();
        let value = line
            .strip_prefix("provider")?
            .trim_start()
            .strip_prefix('=')?;
        let value = value.split('#').next()?.trim();
        Some(value.trim_matches('"').to_string())
    })
}

/// Whether the script's first line is [`NO_TRANSACTION_MARKER`].
pub fn is_no_transaction(sql: &str) -> bool {
    let sql = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    sql.lines().next().map(str::trim_end) == Some(NO_TRANSACTION_MARKER)
}

/// The 1-based line number and text of the first line that looks like
/// [`NO_TRANSACTION_MARKER`] (a comment that reads `--nelo:no-transaction` once spaces are
/// removed and case ignored) but is not read as it: anywhere but the first line, or not
/// written exactly so.
pub fn misplaced_marker(sql: &str) -> Option<(usize, &str)> {
    let sql = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let looks_like_marker = |line: &str| {
        let squeezed: String = line
            .chars()
            .filter(|character| !character.is_whitespace())
            .collect();
        squeezed.eq_ignore_ascii_case("--nelo:no-transaction")
    };
    sql.lines()
        .enumerate()
        .filter(|(index, line)| !(*index == 0 && line.trim_end() == NO_TRANSACTION_MARKER))
        .find(|(_, line)| looks_like_marker(line))
        .map(|(index, line)| (index + 1, line.trim()))
}

/// Prisma's `migration_lock.toml` for PostgreSQL.
pub fn lock_file_text() -> &'static str {
    "# Please do not edit this file manually\n\
     # It should be added in your version-control system (e.g., Git)\n\
     provider = \"postgresql\"\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_a_lock_file_loads_as_in_prisma_and_another_provider_does_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("0_init")).unwrap();
        std::fs::write(dir.path().join("0_init").join(SQL_FILE), "SELECT 1;\n").unwrap();
        assert_eq!(load(dir.path()).unwrap().len(), 1);
        std::fs::write(dir.path().join(LOCK_FILE), "provider = \"mysql\"\n").unwrap();
        assert!(matches!(
            load(dir.path()),
            Err(Error::Provider { provider, .. }) if provider == "mysql"
        ));
    }

    #[test]
    fn a_marker_below_the_first_line_or_written_differently_is_found() {
        assert_eq!(
            misplaced_marker("-- nelo:no-transaction\nSELECT 1;\n"),
            None
        );
        assert_eq!(misplaced_marker("SELECT 1; -- nelo:no-transaction\n"), None);
        assert_eq!(
            misplaced_marker("-- add an index\n-- nelo:no-transaction\nSELECT 1;\n"),
            Some((2, "-- nelo:no-transaction"))
        );
        assert_eq!(
            misplaced_marker("-- NELO:No-Transaction\nSELECT 1;\n"),
            Some((1, "-- NELO:No-Transaction"))
        );
        assert_eq!(
            misplaced_marker("\u{feff}--nelo:no-transaction\n"),
            Some((1, "--nelo:no-transaction"))
        );
    }

    #[test]
    fn folder_names() {
        assert!(is_migration_folder_name("20250817000000_baseline"));
        assert!(is_migration_folder_name("20250817000000_add-user_table2"));
        assert!(is_migration_folder_name("20250817000000_"));
        assert!(!is_migration_folder_name("2025081700000_short"));
        assert!(!is_migration_folder_name("20250817000000-dash"));
        assert!(!is_migration_folder_name("20250817000000_with space"));
        assert!(!is_migration_folder_name("baseline"));
        assert!(!is_migration_folder_name("20250817000000_é"));
    }

    #[test]
    fn provider_parsing() {
        assert_eq!(
            lock_file_provider(lock_file_text()).as_deref(),
            Some("postgresql")
        );
        assert_eq!(
            lock_file_provider("provider=\"mysql\" # x").as_deref(),
            Some("mysql")
        );
        assert_eq!(lock_file_provider("# nothing"), None);
    }

    #[test]
    fn no_transaction_marker() {
        assert!(is_no_transaction(
            "-- nelo:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);"
        ));
        assert!(is_no_transaction("-- nelo:no-transaction  \r\nSELECT 1;"));
        assert!(is_no_transaction("\u{feff}-- nelo:no-transaction\n"));
        assert!(!is_no_transaction("SELECT 1;\n-- nelo:no-transaction\n"));
        assert!(!is_no_transaction("-- nelo:no-transactions\n"));
    }

    #[test]
    fn first_failing_entry_in_name_order_wins() {
        let dir = tempfile::tempdir().unwrap();
        let names = nelo_fixtures::generated_folder(dir.path(), 100).unwrap();
        let lock_file = dir.path().join(LOCK_FILE);
        std::fs::write(&lock_file, "provider = \"mysql\"\n").unwrap();
        match load(dir.path()) {
            Err(Error::Provider { path, provider }) => {
                assert_eq!(path, lock_file);
                assert_eq!(provider, "mysql");
            }
            other => panic!("{other:?}"),
        }
        // Folder 70 sorts before `migration_lock.toml`, so its error wins.
        std::fs::remove_file(dir.path().join(&names[70]).join(SQL_FILE)).unwrap();
        match load(dir.path()) {
            Err(Error::Layout { path, reason }) => {
                assert_eq!(path, dir.path().join(&names[70]));
                assert!(reason.contains("no `migration.sql`"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_directory_is_a_migration_in_byte_order_and_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        // Names from real Prisma projects, in the order Prisma applies them.
        let names = [
            "01_init",
            "0_init",
            "202310122339_new_column",
            "20240126184148_new_models copy",
            "20240606_add_index.sql",
            "20241231_add_flag",
            "Zeta",
            "zeta_lower",
        ];
        for name in names.iter().rev() {
            std::fs::create_dir(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join(SQL_FILE), format!("-- {name}\n")).unwrap();
        }
        for file in ["README.md", ".gitkeep", "notes.txt", "schema.sql"] {
            std::fs::write(dir.path().join(file), "not a migration").unwrap();
        }
        std::fs::create_dir(dir.path().join(".hidden")).unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), lock_file_text()).unwrap();
        let loaded = load(dir.path()).unwrap();
        let loaded_names = loaded.iter().map(|m| m.name.as_str()).collect::<Vec<_>>();
        let mut expected = names.to_vec();
        expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(loaded_names, expected);
        assert_eq!(loaded_names[0], "01_init", "byte order: '1' < '_'");
        let spaced = &loaded[3];
        assert_eq!(spaced.name, "20240126184148_new_models copy");
        assert_eq!(spaced.sql, "-- 20240126184148_new_models copy\n");
    }

    #[test]
    fn a_directory_without_migration_sql_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("0_init")).unwrap();
        std::fs::write(dir.path().join("0_init").join(SQL_FILE), "").unwrap();
        std::fs::create_dir(dir.path().join("1_draft")).unwrap();
        std::fs::write(dir.path().join("1_draft").join("up.sql"), "").unwrap();
        match load(dir.path()) {
            Err(error @ Error::Layout { .. }) => {
                let text = error.to_string();
                assert!(text.contains("1_draft"), "{text}");
                assert!(text.contains("no `migration.sql`"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }
}
