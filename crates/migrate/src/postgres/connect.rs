//! Connecting with a deadline: retry transient failures, fail fast on the others.

use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::{DatabaseUrl, Error};

/// How a failed connection attempt should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server is not there yet or is starting: retry until the deadline.
    Transient,
    /// 28P01: wrong password.
    Authentication,
    /// 3D000: the database does not exist.
    DatabaseMissing,
    /// Anything else: report it at once.
    Fatal,
}

/// Classifies a connection error: the one retry rule of the workspace. Retried: the I/O
/// failures of a server that is not listening yet or restarting (refused, reset, aborted,
/// timed out, cut short), `57P03` (the server is starting up) and a pool's timeout.
pub fn classify_failure(error: &sqlx::Error) -> Failure {
    match error {
        sqlx::Error::Io(io) => {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused | ConnectionReset | ConnectionAborted | TimedOut
                | NotConnected | BrokenPipe | UnexpectedEof | AddrNotAvailable | Interrupted => {
                    Failure::Transient
                }
                _ => Failure::Fatal,
            }
        }
        sqlx::Error::Database(database) => match database.code().as_deref() {
            Some("57P03") => Failure::Transient,
            Some("28P01") => Failure::Authentication,
            Some("3D000") => Failure::DatabaseMissing,
            _ => Failure::Fatal,
        },
        sqlx::Error::PoolTimedOut => Failure::Transient,
        _ => Failure::Fatal,
    }
}

/// Opens one connection to `url`, retrying [`Failure::Transient`] failures with backoff
/// (50 ms doubling to 1 s) until `timeout` has passed; the URL's `connect_timeout` bounds
/// each attempt.
///
/// # Errors
/// [`Error::AuthenticationFailed`] (28P01) and [`Error::DatabaseMissing`] (3D000) at once,
/// [`Error::Connect`] for any other non-transient failure, [`Error::ConnectTimeout`] with the
/// last transient error once `timeout` has passed. URLs in errors are redacted.
pub async fn connect(url: &DatabaseUrl, timeout: Duration) -> Result<PgConnection, Error> {
    let mut options = url.connect_options()?;
    let mut pins_by_statement = false;
    let deadline = Instant::now() + timeout;
    let mut backoff = Duration::from_millis(50);
    let connection = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt_limit = url
            .attempt_timeout()
            .map_or(remaining, |limit| limit.min(remaining));
        let attempt =
            tokio::time::timeout(attempt_limit, PgConnection::connect_with(&options)).await;
        let last_error = match attempt {
            Ok(Ok(connection)) => break connection,
            Ok(Err(error)) => match classify_failure(&error) {
                Failure::Transient => error.to_string(),
                Failure::Authentication => {
                    return Err(Error::AuthenticationFailed {
                        target: format!("{}/{}", url.server(), url.database()),
                        user: options.get_username().to_string(),
                    });
                }
                Failure::DatabaseMissing => {
                    return Err(Error::DatabaseMissing {
                        server: url.server(),
                        database: url.database(),
                    });
                }
                // A pooler in session mode that does not pass startup options on: the same
                // settings as statements, on the session it keeps for us.
                Failure::Fatal if !pins_by_statement && refuses_startup_options(&error) => {
                    options = url.connect_options_unpinned()?;
                    pins_by_statement = true;
                    continue;
                }
                Failure::Fatal => {
                    return Err(Error::Connect {
                        url: url.redacted(),
                        source: error,
                    });
                }
            },
            Err(_elapsed) => format!(
                "a connection attempt took longer than {:.1} s",
                attempt_limit.as_secs_f32()
            ),
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::ConnectTimeout {
                url: url.redacted(),
                waited: timeout,
                last_error,
            });
        }
        tokio::time::sleep(backoff.min(remaining)).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    };
    // Behind PgBouncer (`?pgbouncer=true`) the schema is no startup option: each migration's
    // transaction sets it (`SET LOCAL`), as a session setting would stay on whichever server
    // connection served it (see `crate::pooler`).
    let mut connection = connection;
    if pins_by_statement {
        for (name, value) in url.session_pins() {
            sqlx::query("SELECT set_config($1, $2, false)")
                .bind(name)
                .bind(&value)
                .execute(&mut connection)
                .await
                .map_err(|source| Error::Connect {
                    url: url.redacted(),
                    source,
                })?;
        }
    }
    Ok(connection)
}

/// The server (a pooler: PgBouncer says "unsupported startup parameter: options") refused
/// the startup options (SQLSTATE 08P01).
fn refuses_startup_options(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database)
        if database.code().as_deref() == Some("08P01")
            && database.message().contains("startup parameter"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_classify() {
        let refused = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert_eq!(classify_failure(&refused), Failure::Transient);
        let denied = sqlx::Error::Io(std::io::ErrorKind::PermissionDenied.into());
        assert_eq!(classify_failure(&denied), Failure::Fatal);
    }

    #[test]
    fn resets_are_retried_and_protocol_errors_are_not() {
        let reset = sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into());
        assert_eq!(classify_failure(&reset), Failure::Transient);
        let protocol = sqlx::Error::Protocol("unexpected message".into());
        assert_eq!(classify_failure(&protocol), Failure::Fatal);
    }
}
