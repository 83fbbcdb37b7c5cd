//! The one parsed PostgreSQL URL that the library and both binaries use.
//!
//! Parsing is strict about shape and lenient about parameters, like Prisma: a URL that does
//! not parse as written — most often a password with a raw `@`, `#`, `/` or `?` that ends it
//! early — is refused at once, naming the part that is wrong (Prisma's P1013); Prisma's
//! query parameters are read and translated for sqlx, unknown ones are ignored and listed.
//! `Display` and `Debug` mask the password; nothing else here formats it.

mod options;
mod params;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use url::Url;

use crate::redact::redact_url;
use params::Params;

/// The `application_name` of every connection, unless the URL names one.
pub const APPLICATION_NAME: &str = "nelo-migrate";

/// The database a URL without one connects to, as in Prisma.
const DEFAULT_DATABASE: &str = "postgres";

/// What to do about any malformed URL, after what is wrong with it.
const ENCODE_ADVICE: &str = "special characters in the user name or password must be \
    percent-encoded (`@` as `%40`, `:` as `%3A`, `/` as `%2F`, `?` as `%3F`, `#` as `%23`, \
    `%` as `%25`, space as `%20`)";

/// A validated `postgresql://` URL.
#[derive(Clone)]
pub struct DatabaseUrl {
    url: Url,
    user: String,
    password: Option<String>,
    database: Option<String>,
    params: Params,
}

/// The part of a database URL that is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlPart {
    Scheme,
    UserInfo,
    Host,
    Port,
    Database,
    Parameter,
    Fragment,
}

/// A URL that does not parse as intended. It holds the URL redacted, never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid database URL `{url}`: {problem}; {ENCODE_ADVICE} (Prisma's P1013)")]
pub struct UrlError {
    /// The URL, with everything that could be a password masked.
    pub url: String,
    pub part: UrlPart,
    pub problem: String,
}

