//! Connecting with a deadline: retry transient failures, fail fast on the others (a URL
//! that does not parse fails before any attempt).

use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::{DatabaseUrl, Error};

/// Prisma's `?schema=NAME` URL parameter: the schema that holds the migrations and their
/// history. Deploy, reset and resolve create it when it is missing, as Prisma does.
pub fn url_schema(database_url: &str) -> Option<String> {
    DatabaseUrl::parse(database_url)
        .ok()
        .and_then(|url| url.schema().map(str::to_string))
}

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

/// Classifies a connection error.
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

/// Opens one connection to `database_url`, retrying transient failures with backoff
/// until `timeout` has passed. The URL's `connect_timeout` bounds each attempt.
pub async fn connect(database_url: &str, timeout: Duration) -> Result<PgConnection, Error> {
    let url = DatabaseUrl::parse(database_url)?;
    let options = url.connect_options()?;
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
    Ok(connection)
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
    fn schema_parameter_is_read_from_the_query() {
        let schema = |url| url_schema(url);
        assert_eq!(
            schema("postgresql://u:p@localhost/db?sslmode=disable&schema=MyApp"),
            Some("MyApp".to_string())
        );
        assert_eq!(
            schema("postgresql://u:p@localhost/db?schema=my%20app"),
            Some("my app".to_string())
        );
        assert_eq!(schema("postgresql://u:p@localhost/db?schema="), None);
        assert_eq!(schema("postgresql://u:p@localhost/db"), None);
    }

    #[tokio::test]
    async fn a_malformed_url_fails_before_any_attempt() {
        let error = connect("htp:/x", Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::InvalidUrl(_)), "{error}");
    }
}
