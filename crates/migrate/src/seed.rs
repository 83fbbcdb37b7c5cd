//! `seed`: run the configured seed command, as Prisma does.

use std::process::{Command, Stdio};

use crate::Error;

/// What the seed command wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOutput {
    pub stdout: String,
    pub stderr: String,
}

/// The seed command: the explicit one, else `NELO_SEED_COMMAND`-style configuration
/// passed in by the caller; a blank command counts as none.
pub fn configured_command(command: Option<&str>) -> Result<&str, Error> {
    command
        .map(str::trim)
        .filter(|command| !command.is_empty())
        .ok_or(Error::SeedNotConfigured)
}

/// Runs `command` through `sh -c` with `DATABASE_URL` set to `database_url`.
/// A non-zero exit is an error carrying the command's stderr.
pub fn run_command(command: &str, database_url: &str) -> Result<SeedOutput, Error> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::SeedSpawn {
            command: command.to_string(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.status.success() {
        Ok(SeedOutput { stdout, stderr })
    } else {
        Err(Error::SeedFailed {
            command: command.to_string(),
            status: output.status.to_string(),
            stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_database_url_and_captures_output() {
        let output = run_command("printf '%s' \"$DATABASE_URL\"", "postgresql://x@h/db").unwrap();
        assert_eq!(output.stdout, "postgresql://x@h/db");
    }

    #[test]
    fn non_zero_exit_is_an_error_with_stderr() {
        match run_command("echo broken >&2; exit 3", "postgresql://x@h/db") {
            Err(Error::SeedFailed { status, stderr, .. }) => {
                assert!(status.contains('3'), "{status}");
                assert_eq!(stderr.trim(), "broken");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn blank_command_is_not_configured() {
        assert!(matches!(
            configured_command(Some("  ")),
            Err(Error::SeedNotConfigured)
        ));
        assert!(matches!(
            configured_command(None),
            Err(Error::SeedNotConfigured)
        ));
        assert_eq!(configured_command(Some("cargo run")).unwrap(), "cargo run");
    }
}
