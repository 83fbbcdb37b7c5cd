//! The translation of a [`DatabaseUrl`] into sqlx's connection options.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use super::{APPLICATION_NAME, DatabaseUrl, UrlError, UrlPart};

impl DatabaseUrl {
    /// sqlx's options: the URL without its user name, password and Prisma parameters goes
    /// through sqlx's own parser (so sqlx never sees, nor reports, a secret), then the
    /// credentials and the translated parameters are set one by one.
    ///
    /// Without `?pgbouncer=true`, the session settings of [`DatabaseUrl::session_pins`] go as
    /// startup options. A pooler in session mode may refuse them ("unsupported startup
    /// parameter"): [`crate::postgres::connect`] then connects with
    /// [`DatabaseUrl::connect_options_unpinned`] and sets them with `SET`.
    pub fn connect_options(&self) -> Result<PgConnectOptions, UrlError> {
        self.options_with(true)
    }

    /// [`DatabaseUrl::connect_options`] without the pinned session settings: for connections
    /// that only look at the server (lock observers, watchdogs, maintenance), and for a
    /// pooler that refuses startup options.
    pub fn connect_options_unpinned(&self) -> Result<PgConnectOptions, UrlError> {
        self.options_with(false)
    }

    /// The session settings every connection pins, as (name, value) with the value as the
    /// server reads it: the schema (`public` without `?schema=`, as Prisma), whatever
    /// search_path the role or database sets, and IntervalStyle, as sqlx pins TimeZone and
    /// DateStyle (a database's own IntervalStyle would change how every interval is
    /// rendered). Empty with `?pgbouncer=true`: each transaction sets the schema there.
    pub fn session_pins(&self) -> Vec<(&'static str, String)> {
        if self.params.pgbouncer {
            return Vec::new();
        }
        let schema = self.schema().unwrap_or("public");
        vec![
            ("search_path", crate::sql::quote_identifier(schema)),
            ("IntervalStyle", "postgres".to_string()),
        ]
    }

    fn options_with(&self, pinned: bool) -> Result<PgConnectOptions, UrlError> {
        let mut plain = self.url.clone();
        let _ = plain.set_username("");
        let _ = plain.set_password(None);
        plain.set_query(None);
        {
            let mut query = plain.query_pairs_mut();
            let params = &self.params;
            if let Some(host) = &params.host {
                query.append_pair("host", host);
            }
            if let Some(cert) = &params.ssl_root_cert {
                query.append_pair("sslrootcert", cert);
            }
            if let Some(options) = &params.options {
                query.append_pair("options", options);
            }
        }
        let query_is_empty = plain.query().is_some_and(str::is_empty);
        if query_is_empty {
            plain.set_query(None);
        }
        let mut options = PgConnectOptions::from_str(plain.as_str()).map_err(|error| UrlError {
            url: self.redacted(),
            part: UrlPart::Parameter,
            problem: error.to_string(),
        })?;
        if !self.user.is_empty() {
            options = options.username(&self.user);
        }
        if let Some(password) = &self.password {
            options = options.password(password);
        }
        options = options.database(&self.database()).application_name(
            self.params
                .application_name
                .as_deref()
                .unwrap_or(APPLICATION_NAME),
        );
        if let Some(mode) = self.params.ssl_mode {
            options = options.ssl_mode(mode);
        }
        if let Some(size) = self.params.statement_cache_size {
            options = options.statement_cache_capacity(size);
        }
        if self.params.pgbouncer {
            // PgBouncer refuses startup options it does not know and cannot keep prepared
            // statements: the schema is set by a query after connecting instead.
            options = options.statement_cache_capacity(0).extra_float_digits(None);
        } else if pinned {
            // As startup options, so that a migration's `RESET ALL` keeps them.
            let pins: Vec<(&str, String)> = self
                .session_pins()
                .into_iter()
                .map(|(name, value)| (name, escape_option(&value)))
                .collect();
            options = options.options(pins);
        }
        Ok(options)
    }
}

/// The `search_path` for `schema` as a startup `-c` option: double-quoted, as Prisma's
/// `SET search_path = "NAME"`, so `?schema=MyApp` keeps its case; then backslash-escaped,
/// as the server splits the startup options at unescaped whitespace.
#[cfg(test)]
pub(super) fn search_path_option(schema: &str) -> String {
    escape_option(&crate::sql::quote_identifier(schema))
}

/// `value` backslash-escaped for a startup `-c` option, which the server splits at unescaped
/// whitespace.
fn escape_option(quoted: &str) -> String {
    let mut escaped = String::with_capacity(quoted.len());
    for character in quoted.chars() {
        if character == '\\' || character.is_ascii_whitespace() {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}
