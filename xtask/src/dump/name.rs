//! Backup file names: `<db>-<YYYYMMDDTHHMMSSZ>-<reason>.<dump|sql>`, their `.partial`
//! temporaries, their `.sha256` companions, and which ones to prune.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::programs::Format;

const TIMESTAMP_FORMAT: &str = "%Y%m%dT%H%M%SZ";
const TIMESTAMP_LEN: usize = 16;
const PARTIAL_SUFFIX: &str = ".partial";
pub const CHECKSUM_SUFFIX: &str = ".sha256";

/// What a backup's file name says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupName {
    pub database: String,
    pub taken_at: DateTime<Utc>,
    pub reason: String,
    pub format: Format,
}

/// `nelo-20261124T101500Z-manual.dump`.
pub fn backup_file_name(
    database: &str,
    taken_at: DateTime<Utc>,
    reason: &str,
    format: Format,
) -> String {
    format!(
        "{database}-{}-{reason}.{}",
        taken_at.format(TIMESTAMP_FORMAT),
        format.extension()
    )
}

/// Parses a name made by [`backup_file_name`]; `None` for anything else (dotfiles, checksums,
/// files of other tools).
pub fn parse_backup_file_name(file_name: &str) -> Option<BackupName> {
    if file_name.starts_with('.') {
        return None;
    }
    let (stem, format) = [Format::Custom, Format::Plain]
        .into_iter()
        .find_map(|format| {
            file_name
                .strip_suffix(format.extension())
                .and_then(|rest| rest.strip_suffix('.'))
                .map(|stem| (stem, format))
        })?;
    // The reason may hold dashes (`pre-deploy`) and so may the database: take the rightmost
    // `-<timestamp>-` with a non-empty database before it and a reason after it.
    let bytes = stem.as_bytes();
    (1..stem.len().saturating_sub(TIMESTAMP_LEN + 1))
        .rev()
        .find_map(|start| {
            if bytes[start - 1] != b'-' || bytes.get(start + TIMESTAMP_LEN) != Some(&b'-') {
                return None;
            }
            let timestamp = stem.get(start..start + TIMESTAMP_LEN)?;
            let taken_at = NaiveDateTime::parse_from_str(timestamp, TIMESTAMP_FORMAT)
                .ok()?
                .and_utc();
            let database = &stem[..start - 1];
            let reason = &stem[start + TIMESTAMP_LEN + 1..];
            (!database.is_empty() && !reason.is_empty()).then(|| BackupName {
                database: database.to_string(),
                taken_at,
                reason: reason.to_string(),
                format,
            })
        })
}

/// `name` for the first attempt, then `-2`, `-3`... before its extension:
/// `nelo-20261124T101500Z-manual-2.dump`.
pub fn numbered_file_name(name: &str, attempt: u32) -> String {
    if attempt <= 1 {
        return name.to_string();
    }
    match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => format!("{stem}-{attempt}.{extension}"),
        _ => format!("{name}-{attempt}"),
    }
}

/// The temporary a dump is written to before it is renamed into place: a dotfile (listings
/// skip it) that names the writing process, so that a sweep leaves live dumps alone.
pub fn partial_file_name(final_name: &str, pid: u32) -> String {
    format!(".{final_name}.{pid}{PARTIAL_SUFFIX}")
}

/// The writer's process id of a temporary made by [`partial_file_name`].
pub fn parse_partial_file_name(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?.strip_suffix(PARTIAL_SUFFIX)?;
    let (_, pid) = rest.rsplit_once('.')?;
    pid.parse().ok()
}

/// `sha256sum`'s format, so that `sha256sum -c nelo-...dump.sha256` checks the file.
pub fn checksum_line(hex_digest: &str, file_name: &str) -> String {
    format!("{hex_digest}  {file_name}\n")
}

/// The hex digest of a `sha256sum` line (text mode `  ` or binary mode ` *`).
pub fn parse_checksum_line(text: &str) -> Option<String> {
    let digest = text.split_whitespace().next()?;
    (digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| digest.to_ascii_lowercase())
}

/// The database a restore creates when no `--into` is given: `nelo_restored_20261124t101500z`
/// from the backup's time (or `now` for a file whose name says nothing), a valid lowercase
/// identifier of at most 63 bytes.
pub fn restored_database_name(file_name: &str, now: DateTime<Utc>) -> String {
    let taken_at = parse_backup_file_name(file_name).map_or(now, |name| name.taken_at);
    format!("nelo_restored_{}", taken_at.format(TIMESTAMP_FORMAT)).to_ascii_lowercase()
}

