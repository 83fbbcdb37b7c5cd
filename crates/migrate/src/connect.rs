//! Connecting with a deadline: retry transient failures, fail fast on the others.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::Error;
use crate::redact::redact_url;

/// The `application_name` of every connection nelo-migrate opens.
pub const APPLICATION_NAME: &str = "nelo-migrate";

/// Who and where a URL connects to, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub database: String,
}

impl Target {
    /// Reads a `postgres://` or `postgresql://` URL. Missing parts take libpq's defaults.
    pub fn from_url(database_url: &str) -> Result<Self, Error> {
        let url = url::Url::parse(database_url).map_err(|error| Error::InvalidUrl {
            url: redact_url(database_url),
            reason: error.to_string(),
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(Error::InvalidUrl {
                url: redact_url(database_url),
                reason: format!("scheme `{}` is not `postgresql`", url.scheme()),
            });
        }
        let decode = |text: &str| {
            url::form_urlencoded::parse(text.as_bytes())
                .map(|(key, value)| format!("{key}{value}"))
                .collect::<String>()
        };
        let user = match url.username() {
            "" => std::env::var("USER").unwrap_or_else(|_| "postgres".into()),
            name => decode(name),
        };
        let database = url.path().trim_start_matches('/');
        Ok(Self {
            database: if database.is_empty() {
                user.clone()
            } else {
                decode(database)
            },
            user,
            host: url.host_str().unwrap_or("localhost").to_string(),
            port: url.port().unwrap_or(5432),
        })
    }

    /// `host:port`.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The connection options for `database_url`, with nelo-migrate's `application_name` and
/// Prisma's `?schema=` parameter turned into a `search_path`.
pub fn connect_options(database_url: &str) -> Result<PgConnectOptions, Error> {
    let options = PgConnectOptions::from_str(database_url).map_err(|error| Error::InvalidUrl {
        url: redact_url(database_url),
        reason: error.to_string(),
    })?;
    let options = options.application_name(APPLICATION_NAME);
    // Through a transaction-mode pooler the search path is set in each transaction instead.
    Ok(match url_schema(database_url) {
        Some(schema) if !crate::pooler::is_transaction_pooler(database_url) => {
            options.options([("search_path", search_path_option(&schema))])
        }
        _ => options,
    })
}

/// Prisma's `?schema=NAME` URL parameter: the schema that holds the migrations and their
/// history. Deploy, reset and resolve create it when it is missing, as Prisma does.
pub fn url_schema(database_url: &str) -> Option<String> {
    url::Url::parse(database_url).ok().and_then(|url| {
        url.query_pairs()
            .find(|(key, _)| key == "schema")
            .map(|(_, value)| value.into_owned())
            .filter(|schema| !schema.is_empty())
    })
}

/// The `search_path` for `schema` as a startup `-c` option: double-quoted, as Prisma's
/// `SET search_path = "NAME"`, so `?schema=MyApp` keeps its case; then backslash-escaped,
/// as the server splits the startup options at unescaped whitespace.
fn search_path_option(schema: &str) -> String {
    let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
    let mut escaped = String::with_capacity(quoted.len());
    for character in quoted.chars() {
        if character == '\\' || character.is_ascii_whitespace() {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
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
/// until `timeout` has passed.
pub async fn connect(database_url: &str, timeout: Duration) -> Result<PgConnection, Error> {
    let options = connect_options(database_url)?;
    let deadline = Instant::now() + timeout;
    let mut backoff = Duration::from_millis(50);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt = tokio::time::timeout(remaining, PgConnection::connect_with(&options)).await;
        let error = match attempt {
            Ok(Ok(connection)) => return Ok(connection),
            Ok(Err(error)) => error,
            Err(_elapsed) => return Err(timeout_error(database_url, timeout, "timed out")),
        };
        match classify_failure(&error) {
            Failure::Transient => {}
            Failure::Authentication => {
                let target = Target::from_url(database_url)?;
                return Err(Error::AuthenticationFailed {
                    target: format!("{}/{}", target.server(), target.database),
                    user: target.user,
                });
            }
            Failure::DatabaseMissing => {
                let target = Target::from_url(database_url)?;
                return Err(Error::DatabaseMissing {
                    server: target.server(),
                    database: target.database,
                });
            }
            Failure::Fatal => {
                return Err(Error::Connect {
                    url: redact_url(database_url),
                    source: error,
                });
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(timeout_error(database_url, timeout, &error.to_string()));
        }
        tokio::time::sleep(backoff.min(remaining)).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

fn timeout_error(database_url: &str, waited: Duration, last_error: &str) -> Error {
    Error::ConnectTimeout {
        url: redact_url(database_url),
        waited,
        last_error: last_error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_from_full_url() {
        let target =
            Target::from_url("postgresql://nelo:secret@db.local:6543/app?sslmode=disable").unwrap();
        assert_eq!(
            target,
            Target {
                user: "nelo".into(),
                host: "db.local".into(),
                port: 6543,
                database: "app".into()
            }
        );
        assert_eq!(target.server(), "db.local:6543");
    }

    #[test]
    fn target_defaults_port_and_decodes() {
        let target = Target::from_url("postgres://my%20user@localhost/my%2Ddb").unwrap();
        assert_eq!(target.port, 5432);
        assert_eq!(target.user, "my user");
        assert_eq!(target.database, "my-db");
    }

    #[test]
    fn invalid_url_error_is_redacted() {
        let error = Target::from_url("mysql://root:hunter2@db/app").unwrap_err();
        let text = error.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("mysql"), "{text}");
    }

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
        assert!(connect_options("postgresql://u:p@localhost/db?schema=app").is_ok());
    }

    #[test]
    fn search_path_keeps_case_and_escapes_for_the_startup_packet() {
        assert_eq!(search_path_option("MyApp"), r#""MyApp""#);
        assert_eq!(search_path_option("my app"), r#""my\ app""#);
        assert_eq!(search_path_option(r#"a"b\c"#), r#""a""b\\c""#);
    }
}
