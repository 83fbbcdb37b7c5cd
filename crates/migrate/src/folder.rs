//! The migrations folder in Prisma Migrate's layout:
//! `<dir>/<14-digit timestamp>_<name>/migration.sql` plus `<dir>/migration_lock.toml`.

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
    /// The folder name, e.g. `20250817000000_baseline`; the key in `_prisma_migrations`.
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

/// A parsed migrations folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationsDir {
    pub path: PathBuf,
    /// Ordered by name, which orders them by timestamp.
    pub migrations: Vec<Migration>,
}

impl MigrationsDir {
    /// Reads `dir`. Every entry must fit the layout (dotfiles excepted), or the error names it.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let path = dir.as_ref().to_path_buf();
        let migrations = load(&path)?;
        Ok(Self { path, migrations })
    }
}

/// Reads the migrations in `dir`, ordered by name.
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
    let migrations = load_migrations(listing.folders)?;
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

/// Checks one entry of the folder against the layout: a migration folder to read, or `None`
/// for a dotfile or a valid lock file.
fn check_entry(entry: &std::fs::DirEntry) -> Result<Option<MigrationFolder>, Error> {
    let file_name = entry.file_name().to_string_lossy().into_owned();
    if file_name.starts_with('.') {
        return Ok(None);
    }
    let entry_path = entry.path();
    let is_dir = is_dir(entry);
    if file_name == LOCK_FILE && !is_dir {
        check_lock_file(&entry_path)?;
        Ok(None)
    } else if !is_dir {
        Err(layout_error(
            &entry_path,
            "only migration folders and `migration_lock.toml` belong here",
        ))
    } else if !is_migration_folder_name(&file_name) {
        Err(layout_error(
            &entry_path,
            "a migration folder is named `<14-digit UTC timestamp>_<name>` with a name of letters, digits, `_` or `-`, e.g. `20250817000000_baseline`",
        ))
    } else {
        Ok(Some(MigrationFolder {
            path: entry_path,
            name: file_name,
        }))
    }
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

/// Whether `name` is a migration folder name: 14 digits, then `_` and a name of
/// ASCII letters, digits, `_` and `-` (Prisma's own names fit), at most 255 bytes.
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
        let misplaced = dir.path().join("notes.txt");
        std::fs::write(&misplaced, "").unwrap();
        let layout_error_path = |result: Result<Vec<Migration>, Error>| match result {
            Err(Error::Layout { path, .. }) => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(layout_error_path(load(dir.path())), misplaced);
        std::fs::remove_file(dir.path().join(&names[70]).join(SQL_FILE)).unwrap();
        assert_eq!(
            layout_error_path(load(dir.path())),
            dir.path().join(&names[70])
        );
    }
}
