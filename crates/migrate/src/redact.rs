//! Password redaction for every URL, and every text, that is shown to a person.
//!
//! It is conservative on purpose: users paste passwords with raw `@`, `#`, `/` or `?` in
//! them, so the password of `scheme://user:PASSWORD@host` is taken to run up to the *last*
//! `@`, and a URL whose shape does not make its password's end certain is masked whole.

const MASK: &str = "***";

/// `url` with its password replaced by `***`: `postgresql://nelo:***@host:5432/db`.
///
/// Also masks the value of a `password=` parameter (or `sslpassword=`) and what follows it. A text that
/// does not start with a `scheme://` is masked whole, except for a scheme-like prefix; so
/// is an authority without `@` whose port is not a number (a password that lost its `@`).
pub fn redact_url(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, _)) = url.split_once("://") else {
        return match url.split_once(':') {
            Some((scheme, _)) if is_scheme(scheme) => format!("{scheme}:{MASK}"),
            _ => MASK.to_string(),
        };
    };
    if !is_scheme(scheme) {
        return MASK.to_string();
    }
    let authority_start = scheme.len() + "://".len();
    let rest = &url[authority_start..];
    // What to mask, found on the URL as given: each password may hold a raw `@`, `:` or
    // `password=` that would mislead a search on a URL already partly masked.
    let user_info_password = match rest.rfind('@') {
        Some(at) => rest[..at]
            .find(':')
            .map(|colon| (authority_start + colon + 1, authority_start + at)),
        None if authority_is_host_and_port(rest) => None,
        None => return format!("{scheme}://{MASK}"),
    };
    let query_password = query_password_start(url).map(|start| (start, url.len()));
    match (user_info_password, query_password) {
        (None, None) => url.to_string(),
        (Some((start, end)), None) | (None, Some((start, end))) => {
            format!("{}{MASK}{}", &url[..start], &url[end..])
        }
        (Some(first), Some(second)) => {
            let (first, second) = (first.min(second), first.max(second));
            if second.0 <= first.1 {
                format!("{}{MASK}{}", &url[..first.0], &url[first.1.max(second.1)..])
            } else {
                format!(
                    "{}{MASK}{}{MASK}{}",
                    &url[..first.0],
                    &url[first.1..second.0],
                    &url[second.1..]
                )
            }
        }
    }
}

/// `text` with every `scheme://...` URL in it passed through [`redact_url`] and every
/// `password=` value masked: for error chains and logs whose text comes from elsewhere.
/// A password may hold raw spaces, so a URL is taken to run to the end of its line: what
/// follows its last `@` on that line is kept, everything from its `user:` to there masked.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    while let Some(found) = text[cursor..].find("://") {
        let separator = cursor + found;
        let scheme_start = text[cursor..separator]
            .char_indices()
            .rev()
            .take_while(|(_, character)| is_scheme_char(*character))
            .last()
            .map_or(separator, |(index, _)| cursor + index);
        let end = text[separator..]
            .find(['\n', '\r'])
            .map_or(text.len(), |end| separator + end);
        out.push_str(&text[cursor..scheme_start]);
        let starts_an_authority = text[separator + 3..]
            .starts_with(|c: char| !c.is_whitespace() && !matches!(c, '`' | '\'' | '"' | ')'));
        if scheme_start == separator || !starts_an_authority {
            out.push_str(&text[scheme_start..separator + 3]);
            cursor = separator + 3;
            continue;
        }
        out.push_str(&redact_url(&text[scheme_start..end]));
        cursor = end;
    }
    out.push_str(&text[cursor..]);
    mask_password_parameters(&out)
}

/// A URL scheme: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(text: &str) -> bool {
    text.starts_with(|character: char| character.is_ascii_alphabetic())
        && text.chars().all(is_scheme_char)
}

fn is_scheme_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '+' | '-' | '.')
}

/// Whether the authority of a URL without `@` is plainly `host[:port]`: no port, a numeric
/// port, or a bracketed IPv6 address.
fn authority_is_host_and_port(rest: &str) -> bool {
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.starts_with('[') {
        return match authority.rsplit_once(']') {
            Some((_, "")) => true,
            Some((_, port)) => port
                .strip_prefix(':')
                .is_some_and(|port| port.chars().all(|c| c.is_ascii_digit())),
            None => false,
        };
    }
    match authority.split_once(':') {
        None => true,
        Some((_, port)) => port.chars().all(|character| character.is_ascii_digit()),
    }
}

/// Where the value of the first `...password=` parameter (`password=`, `sslpassword=`)
/// starts, when it is not empty: it is masked with everything after it, as a raw password may
/// hold white space, `#`, `@` or even `&name=` (`?password=s3cr3t pass&schema=x`), so where
/// it ends is never certain.
fn query_password_start(url: &str) -> Option<usize> {
    const KEY: &str = "password=";
    let start = url.to_ascii_lowercase().find(KEY)? + KEY.len();
    (start < url.len()).then_some(start)
}

