//! URL parsing and redaction: no part of a password is ever shown.
//!
//! It checks `nelo_migrate::redact_url` and the typed `nelo_migrate::DatabaseUrl` (its parse
//! error, its redacted, displayed and debugged forms, user, host and database).
//!
//! The input is `user \0 password \0 host \0 rest` (missing fields are empty; `rest` is the
//! query). From it, URLs are built with the password in the user info and in a `password=`
//! parameter, each raw and percent-encoded, and in libpq's key/value form when it needs no
//! quoting. For each, the property is that `redact_url`'s output, `DatabaseUrl::parse`'s error
//! text and, when it parses, the URL's redacted forms, user, host and database (which messages
//! show) hold no substring of the password longer than two characters.
//!
//! A three-character substring of the password can show up by coincidence when it also occurs
//! in the URL without the password (percent-encoded or not), in the user, host or query as
//! given, in the fixed text of the messages, or in what the messages show for the same URL with
//! the password replaced by `ZZZ...` (the text of an error that the password does not cause);
//! such substrings are not counted as leaks. Every other substring of three characters of the
//! password, raw or as written in the URL (percent-encoded), must not appear.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nelo_migrate::{DatabaseUrl, redact_url};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// nelo's advice after every `UrlError` problem (`database_url/mod.rs`).
const ADVICE: &str = "special characters in the user name or password must be percent-encoded \
     (`@` as `%40`, `:` as `%3A`, `/` as `%2F`, `?` as `%3F`, `#` as `%23`, `%` as `%25`, \
     space as `%20`) (Prisma's P1013)";

/// The problems a `UrlError` names (`invalid database URL `URL`: PROBLEM; ADVICE`).
const PROBLEMS: &[&str] = &[
    "it does not start with `postgresql://` (or `postgres://`)",
    "the scheme is not a scheme; it must be `postgresql://` or `postgres://`",
    "the user name and password do not run to the last `@` before the host: a raw special \
     character ended them early, or an `@` follows the host",
    "it has a `#` after the host, which a database URL does not take",
    "it names no host",
    "the user name is not UTF-8 once percent-decoded",
    "the path holds more than a database name (`/DATABASE`)",
    "the database name is not UTF-8 once percent-decoded",
    "a whole number",
    "`true` or `false`",
    "the port is not a number from 0 to 65535",
    "the host is not a valid host name",
    "the host is not a valid IP address",
    "it does not parse as a URL",
];

/// Other text of the messages that does not come from the URL: the pieces of nelo's messages
/// around what they quote, and the url crate's parse errors.
const PIECES: &[&str] = &[
    "invalid database URL `",
    "the scheme is ",
    "; it must be `postgresql://` or `postgres://`",
    "parameter `",
    "` must be ",
    ":***@",
    "password=***",
    "***`: ",
    "empty host",
    "invalid international domain name",
    "invalid port number",
    "invalid IPv4 address",
    "invalid IPv6 address",
    "invalid domain character",
    "relative URL without a base",
    "relative URL with a cannot-be-a-base base",
    "a cannot-be-a-base URL doesn't have a host to set",
    "URLs more than 4 GB are not supported",
    "postgres",
    "localhost",
    ":5432",
];

/// Every text of the messages that does not come from the URL: each problem as it follows
/// the quoted URL and precedes the advice, and the other pieces.
static MESSAGE_TEXT: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    let mut texts: Vec<String> = PROBLEMS
        .iter()
        .map(|problem| format!("`: {problem}; {ADVICE}"))
        .collect();
    texts.push(format!("`: parameter `; {ADVICE}"));
    texts.extend(PIECES.iter().map(|piece| piece.to_string()));
    texts
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut fields = text.splitn(4, '\0');
    let user = fields.next().unwrap_or_default();
    let password = fields.next().unwrap_or_default();
    let host = fields.next().unwrap_or_default();
    let rest = fields.next().unwrap_or_default();
    if password.chars().count() < 3 {
        return;
    }
    for case in urls(user, password, host, rest) {
        check(&case.url, &case.password, &case.written, &[user, host, rest]);
    }
});

/// A URL to check: the URL, the password it carries (what its syntax makes of the input's
/// password) and that password as written in it (raw or percent-encoded).
struct Case {
    url: String,
    password: String,
    written: String,
}

