//! The client programs' argv (`pg_dump`, and `pg_restore`/`psql` for restores), pg_dump's
//! compression and where it runs, and how to tell dump formats apart.

/// The first bytes of a custom-format archive.
pub const CUSTOM_MAGIC: &[u8] = b"PGDMP";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// pg_dump's custom archive (`-Fc`), restored with pg_restore.
    Custom,
    /// A plain SQL script, restored with psql.
    Plain,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Custom => "dump",
            Format::Plain => "sql",
        }
    }

    /// Custom archives start with `PGDMP`; anything else that reads as text is taken for SQL.
    pub fn detect(head: &[u8]) -> Option<Format> {
        if head.starts_with(CUSTOM_MAGIC) {
            Some(Format::Custom)
        } else if !head.is_empty() && reads_as_text(head) {
            Some(Format::Plain)
        } else {
            None
        }
    }
}

/// UTF-8 without NUL bytes; a character cut at the end of the sample is fine.
fn reads_as_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => head.len(),
        Err(error) if error.error_len().is_none() => error.valid_up_to(),
        Err(_) => return false,
    };
    !head[..valid].contains(&0)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compression {
    /// `-Z zstd:<level>` (pg_dump 16 and later, built with zstd).
    Zstd(u8),
    /// pg_dump's default for the format (gzip for custom, none for plain).
    Default,
    /// A specification given by the user (`gzip:6`, `lz4`, `none`...), passed as it is.
    Given(String),
}

impl Compression {
    /// `--compress default` means pg_dump's own default; anything else is passed to pg_dump.
    pub fn from_flag(flag: &str) -> Compression {
        match flag {
            "default" => Compression::Default,
            spec => Compression::Given(spec.to_string()),
        }
    }
}

/// zstd at level 1 when pg_dump is 16 or later (it compresses about as well as gzip and
/// several times faster); pg_dump's default before.
pub fn compression_for(pg_dump_major: u32, format: Format) -> Compression {
    match format {
        Format::Custom if pg_dump_major >= 16 => Compression::Zstd(1),
        _ => Compression::Default,
    }
}

/// Whether pg_dump refused the compression it was given (an older version or a build
/// without zstd), so that the dump is worth retrying with the default.
pub fn is_unsupported_compression(stderr: &str) -> bool {
    let stderr = stderr.to_ascii_lowercase();
    stderr.contains("compression")
        && (stderr.contains("not support")
            || stderr.contains("unrecognized")
            || stderr.contains("invalid compression"))
}

/// The argv of `pg_dump` writing `database` to stdout; with `snapshot`, as of that exported
/// snapshot (`pg_export_snapshot()` in a transaction that stays open meanwhile).
pub fn pg_dump_argv(
    user: &str,
    database: &str,
    format: Format,
    compression: &Compression,
    snapshot: Option<&str>,
) -> Vec<String> {
    let mut argv = vec![
        "pg_dump".to_string(),
        "--username".to_string(),
        user.to_string(),
    ];
    argv.push(match format {
        Format::Custom => "--format=custom".to_string(),
        Format::Plain => "--format=plain".to_string(),
    });
    match compression {
        Compression::Zstd(level) => argv.push(format!("--compress=zstd:{level}")),
        Compression::Given(spec) => argv.push(format!("--compress={spec}")),
        Compression::Default => {}
    }
    if let Some(snapshot) = snapshot {
        argv.push(format!("--snapshot={snapshot}"));
    }
    argv.push("--dbname".to_string());
    argv.push(database.to_string());
    argv
}

/// The argv of `pg_restore` restoring the archive on its stdin into the existing `database`
/// as `user`, stopping at the first error; with the archive's owners, or (`keep_owners:
/// false`) everything owned by `user`.
pub fn pg_restore_argv(user: &str, database: &str, keep_owners: bool) -> Vec<String> {
    let mut argv = vec!["pg_restore", "--exit-on-error"];
    if !keep_owners {
        argv.push("--no-owner");
    }
    argv.extend(["--username", user, "--dbname", database]);
    argv.into_iter().map(String::from).collect()
}

/// The argv of `pg_restore` reading only the table of contents of the archive on its stdin.
pub fn pg_restore_list_argv() -> Vec<String> {
    ["pg_restore", "--list"].map(String::from).to_vec()
}

/// The argv of `pg_restore` turning the archive on its stdin into an SQL script on its stdout.
pub fn pg_restore_script_argv() -> Vec<String> {
    ["pg_restore", "--file=-"].map(String::from).to_vec()
}

/// The argv of `psql` running the script on its stdin in `database` as `user`, without
/// `~/.psqlrc`, stopping at the first error.
pub fn psql_script_argv(user: &str, database: &str) -> Vec<String> {
    [
        "psql",
        "--no-psqlrc",
        "--quiet",
        "--set",
        "ON_ERROR_STOP=1",
        "--username",
        user,
        "--dbname",
        database,
        "--file",
        "-",
    ]
    .map(String::from)
    .to_vec()
}

/// Where pg_dump runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dumper {
    /// The host's `pg_dump`, over TCP.
    Host,
    /// The container's `pg_dump`, through a Docker exec, over the local socket.
    Exec,
}

