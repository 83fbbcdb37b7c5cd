//! The migrations-folder loader on folders built from the input in a temporary directory.
//!
//! The input describes entries (directories with or without `migration.sql`, plain files, a
//! `migration_lock.toml`) whose names come from arbitrary strings or bytes. A model of the
//! layout rules predicts the outcome, and the properties are, beyond "does not panic":
//! - on success: the migrations are every directory whose name does not start with `.`, in
//!   byte order of names, each name equal to its directory's, its `sql` the file's bytes and
//!   its checksum the SHA-256 of them;
//! - on failure: the error names an existing path, the one of the first entry (in name order)
//!   that breaks the layout.
#![no_main]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nelo_migrate::{Error, NO_TRANSACTION_MARKER, checksum, load};

#[derive(Arbitrary, Debug)]
struct Folder {
    entries: Vec<Entry>,
    lock_file: Option<String>,
}

#[derive(Arbitrary, Debug)]
enum Entry {
    Migration { name: Name, sql: Sql },
    File { name: Name, contents: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
enum Name {
    Text(String),
    Bytes(Vec<u8>),
    /// Directories named like the lock file or with a leading dot.
    Lock,
    Dot(String),
}

#[derive(Arbitrary, Debug)]
enum Sql {
    Text(String),
    Bytes(Vec<u8>),
    /// `-- nelo:no-transaction` then the text.
    NoTransaction(String),
    Missing,
    /// `migration.sql` is a directory.
    Directory,
}

/// One entry's name as a single path component: no `/` nor NUL, not empty, `.` or `..`, at
/// most 255 bytes (the file-system limit).
fn component(name: &Name) -> Option<Vec<u8>> {
    let mut bytes = match name {
        Name::Text(text) => text.as_bytes().to_vec(),
        Name::Bytes(bytes) => bytes.clone(),
        Name::Lock => b"migration_lock.toml".to_vec(),
        Name::Dot(text) => [b".", text.as_bytes()].concat(),
    };
    for byte in &mut bytes {
        if matches!(*byte, b'/' | 0) {
            *byte = b'_';
        }
    }
    bytes.truncate(255);
    (!bytes.is_empty() && bytes != b"." && bytes != b"..").then_some(bytes)
}

/// What the folder holds, by name (byte order), as written to disk.
enum Written {
    Migration(Option<Result<Vec<u8>, ()>>),
    File(Vec<u8>),
}

fuzz_target!(|folder: Folder| {
    let root = tempfile::tempdir().expect("temporary directory");
    let dir = root.path();
    let mut written = BTreeMap::new();
    for entry in &folder.entries {
        let (name, what) = match entry {
            Entry::Migration { name, sql } => {
                let contents = match sql {
                    Sql::Text(text) => Some(Ok(text.as_bytes().to_vec())),
                    Sql::Bytes(bytes) => Some(Ok(bytes.clone())),
                    Sql::NoTransaction(text) => {
                        Some(Ok(format!("{NO_TRANSACTION_MARKER}\n{text}").into_bytes()))
                    }
                    Sql::Missing => None,
                    Sql::Directory => Some(Err(())),
                };
                (name, Written::Migration(contents))
            }
            Entry::File { name, contents } => (name, Written::File(contents.clone())),
        };
        if let Some(name) = component(name) {
            written.entry(name).or_insert(what);
        }
    }
    if let Some(text) = &folder.lock_file {
        written
            .entry(b"migration_lock.toml".to_vec())
            .or_insert(Written::File(text.as_bytes().to_vec()));
    }
    for (name, what) in &written {
        let path = dir.join(OsStr::from_bytes(name));
        match what {
            Written::Migration(contents) => {
                std::fs::create_dir(&path).expect("create directory");
                let sql_path = path.join("migration.sql");
                match contents {
                    Some(Ok(bytes)) => std::fs::write(&sql_path, bytes).expect("write sql"),
                    Some(Err(())) => std::fs::create_dir(&sql_path).expect("create directory"),
                    None => {}
                }
            }
            Written::File(contents) => std::fs::write(&path, contents).expect("write file"),
        }
    }

    let expected = expected_outcome(dir, &written);
    match (load(dir), expected) {
        (Ok(migrations), Ok(expected_names)) => {
            let names = migrations
                .iter()
                .map(|m| m.name.clone())
                .collect::<Vec<_>>();
            assert_eq!(names, expected_names);
            for migration in &migrations {
                assert_eq!(
                    migration.path,
                    dir.join(&migration.name).join("migration.sql")
                );
                let bytes = std::fs::read(&migration.path).expect("read back");
                assert_eq!(migration.sql.as_bytes(), bytes);
                assert_eq!(migration.checksum, checksum(&bytes));
            }
        }
        (Err(error), Err(expected_path)) => {
            let path = error_path(&error);
            assert!(path.exists(), "{error} names a path that does not exist");
            assert_eq!(path, expected_path, "{error}");
        }
        (actual, expected) => panic!("loaded {actual:?}, expected {expected:?}"),
    }
});

/// The layout rules: the names of the migrations, or the path of the first entry in name order
/// that breaks the layout.
fn expected_outcome(
    dir: &Path,
    written: &BTreeMap<Vec<u8>, Written>,
) -> Result<Vec<String>, PathBuf> {
    let mut names = Vec::new();
    for (name, what) in written {
        if name.starts_with(b".") {
            continue;
        }
        let path = dir.join(OsStr::from_bytes(name));
        match what {
            Written::File(contents) if name == b"migration_lock.toml" => {
                let text = std::str::from_utf8(contents).map_err(|_| path.clone())?;
                match nelo_migrate_provider(text).as_deref() {
                    Some("postgresql" | "postgres") => {}
                    _ => return Err(path),
                }
            }
            Written::File(_) => {}
            Written::Migration(contents) => {
                let Ok(text_name) = std::str::from_utf8(name) else {
                    return Err(path);
                };
                match contents {
                    None => return Err(path),
                    Some(Err(())) => return Err(path.join("migration.sql")),
                    Some(Ok(bytes)) if std::str::from_utf8(bytes).is_err() => {
                        return Err(path.join("migration.sql"));
                    }
                    Some(Ok(_)) => names.push(text_name.to_string()),
                }
            }
        }
    }
    Ok(names)
}

/// `provider = "..."` of a lock file, as the loader reads it: the first line that starts with
/// `provider`, then `=`, the value up to a `#`, without its quotes.
fn nelo_migrate_provider(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line
            .trim()
            .strip_prefix("provider")?
            .trim_start()
            .strip_prefix('=')?;
        Some(
            value
                .split('#')
                .next()?
                .trim()
                .trim_matches('"')
                .to_string(),
        )
    })
}

fn error_path(error: &Error) -> &Path {
    match error {
        Error::Layout { path, .. }
        | Error::Io { path, .. }
        | Error::Provider { path, .. }
        | Error::MisplacedMarker { path, .. } => path,
        other => panic!("unexpected error from `load`: {other:?}"),
    }
}