/// Masks the value of every `...password=` parameter (`?password=x&...`,
/// `sslpassword=x`, `password=x host=...`), up to the next `&`, whitespace or `#`.
fn mask_password_parameters(text: &str) -> String {
    const KEY: &str = "password=";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    while let Some(found) = lower[cursor..].find(KEY) {
        let value_start = cursor + found + KEY.len();
        let value_end = text[value_start..]
            .find(|character: char| {
                character == '&' || character == '#' || character.is_whitespace()
            })
            .map_or(text.len(), |end| value_start + end);
        out.push_str(&text[cursor..value_start]);
        if value_end > value_start {
            out.push_str(MASK);
        }
        cursor = value_end;
    }
    out.push_str(&text[cursor..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_password_in_userinfo() {
        assert_eq!(
            redact_url("postgresql://nelo:s3cret@localhost:5432/nelo"),
            "postgresql://nelo:***@localhost:5432/nelo"
        );
    }

    #[test]
    fn keeps_url_without_password() {
        let url = "postgres://nelo@localhost/nelo?sslmode=disable";
        assert_eq!(redact_url(url), url);
        assert_eq!(
            redact_url("postgres://localhost/db"),
            "postgres://localhost/db"
        );
        assert_eq!(
            redact_url("postgres://[::1]:5432/db"),
            "postgres://[::1]:5432/db"
        );
    }

    #[test]
    fn raw_special_characters_in_the_password_are_masked_up_to_the_last_at() {
        assert_eq!(
            redact_url("postgresql://nelo:p@ss:w0rd@db.example:5432/app"),
            "postgresql://nelo:***@db.example:5432/app"
        );
        assert_eq!(
            redact_url("postgresql://nelo:p@ss#w/rd?x@db:5432/app"),
            "postgresql://nelo:***@db:5432/app"
        );
    }

    #[test]
    fn a_password_that_lost_its_at_masks_the_whole_authority() {
        assert_eq!(
            redact_url("postgresql://nelo:secret/db.example/app"),
            "postgresql://***"
        );
    }

    #[test]
    fn text_that_is_not_a_url_is_masked_but_for_its_scheme() {
        assert_eq!(redact_url("htp:/x"), "htp:***");
        assert_eq!(redact_url("nelo secret"), "***");
        assert_eq!(redact_url("no:pe://x:y@h"), "***");
    }

    #[test]
    fn masks_password_parameters() {
        // What follows a password is masked too: a raw password may hold `&`.
        assert_eq!(
            redact_url("postgres://db/app?user=nelo&password=hunter2&sslmode=require"),
            "postgres://db/app?user=nelo&password=***"
        );
        assert_eq!(
            redact_url("postgres://db/app?sslidentity=id.p12&sslpassword=hunter2"),
            "postgres://db/app?sslidentity=id.p12&sslpassword=***"
        );
        assert_eq!(
            redact_text("host=db user=nelo password=hunter2 dbname=app"),
            "host=db user=nelo password=*** dbname=app"
        );
    }

    /// Found by the `url` fuzz target: a raw `?password=` value was masked only up to its
    /// first white space, `#` or `&`, even `&` and a parameter name.
    #[test]
    fn a_raw_query_password_is_masked_whole() {
        assert_eq!(
            redact_url("postgres://u@h/db?&password=s3cr3t password\n7.0.0.1"),
            "postgres://u@h/db?&password=***"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?password=a#b&c d&schema=app"),
            "postgres://u@h/db?password=***"
        );
        assert_eq!(
            redact_url("postgres://h/db?&password=sslmode-require&pgbouncer==true"),
            "postgres://h/db?&password=***"
        );
        // A raw `@` in it is not the end of a user info.
        assert_eq!(
            redact_url("postgres://u@h/db?a@b:c=d&password=p@ss:wr?#&=%"),
            "postgres://u@h/db?a@b:***"
        );
        // Nor is `password=` in a user info's raw password the start of a query.
        assert_eq!(
            redact_url("postgresql://u?#:s3cr3t@ password=x(a%@/db"),
            "postgresql://u?#:***"
        );
        assert_eq!(
            redact_url("postgresql://u:p@h/db?schema=s&password=x"),
            "postgresql://u:***@h/db?schema=s&password=***"
        );
    }

    #[test]
    fn text_with_urls_in_it() {
        assert_eq!(
            redact_text("cannot reach postgresql://a:b@c@h/db (refused); see http://x/y"),
            "cannot reach postgresql://a:***@h/db (refused); see http://x/y"
        );
        assert_eq!(redact_text("a :// b"), "a :// b");
        assert_eq!(
            redact_text("x postgres://u:a b@c@h/db refused\nnext line u:v@w"),
            "x postgres://u:***@h/db refused\nnext line u:v@w"
        );
        let ours = "it must start with `postgresql://` (`@` as `%40`)";
        assert_eq!(redact_text(ours), ours);
        assert_eq!(redact_text("plain"), "plain");
    }
}