/// The host's pg_dump only when it can read the server (its major version is at least the
/// server's); the container's always can.
pub fn choose_dumper(host_pg_dump_major: Option<u32>, server_major: u32) -> Dumper {
    match host_pg_dump_major {
        Some(host) if host >= server_major => Dumper::Host,
        _ => Dumper::Exec,
    }
}

/// The major version in `pg_dump (PostgreSQL) 17.12 (Debian ...)` or `psql (PostgreSQL) 9.6.24`.
pub fn parse_major_version(version_output: &str) -> Option<u32> {
    let version = version_output
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next()?.parse().ok()?;
    // Before 10 the major version had two parts (9.6).
    if major < 10 {
        let minor: u32 = parts.next()?.parse().ok()?;
        return Some(major * 100 + minor);
    }
    Some(major)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_dumps_use_zstd_level_1_from_pg_dump_16() {
        assert_eq!(compression_for(17, Format::Custom), Compression::Zstd(1));
        assert_eq!(compression_for(16, Format::Custom), Compression::Zstd(1));
        assert_eq!(compression_for(15, Format::Custom), Compression::Default);
        assert_eq!(compression_for(17, Format::Plain), Compression::Default);
    }

    #[test]
    fn argv_names_user_format_compression_and_database() {
        let argv = pg_dump_argv(
            "nelo",
            "nelo_test",
            Format::Custom,
            &Compression::Zstd(1),
            None,
        );
        assert_eq!(
            argv,
            [
                "pg_dump",
                "--username",
                "nelo",
                "--format=custom",
                "--compress=zstd:1",
                "--dbname",
                "nelo_test"
            ]
        );
        let plain = pg_dump_argv("nelo", "nelo", Format::Plain, &Compression::Default, None);
        assert!(plain.contains(&"--format=plain".to_string()));
        assert!(!plain.iter().any(|arg| arg.starts_with("--compress")));
        assert!(!plain.iter().any(|arg| arg.starts_with("--snapshot")));
        let given = pg_dump_argv(
            "nelo",
            "nelo",
            Format::Custom,
            &Compression::from_flag("gzip:6"),
            Some("00000003-0000001B-1"),
        );
        assert!(given.contains(&"--compress=gzip:6".to_string()));
        assert!(given.contains(&"--snapshot=00000003-0000001B-1".to_string()));
        assert_eq!(given.last().unwrap(), "nelo");
        assert_eq!(Compression::from_flag("default"), Compression::Default);
    }

    #[test]
    fn restore_argv_reads_stdin_into_the_named_database_and_stops_at_the_first_error() {
        assert_eq!(
            pg_restore_argv("nelo", "nelo_restore_x", false).join(" "),
            "pg_restore --exit-on-error --no-owner --username nelo --dbname nelo_restore_x"
        );
        assert_eq!(
            pg_restore_argv("nelo", "scratch", true).join(" "),
            "pg_restore --exit-on-error --username nelo --dbname scratch"
        );
        assert_eq!(pg_restore_list_argv().join(" "), "pg_restore --list");
        assert_eq!(pg_restore_script_argv().join(" "), "pg_restore --file=-");
        assert_eq!(
            psql_script_argv("nelo", "scratch").join(" "),
            "psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --username nelo --dbname scratch \
             --file -"
        );
    }

    #[test]
    fn refused_compression_is_recognised() {
        assert!(is_unsupported_compression(
            "pg_dump: error: this build does not support compression with zstd"
        ));
        assert!(is_unsupported_compression(
            "pg_dump: error: invalid compression specification: unrecognized compression algorithm: \"zstd\""
        ));
        assert!(is_unsupported_compression(
            "pg_dump: error: compression level must be in range 0..9"
                .replace("must be in range", "not supported")
                .as_str()
        ));
        assert!(!is_unsupported_compression(
            "pg_dump: error: connection to server failed: FATAL: database \"x\" does not exist"
        ));
    }

    #[test]
    fn host_pg_dump_is_used_only_when_not_older_than_the_server() {
        assert_eq!(choose_dumper(Some(15), 17), Dumper::Exec);
        assert_eq!(choose_dumper(Some(17), 17), Dumper::Host);
        assert_eq!(choose_dumper(Some(18), 17), Dumper::Host);
        assert_eq!(choose_dumper(None, 17), Dumper::Exec);
    }

    #[test]
    fn versions_are_parsed_from_tool_output() {
        assert_eq!(
            parse_major_version("pg_dump (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)"),
            Some(17)
        );
        assert_eq!(parse_major_version("pg_dump (PostgreSQL) 15.18"), Some(15));
        assert_eq!(
            parse_major_version("pg_dump (PostgreSQL) 9.6.24"),
            Some(906)
        );
        assert_eq!(parse_major_version("17devel"), Some(17));
        assert_eq!(parse_major_version("nothing here"), None);
    }

    #[test]
    fn formats_are_detected_from_magic() {
        assert_eq!(Format::detect(b"PGDMP\x01\x0e\x00"), Some(Format::Custom));
        assert_eq!(
            Format::detect(b"--\n-- PostgreSQL database dump\n"),
            Some(Format::Plain)
        );
        assert_eq!(Format::detect(b"\x1f\x8b\x08\x00"), None);
        assert_eq!(Format::detect(b""), None);
    }
}
