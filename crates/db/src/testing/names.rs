//! The names of test databases, and which of them a run may remove.
//!
//! The names of templates are [`nelo_migrate::template`]'s.
//!
//! A test database is named `nelo_test_<created, unix seconds>_<host tag>_<pid>_<sequence>`.
//! The host tag identifies this boot of this machine and this pid namespace, so that a later
//! run on the same host can tell a database whose creator died (a leftover, dropped) from one
//! whose creator still runs (left alone). Databases of other hosts are dropped only when older
//! than [`LEFTOVER_AGE`].

use std::time::Duration;

use sha2::{Digest, Sha256};

pub const TEST_DATABASE_PREFIX: &str = "nelo_test_";

/// A test database of another host (or of an unknown creator) older than this is a leftover.
pub const LEFTOVER_AGE: Duration = Duration::from_secs(2 * 60 * 60);

/// The tag of this boot, machine and pid namespace; `None` where `/proc` cannot tell.
pub fn host_tag(boot_id: Option<&str>, pid_namespace: Option<&str>) -> Option<String> {
    let (boot_id, pid_namespace) = (boot_id?.trim(), pid_namespace?.trim());
    let digest = Sha256::new()
        .chain_update(boot_id)
        .chain_update("\n")
        .chain_update(pid_namespace)
        .finalize();
    Some(hex::encode(&digest[..4]))
}

/// The tag written into names when the host cannot be identified: never matches a live host.
const UNKNOWN_HOST: &str = "unknown";

pub fn test_database_name(
    created_unix_secs: u64,
    host: Option<&str>,
    pid: u32,
    sequence: u32,
) -> String {
    let host = host.unwrap_or(UNKNOWN_HOST);
    format!("{TEST_DATABASE_PREFIX}{created_unix_secs}_{host}_{pid}_{sequence}")
}

/// The parts of a name made by [`test_database_name`].
#[derive(Debug, PartialEq, Eq)]
pub struct TestDatabaseName<'a> {
    pub created_unix_secs: u64,
    pub host: &'a str,
    pub pid: u32,
}

pub fn parse_test_database_name(name: &str) -> Option<TestDatabaseName<'_>> {
    let mut parts = name.strip_prefix(TEST_DATABASE_PREFIX)?.split('_');
    let created_unix_secs = parts.next()?.parse().ok()?;
    let host = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    parts.next()?.parse::<u32>().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(TestDatabaseName {
        created_unix_secs,
        host,
        pid,
    })
}

/// Whether the test database `name` is a leftover that this run should drop: its creator ran
/// on this host and is gone, or it is older than [`LEFTOVER_AGE`]. Names this crate did not
/// make are never leftovers.
pub fn is_leftover(
    name: &str,
    now_unix_secs: u64,
    this_host: Option<&str>,
    process_alive: impl Fn(u32) -> bool,
) -> bool {
    let Some(parsed) = parse_test_database_name(name) else {
        return false;
    };
    if this_host.is_some_and(|host| host == parsed.host) {
        return !process_alive(parsed.pid);
    }
    now_unix_secs.saturating_sub(parsed.created_unix_secs) > LEFTOVER_AGE.as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_790_000_000;

    #[test]
    fn host_tag_needs_both_parts() {
        let tag = host_tag(Some("3f1c\n"), Some("pid:[4026531836]")).unwrap();
        assert_eq!(tag.len(), 8);
        assert_eq!(Some(tag), host_tag(Some("3f1c"), Some("pid:[4026531836]")));
        assert_ne!(
            host_tag(Some("3f1c"), Some("pid:[1]")),
            host_tag(Some("3f1c"), Some("pid:[2]"))
        );
        assert_eq!(host_tag(None, Some("pid:[1]")), None);
    }

    #[test]
    fn names_round_trip_and_fit_postgres() {
        let name = test_database_name(NOW, Some("0a1b2c3d"), 4_194_304, 4_000_000_000);
        assert!(name.len() <= 63, "{name} is longer than NAMEDATALEN");
        assert_eq!(
            parse_test_database_name(&name),
            Some(TestDatabaseName {
                created_unix_secs: NOW,
                host: "0a1b2c3d",
                pid: 4_194_304
            })
        );
        assert_eq!(parse_test_database_name("nelo_test_x_0a1b2c3d_1_1"), None);
        assert_eq!(parse_test_database_name("nelo_test_1_0a1b2c3d_1_1_1"), None);
        assert_eq!(parse_test_database_name("nelo"), None);
    }

    #[test]
    fn a_database_of_a_dead_process_on_this_host_is_a_leftover() {
        let name = test_database_name(NOW, Some("0a1b2c3d"), 42, 0);
        assert!(is_leftover(&name, NOW, Some("0a1b2c3d"), |_| false));
        assert!(!is_leftover(&name, NOW, Some("0a1b2c3d"), |pid| pid == 42));
    }

    #[test]
    fn a_database_of_another_host_is_a_leftover_only_when_old() {
        let name = test_database_name(NOW, Some("0a1b2c3d"), 42, 0);
        let later = NOW + LEFTOVER_AGE.as_secs();
        assert!(!is_leftover(&name, later, Some("ffffffff"), |_| false));
        assert!(is_leftover(&name, later + 1, Some("ffffffff"), |_| true));
        let unknown = test_database_name(NOW, None, 42, 0);
        assert!(!is_leftover(&unknown, NOW, None, |_| false));
        assert!(is_leftover(&unknown, later + 1, None, |_| true));
    }

    #[test]
    fn other_databases_are_never_leftovers() {
        for name in ["nelo", "nelo_test", "postgres", "nelo_tpl_0123456789abcdef"] {
            assert!(
                !is_leftover(name, u64::MAX, Some("0a1b2c3d"), |_| false),
                "{name}"
            );
        }
    }
}
