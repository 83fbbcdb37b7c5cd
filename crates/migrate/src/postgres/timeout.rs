//! How long the tools wait, named once, and the one reader of a timeout setting.

use std::time::Duration;

/// How long to keep retrying a server that should be there but is unreachable or starting
/// up, unless `NELO_CONNECT_TIMEOUT` (or `--connect-timeout`) says otherwise: 10 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for the migration lock that another deploy (or Prisma) holds, unless
/// `NELO_LOCK_TIMEOUT` (or `--lock-timeout`) says otherwise: 10 s.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a look at a server that may well be down waits for it (a status report, a
/// listing before a destructive prompt): 5 s. Waiting longer only delays the answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A timeout setting that is not a number of seconds. It holds the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a number of seconds (a whole or decimal number such as `10` or `2.5`)")]
pub struct SecondsError {
    pub text: String,
}

/// Reads a timeout setting (`NELO_CONNECT_TIMEOUT`, `NELO_LOCK_TIMEOUT` and their flags):
/// seconds, fractions allowed (`10`, `2.5`, ` 0.25 `). Negative, not-a-number and
/// out-of-range values are refused.
///
/// # Errors
/// [`SecondsError`] naming the text; the caller adds which setting it came from.
pub fn parse_seconds(text: &str) -> Result<Duration, SecondsError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| SecondsError {
            text: text.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_may_be_whole_or_fractional() {
        assert_eq!(parse_seconds("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_seconds(" 2.5 "), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn anything_else_is_refused_naming_the_text() {
        for text in ["soon", "-1", "NaN", "inf", "1e30", "", "10s"] {
            let error = parse_seconds(text).unwrap_err();
            assert!(
                error.to_string().contains(&format!("`{text}`")),
                "{text}: {error}"
            );
        }
    }
}