impl DatabaseUrl {
    /// Parses and checks `text`; see the module documentation.
    pub fn parse(text: &str) -> Result<DatabaseUrl, UrlError> {
        let text = text.trim_matches(|character: char| character <= ' ');
        let fail = |part, problem: String| UrlError {
            url: redact_url(text),
            part,
            problem,
        };
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(fail(
                UrlPart::Scheme,
                "it does not start with `postgresql://` (or `postgres://`)".into(),
            ));
        };
        if !scheme.eq_ignore_ascii_case("postgresql") && !scheme.eq_ignore_ascii_case("postgres") {
            let named = if scheme.chars().all(|c| c.is_ascii_alphanumeric()) {
                format!("`{scheme}`")
            } else {
                "not a scheme".to_string()
            };
            return Err(fail(
                UrlPart::Scheme,
                format!("the scheme is {named}; it must be `postgresql://` or `postgres://`"),
            ));
        }
        // The user name and password run to the last `@`: if the parser ends them earlier,
        // a raw special character in them cut the URL somewhere else than the user meant.
        let (raw_user, raw_password, after) = match rest.rfind('@') {
            Some(at) => match rest[..at].split_once(':') {
                Some((user, password)) => (user, Some(password), &rest[at + 1..]),
                None => (&rest[..at], None, &rest[at + 1..]),
            },
            None => ("", None, rest),
        };
        let cut_early = || {
            fail(
                UrlPart::UserInfo,
                "the user name and password do not run to the last `@` before the host: a raw \
                 special character ended them early, or an `@` follows the host"
                    .into(),
            )
        };
        let url = Url::parse(text).map_err(|error| {
            // When what follows the last `@` parses on its own, the user name or password
            // is what broke the URL.
            let after_parses = Url::parse(&format!("{scheme}://{after}"))
                .is_ok_and(|alone| alone.host_str().is_some_and(|host| !host.is_empty()));
            if after.len() < rest.len() && after_parses {
                return cut_early();
            }
            let (part, problem) = parse_error_problem(error);
            fail(part, problem.into())
        })?;
        let decoded = |text: &str| percent_decode_str(text).collect::<Vec<u8>>();
        if decoded(url.username()) != decoded(raw_user)
            || url.password().map(decoded) != raw_password.map(decoded).filter(|p| !p.is_empty())
        {
            return Err(cut_early());
        }
        if url.fragment().is_some() {
            return Err(fail(
                UrlPart::Fragment,
                "it has a `#` after the host, which a database URL does not take".into(),
            ));
        }
        let has_host = url.host_str().is_some_and(|host| !host.is_empty());
        if !has_host && (!raw_user.is_empty() || url.port().is_some()) {
            return Err(fail(UrlPart::Host, "it names no host".into()));
        }
        let user = String::from_utf8(decoded(url.username())).map_err(|_| {
            fail(
                UrlPart::UserInfo,
                "the user name is not UTF-8 once percent-decoded".into(),
            )
        })?;
        // Prisma keeps a password that is not UTF-8 once decoded as it is written.
        let password = url.password().map(|password| {
            percent_decode_str(password)
                .decode_utf8()
                .map_or_else(|_| password.to_string(), |decoded| decoded.into_owned())
        });
        let path = url.path().strip_prefix('/').unwrap_or(url.path());
        if path.contains('/') {
            return Err(fail(
                UrlPart::Database,
                "the path holds more than a database name (`/DATABASE`)".into(),
            ));
        }
        let database = match String::from_utf8(decoded(path)) {
            Ok(database) => Some(database).filter(|database| !database.is_empty()),
            Err(_) => {
                return Err(fail(
                    UrlPart::Database,
                    "the database name is not UTF-8 once percent-decoded".into(),
                ));
            }
        };
        let params = Params::parse(url.query_pairs()).map_err(|bad| {
            fail(
                UrlPart::Parameter,
                format!("parameter `{}` must be {}", bad.name, bad.expected),
            )
        })?;
        Ok(DatabaseUrl {
            url,
            user,
            password,
            database,
            params,
        })
    }

    /// The whole URL, password included: for handing to a driver or a child process,
    /// never for showing. `Display` shows it redacted.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The URL with its password masked.
    pub fn redacted(&self) -> String {
        redact_url(self.url.as_str())
    }

    /// The user name, decoded; empty when the URL names none.
    pub fn user(&self) -> String {
        self.user.clone()
    }

    /// The password, decoded; empty when the URL has none. For a container's environment
    /// or `PGPASSWORD`, never for showing.
    pub fn password(&self) -> String {
        self.password.clone().unwrap_or_default()
    }

    /// The host: the `host` parameter (a socket folder) or the URL's, else `localhost`.
    pub fn host(&self) -> &str {
        match (&self.params.host, self.url.host_str()) {
            (Some(host), _) => host,
            (None, Some(host)) if !host.is_empty() => host,
            _ => "localhost",
        }
    }

    pub fn port(&self) -> u16 {
        self.url.port().unwrap_or(5432)
    }

    /// `host:port`, for messages.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host(), self.port())
    }

    /// The database name, decoded; `postgres` when the URL names none, as in Prisma.
    pub fn database(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE.to_string())
    }

    /// Prisma's `?schema=`: the schema that holds the migrations and their history.
    pub fn schema(&self) -> Option<&str> {
        self.params.schema.as_deref()
    }

    /// `?pgbouncer=true`: the connection goes through PgBouncer.
    pub fn pgbouncer(&self) -> bool {
        self.params.pgbouncer
    }

    /// `?connect_timeout=`: how long one connection attempt may take.
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.params.connect_timeout
    }

    /// `?socket_timeout=`: how long the server may give no answer before a run holding the
    /// migration lock stops; zero is no limit (see `crate::watchdog`).
    pub fn socket_timeout(&self) -> Option<Duration> {
        self.params.socket_timeout
    }

    /// What of the URL is ignored, as Prisma ignores it, one sentence each: for a warning.
    pub fn ignored(&self) -> Vec<String> {
        let mut ignored = self.params.ignored_values.clone();
        ignored.extend(
            self.params.unknown.iter().map(|name| {
                format!("parameter `{name}` is not one that Prisma knows; it is ignored")
            }),
        );
        ignored
    }

    /// The same server and credentials, another database.
    pub fn with_database(&self, database: &str) -> DatabaseUrl {
        let mut url = self.url.clone();
        let encoded = percent_encoding::utf8_percent_encode(database, PATH_SEGMENT);
        url.set_path(&format!("/{encoded}"));
        DatabaseUrl {
            url,
            database: Some(database.to_string()).filter(|database| !database.is_empty()),
            ..self.clone()
        }
    }

    /// The same URL with Prisma's `?schema=` set to `schema` (replacing any): connections
    /// through it use that `search_path`.
    pub fn with_schema(&self, schema: &str) -> DatabaseUrl {
        let mut url = self.url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| name != "schema")
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("schema", schema);
        let mut params = self.params.clone();
        params.schema = Some(schema.to_string()).filter(|schema| !schema.is_empty());
        DatabaseUrl {
            url,
            params,
            ..self.clone()
        }
    }

    /// The same server and credentials, another port (for throwaway servers); a URL
    /// without a host gets `localhost`, where it connected before.
    pub fn with_port(&self, port: u16) -> DatabaseUrl {
        let mut url = self.url.clone();
        if url.host_str().is_none_or(str::is_empty) {
            url.set_host(Some("localhost"))
                .expect("a postgresql:// URL can have a host");
        }
        url.set_port(Some(port))
            .expect("a URL with a host can have a port");
        DatabaseUrl {
            url,
            ..self.clone()
        }
    }

    /// Whether both name the same server with the same credentials.
    pub fn same_server(&self, other: &DatabaseUrl) -> bool {
        self.host() == other.host()
            && self.port() == other.port()
            && self.user == other.user
            && self.password == other.password
    }

    /// Whether the host is this machine.
    pub fn is_local(&self) -> bool {
        matches!(self.host(), "localhost" | "127.0.0.1" | "[::1]" | "::1")
    }
}

/// Prisma's `?schema=NAME` URL parameter of `database_url`, when it parses: the schema that
/// holds the migrations and their history. Deploy, reset and resolve create it when it is
/// missing, as Prisma does.
pub(crate) fn url_schema(database_url: &str) -> Option<String> {
    DatabaseUrl::parse(database_url)
        .ok()
        .and_then(|url| url.schema().map(str::to_string))
}

/// A database name as one path segment.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The part a parse error is about, and what to say about it.
fn parse_error_problem(error: url::ParseError) -> (UrlPart, &'static str) {
    use url::ParseError::*;
    match error {
        InvalidPort => (UrlPart::Port, "the port is not a number from 0 to 65535"),
        EmptyHost => (UrlPart::Host, "it names no host"),
        IdnaError | InvalidDomainCharacter => (UrlPart::Host, "the host is not a valid host name"),
        InvalidIpv4Address | InvalidIpv6Address => {
            (UrlPart::Host, "the host is not a valid IP address")
        }
        _ => (UrlPart::Host, "it does not parse as a URL"),
    }
}

impl FromStr for DatabaseUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DatabaseUrl::parse(text)
    }
}

impl PartialEq for DatabaseUrl {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
    }
}

impl Eq for DatabaseUrl {}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "DatabaseUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests;