/// The backups to delete so that each database keeps its `keep` newest.
pub fn prune_plan(backups: &[(String, BackupName)], keep: usize) -> Vec<&str> {
    let mut by_database: HashMap<&str, Vec<&(String, BackupName)>> = HashMap::new();
    for backup in backups {
        by_database
            .entry(backup.1.database.as_str())
            .or_default()
            .push(backup);
    }
    let mut doomed: Vec<&str> = by_database
        .into_values()
        .flat_map(|mut group| {
            group.sort_by(|a, b| b.1.taken_at.cmp(&a.1.taken_at).then_with(|| b.0.cmp(&a.0)));
            group
                .into_iter()
                .skip(keep)
                .map(|(file_name, _)| file_name.as_str())
        })
        .collect();
    doomed.sort_unstable();
    doomed
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, hour, minute, 0).unwrap()
    }

    #[test]
    fn names_round_trip_with_dashes_in_reason_and_database() {
        let name = backup_file_name("nelo-app", at(10, 15), "pre-deploy", Format::Custom);
        assert_eq!(name, "nelo-app-20261124T101500Z-pre-deploy.dump");
        let parsed = parse_backup_file_name(&name).unwrap();
        assert_eq!(parsed.database, "nelo-app");
        assert_eq!(parsed.taken_at, at(10, 15));
        assert_eq!(parsed.reason, "pre-deploy");
        assert_eq!(parsed.format, Format::Custom);
        let plain = parse_backup_file_name("nelo-20261124T101500Z-manual.sql").unwrap();
        assert_eq!(
            (plain.database.as_str(), plain.format),
            ("nelo", Format::Plain)
        );
    }

    #[test]
    fn other_files_are_not_backups() {
        for name in [
            "nelo-20261124T101500Z-manual.dump.sha256",
            ".nelo-20261124T101500Z-manual.dump.42.partial",
            "nelo-20261124T101500Z-.dump",
            "-20261124T101500Z-manual.dump",
            "nelo-20261324T101500Z-manual.dump",
            "nelo-manual.dump",
            "backup.sql",
            "notes.txt",
        ] {
            assert_eq!(parse_backup_file_name(name), None, "{name}");
        }
    }

    #[test]
    fn numbered_names_keep_their_extension_and_parse_as_backups() {
        let name = "nelo-20261124T101500Z-manual.dump";
        assert_eq!(numbered_file_name(name, 1), name);
        let second = numbered_file_name(name, 2);
        assert_eq!(second, "nelo-20261124T101500Z-manual-2.dump");
        let parsed = parse_backup_file_name(&second).unwrap();
        assert_eq!(
            (parsed.database.as_str(), parsed.reason.as_str()),
            ("nelo", "manual-2")
        );
        assert_eq!(numbered_file_name("dump", 3), "dump-3");
    }

    #[test]
    fn partial_names_are_dotfiles_naming_their_writer() {
        let name = partial_file_name("nelo-20261124T101500Z-manual.dump", 4242);
        assert_eq!(name, ".nelo-20261124T101500Z-manual.dump.4242.partial");
        assert_eq!(parse_partial_file_name(&name), Some(4242));
        assert_eq!(parse_partial_file_name("nelo.dump"), None);
        assert_eq!(parse_partial_file_name(".x.partial"), None);
    }

    #[test]
    fn checksum_lines_use_sha256sum_format() {
        let digest = "a".repeat(64);
        let line = checksum_line(&digest, "nelo.dump");
        assert_eq!(line, format!("{digest}  nelo.dump\n"));
        assert_eq!(parse_checksum_line(&line), Some(digest.clone()));
        assert_eq!(
            parse_checksum_line(&format!("{} *x", "B".repeat(64))),
            Some("b".repeat(64))
        );
        assert_eq!(parse_checksum_line("nothex  x"), None);
        assert_eq!(parse_checksum_line(""), None);
    }

    #[test]
    fn restored_names_are_lowercase_identifiers() {
        let name = restored_database_name("nelo-20261124T101500Z-manual.dump", at(0, 0));
        assert_eq!(name, "nelo_restored_20261124t101500z");
        assert_eq!(
            restored_database_name("My Backup.sql", at(9, 30)),
            "nelo_restored_20261124t093000z"
        );
        assert!(name.len() <= 63);
    }

    #[test]
    fn prune_keeps_the_newest_per_database() {
        let backup = |database: &str, time: DateTime<Utc>| {
            let name = backup_file_name(database, time, "manual", Format::Custom);
            let parsed = parse_backup_file_name(&name).unwrap();
            (name, parsed)
        };
        let backups = vec![
            backup("nelo", at(1, 0)),
            backup("nelo", at(3, 0)),
            backup("nelo", at(2, 0)),
            backup("nelo_test", at(1, 0)),
        ];
        assert_eq!(
            prune_plan(&backups, 2),
            vec!["nelo-20261124T010000Z-manual.dump"]
        );
        assert_eq!(prune_plan(&backups, 1).len(), 2);
        assert!(prune_plan(&backups, 0).len() == 4);
        assert!(prune_plan(&backups, 5).is_empty());
    }
}
