//! The query parameters of a database URL: Prisma's (quaint's `PostgresNativeUrl`), read the
//! way Prisma reads them, and libpq's `sslrootcert`.

use std::time::Duration;

use sqlx::postgres::PgSslMode;

/// Parameters that Prisma accepts and nelo-migrate checks but does not need: pool sizes and
/// timeouts of a connection pool (nelo-migrate holds one connection), and TLS client
/// identities (this build of nelo-migrate has no TLS client).
const WITHOUT_EFFECT: &[&str] = &[
    "connection_limit",
    "pool_timeout",
    "max_connection_lifetime",
    "max_idle_connection_lifetime",
    "sslidentity",
    "sslpassword",
    "sslaccept",
    "channel_binding",
];

/// Parameters whose value Prisma parses as a whole number (and refuses otherwise).
const NUMBERS: &[&str] = &[
    "connection_limit",
    "statement_cache_size",
    "connect_timeout",
    "pool_timeout",
    "socket_timeout",
    "max_connection_lifetime",
    "max_idle_connection_lifetime",
];

/// What the query of a database URL asks for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    /// `schema`: where the migrations and their history live (`search_path`).
    pub schema: Option<String>,
    /// `sslmode`: `disable`, `prefer` (Prisma's default), `require`; libpq's others too.
    pub ssl_mode: Option<PgSslMode>,
    /// `sslcert` (Prisma: the server's CA certificate) or `sslrootcert` (libpq).
    pub ssl_root_cert: Option<String>,
    /// `connect_timeout`: seconds one connection attempt may take; `0` is no limit.
    pub connect_timeout: Option<Duration>,
    /// `socket_timeout`: seconds the server may give no answer before a run holding the
    /// migration lock stops (`crate::watchdog`); `0` is no limit. Prisma's reading (a
    /// deadline on each query) would stop a healthy long migration, which nelo does not do.
    pub socket_timeout: Option<Duration>,
    /// `application_name`.
    pub application_name: Option<String>,
    /// `options`: the server's startup options, e.g. `-c statement_timeout=5000`.
    pub options: Option<String>,
    /// `host`: a Unix socket folder (`/var/run/postgresql`) or a host name.
    pub host: Option<String>,
    /// `pgbouncer=true`: no prepared statement cache, `search_path` set by a query.
    pub pgbouncer: bool,
    /// `statement_cache_size`: prepared statements kept per connection.
    pub statement_cache_size: Option<usize>,
    /// Parameters Prisma does not know either: ignored, as Prisma does.
    pub unknown: Vec<String>,
    /// Values Prisma ignores too (e.g. an `sslmode` it does not know).
    pub ignored_values: Vec<String>,
}

/// A parameter whose value Prisma refuses: its name and what it must be. Never the value,
/// which may be a password (`sslpassword`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadParam {
    pub name: String,
    pub expected: &'static str,
}

impl Params {
    /// Reads the decoded query pairs.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    ) -> Result<Params, BadParam> {
        let mut params = Params::default();
        for (name, value) in pairs {
            let name = name.as_ref();
            let bad = |expected| BadParam {
                name: name.to_string(),
                expected,
            };
            if NUMBERS.contains(&name) && value.parse::<u64>().is_err() {
                return Err(bad("a whole number"));
            }
            match name {
                "schema" => params.schema = Some(value.into_owned()).filter(|s| !s.is_empty()),
                "sslmode" => match value.parse::<PgSslMode>() {
                    Ok(mode) => params.ssl_mode = Some(mode),
                    Err(_) => params.ignored_values.push(
                        "`sslmode` is not one of disable, allow, prefer, require, verify-ca, \
                         verify-full; using prefer, as Prisma does"
                            .to_string(),
                    ),
                },
                "sslcert" | "sslrootcert" => params.ssl_root_cert = Some(value.into_owned()),
                "connect_timeout" => {
                    let seconds: u64 = value.parse().expect("checked above");
                    params.connect_timeout =
                        Some(Duration::from_secs(seconds)).filter(|timeout| !timeout.is_zero());
                }
                "socket_timeout" => {
                    params.socket_timeout =
                        Some(Duration::from_secs(value.parse().expect("checked above")))
                }
                "application_name" => params.application_name = Some(value.into_owned()),
                "options" => params.options = Some(value.into_owned()),
                "host" => params.host = Some(value.into_owned()).filter(|h| !h.is_empty()),
                "pgbouncer" => {
                    params.pgbouncer = value.parse().map_err(|_| bad("`true` or `false`"))?
                }
                "statement_cache_size" => {
                    params.statement_cache_size = Some(value.parse().expect("checked above"))
                }
                known if WITHOUT_EFFECT.contains(&known) => {}
                unknown => params.unknown.push(unknown.to_string()),
            }
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<Params, BadParam> {
        Params::parse(url::form_urlencoded::parse(query.as_bytes()))
    }

    #[test]
    fn prisma_parameters_are_read() {
        let params = parse(
            "schema=MyApp&sslmode=require&sslcert=ca.pem&connect_timeout=3&\
             application_name=app&options=-c%20geqo%3Doff&pgbouncer=true&statement_cache_size=7&\
             connection_limit=5&pool_timeout=2&socket_timeout=9&sslidentity=id.p12&\
             sslpassword=x&sslaccept=strict&host=%2Fvar%2Frun%2Fpostgresql",
        )
        .unwrap();
        assert_eq!(params.schema.as_deref(), Some("MyApp"));
        assert!(matches!(params.ssl_mode, Some(PgSslMode::Require)));
        assert_eq!(params.ssl_root_cert.as_deref(), Some("ca.pem"));
        assert_eq!(params.connect_timeout, Some(Duration::from_secs(3)));
        assert_eq!(params.socket_timeout, Some(Duration::from_secs(9)));
        assert_eq!(params.application_name.as_deref(), Some("app"));
        assert_eq!(params.options.as_deref(), Some("-c geqo=off"));
        assert!(params.pgbouncer);
        assert_eq!(params.statement_cache_size, Some(7));
        assert_eq!(params.host.as_deref(), Some("/var/run/postgresql"));
        assert!(params.unknown.is_empty(), "{:?}", params.unknown);
    }

    #[test]
    fn unknown_parameters_and_values_are_ignored_and_listed() {
        let params = parse("foo=1&sslmode=sometimes&connect_timeout=0").unwrap();
        assert_eq!(params.unknown, ["foo"]);
        assert!(params.ssl_mode.is_none());
        assert_eq!(params.ignored_values.len(), 1);
        assert_eq!(params.connect_timeout, None);
    }

    #[test]
    fn bad_values_name_the_parameter_never_the_value() {
        let error = parse("connection_limit=lots").unwrap_err();
        assert_eq!(error.name, "connection_limit");
        assert_eq!(error.expected, "a whole number");
        assert_eq!(parse("pgbouncer=yes").unwrap_err().name, "pgbouncer");
    }
}
