//! `.env` files, which the binaries load before they read their arguments. A missing file
//! is fine; one that exists but does not parse is an error naming its line, and nothing of
//! it is loaded (dotenvy on its own stops at the bad line, silently when its error is
//! ignored, and its error quotes the line, which may hold a password).

use std::path::{Path, PathBuf};

/// An `.env` file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvFileError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "`{}` line {line} does not parse, so none of the file was used: look for an unclosed \
         quote, a space in an unquoted value, or a backslash before anything but `\\`, `'`, \
         `\"`, `$`, space or `n` (`.env.example` says how values are quoted)",
        path.display()
    )]
    Parse { path: PathBuf, line: usize },
}

/// `.env` in `dir` or the nearest folder above it, as dotenvy's `dotenv()` looks for it.
pub fn find(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|folder| folder.join(".env"))
        .find(|path| path.is_file())
}

/// Loads `path` into the environment when it exists; variables already set win. Returns
/// whether there was a file.
pub fn load(path: &Path) -> Result<bool, EnvFileError> {
    let read_error = |source| EnvFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let contents = match std::fs::read_to_string(path) {
        Ok(contents) => contents,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(read_error(error)),
    };
    if let Some(line) = first_bad_line(&contents) {
        return Err(EnvFileError::Parse {
            path: path.to_path_buf(),
            line,
        });
    }
    dotenvy::from_read(contents.as_bytes()).map_err(|error| {
        read_error(std::io::Error::other(format!(
            "loading failed after parsing succeeded: {}",
            nelo_migrate::redact_text(&error.to_string())
        )))
    })?;
    Ok(true)
}

/// The 1-based line where the entry that does not parse starts, or `None` when all of
/// `contents` parses: the line after the longest run of leading lines that parses on its
/// own (a quoted value may span lines, so a prefix can fail where the whole file does not).
pub fn first_bad_line(contents: &str) -> Option<usize> {
    let parses = |text: &str| {
        dotenvy::from_read_iter(text.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .is_ok()
    };
    if parses(contents) {
        return None;
    }
    let line_ends: Vec<usize> = contents
        .match_indices('\n')
        .map(|(index, _)| index + 1)
        .chain(std::iter::once(contents.len()))
        .collect();
    let parsing_lines = line_ends
        .iter()
        .rposition(|&end| parses(&contents[..end]))
        .map_or(0, |index| index + 1);
    Some(parsing_lines + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_parses_has_no_bad_line() {
        assert_eq!(first_bad_line(""), None);
        assert_eq!(
            first_bad_line("A=1\n# comment\nB='x y'\nC=\"multi\nline\"\n"),
            None
        );
    }

    #[test]
    fn an_unclosed_quote_is_its_own_line_not_the_end_of_the_file() {
        assert_eq!(
            first_bad_line("NELO_LOCK_TIMEOUT=\"10\nA=1\nB=2\n"),
            Some(1)
        );
        assert_eq!(first_bad_line("A=1\nB='x\nC=3"), Some(2));
    }

    #[test]
    fn a_bad_line_after_a_multi_line_value_is_found() {
        let contents = "A=\"one\ntwo\"\nB=1\nC=a b\nD=2\n";
        assert_eq!(first_bad_line(contents), Some(4));
    }

    /// What `.env.example` says about `$`, `#` and quotes, checked against dotenvy.
    #[test]
    fn quoting_rules_documented_in_env_example() {
        let value = |line: &str| {
            let mut entries = dotenvy::from_read_iter(line.as_bytes());
            entries.next().unwrap().unwrap().1
        };
        assert_eq!(value("A='p$w#d\\x \"'"), "p$w#d\\x \"");
        assert_eq!(first_bad_line("A='ends\\'"), Some(1));
        assert_eq!(value("A=\"p$NELO9UNSET#d\""), "p#d");
        assert_eq!(value("A=\"p\\$w#d\""), "p$w#d");
        assert_eq!(value("A=p$NELO9UNSET"), "p");
        assert_eq!(value("A=p#d"), "p#d");
        assert_eq!(value("A=p #d"), "p");
        assert_eq!(first_bad_line("A=p d"), Some(1));
    }

    #[test]
    fn a_missing_file_is_fine_and_a_broken_one_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!load(&dir.path().join(".env")).unwrap());
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "# x\nNELO_DOTENV_UNIT=\"10\nDATABASE_URL=postgresql://u:hunter2@h/d\n",
        )
        .unwrap();
        let error = load(&path).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        assert!(std::env::var_os("NELO_DOTENV_UNIT").is_none());
    }
}