/// The URLs to check. No kind is left out: raw special characters in the user info and in the
/// query, and key/value strings, are all checked.
fn urls(user: &str, password: &str, host: &str, rest: &str) -> Vec<Case> {
    let encoded_user = utf8_percent_encode(user, NON_ALPHANUMERIC).to_string();
    let encoded_password = utf8_percent_encode(password, NON_ALPHANUMERIC).to_string();
    let query = if rest.is_empty() {
        String::new()
    } else {
        format!("?{rest}")
    };
    let case = |url: String, carried: &str, written: &str| Case {
        url,
        password: carried.to_string(),
        written: written.to_string(),
    };
    // In a query, a raw `&` ends the value by the URL's syntax: what follows is a parameter
    // of its own, whose name messages may show (`parameter `x` must be ...`).
    let raw_query_password = password.split('&').next().unwrap_or_default();
    let mut urls = vec![
        case(
            format!("postgresql://{encoded_user}:{encoded_password}@{host}/db{query}"),
            password,
            &encoded_password,
        ),
        case(
            format!("postgres://{encoded_user}@{host}/db?password={encoded_password}&{rest}"),
            password,
            &encoded_password,
        ),
        case(
            format!("postgresql://{user}:{password}@{host}/db{query}"),
            password,
            password,
        ),
        case(
            format!("postgres://{encoded_user}@{host}/db?{rest}&password={password}"),
            raw_query_password,
            raw_query_password,
        ),
    ];
    let needs_quoting = |text: &str| {
        text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\')
    };
    if !needs_quoting(password) && !needs_quoting(user) && !needs_quoting(host) {
        urls.push(case(
            format!("host={host} user={user} password={password} dbname=db"),
            password,
            password,
        ));
    }
    urls.retain(|case| case.password.chars().count() >= 3);
    urls
}

fn check(url: &str, password: &str, written_password: &str, other_fields: &[&str]) {
    let Some(at) = url.find(written_password) else {
        return;
    };
    let rest_of_url = format!("{}\0{}", &url[..at], &url[at + written_password.len()..]);
    // What else the output may show: the rest of the URL and the other fields, as given, without
    // the tabs and newlines the URL parser removes, and percent-encoded as the parser shows them
    // (a host `ö` shows as `%C3%B6`).
    let mut others = vec![rest_of_url];
    others.extend(other_fields.iter().map(|field| field.to_string()));
    let without_tabs = others
        .iter()
        .map(|text| text.replace(['\t', '\n', '\r'], ""))
        .collect::<Vec<_>>();
    others.extend(without_tabs);
    // As messages quote them: `URL`: ...
    let quoted = others
        .iter()
        .map(|text| format!("`{text}`: "))
        .collect::<Vec<_>>();
    others.extend(quoted);
    let encoded = others
        .iter()
        .map(|text| utf8_percent_encode(text, NON_ALPHANUMERIC).to_string())
        .collect::<Vec<_>>();
    others.extend(encoded);
    let coincidental = |gram: &str| {
        others.iter().any(|text| text.contains(gram))
            || MESSAGE_TEXT.iter().any(|text| text.contains(gram))
    };
    let grams = three_grams(password)
        .chain(three_grams(written_password))
        .filter(|gram| !coincidental(gram))
        .collect::<Vec<_>>();
    // The same URL with the password replaced shows what does not come from the password.
    let filler = "Z".repeat(written_password.chars().count());
    let without_password = url.replacen(written_password, &filler, 1);
    let shown_without_password = shown(&without_password).concat();
    let leaks = shown(url)
        .into_iter()
        .filter_map(|shown| {
            grams
                .iter()
                .find(|gram| shown.contains(**gram) && !shown_without_password.contains(**gram))
                .map(|gram| format!("`{gram}` in {shown}"))
        })
        .collect::<Vec<_>>();
    assert!(
        leaks.is_empty(),
        "the password {password:?} shows: {leaks:?}\nurl: {url}"
    );
}

/// What messages show of `url`: `redact_url`'s output, and the parsed URL's error or its
/// redacted, displayed and debugged forms, user, host and database.
fn shown(url: &str) -> Vec<String> {
    let mut shown = vec![redact_url(url)];
    match DatabaseUrl::parse(url) {
        Ok(parsed) => shown.extend([
            parsed.redacted(),
            parsed.to_string(),
            format!("{parsed:?}"),
            parsed.user(),
            parsed.host().to_string(),
            parsed.database(),
        ]),
        Err(error) => shown.push(error.to_string()),
    }
    shown
}

/// Every substring of three characters.
fn three_grams(text: &str) -> impl Iterator<Item = &str> {
    let starts = text
        .char_indices()
        .map(|(index, _)| index)
        .collect::<Vec<_>>();
    (0..starts.len().saturating_sub(2)).map(move |window| {
        let end = starts.get(window + 3).copied().unwrap_or(text.len());
        &text[starts[window]..end]
    })
}
