use super::options::search_path_option;
use super::*;
use crate::redact::redact_text;

fn parse(text: &str) -> Result<DatabaseUrl, UrlError> {
    DatabaseUrl::parse(text)
}

#[test]
fn a_full_url_is_read() {
    let url = parse("postgresql://nelo:s%40cret@db.local:6543/app?schema=MyApp").unwrap();
    assert_eq!(url.user(), "nelo");
    assert_eq!(url.password(), "s@cret");
    assert_eq!(url.host(), "db.local");
    assert_eq!(url.port(), 6543);
    assert_eq!(url.server(), "db.local:6543");
    assert_eq!(url.database(), "app");
    assert_eq!(url.schema(), Some("MyApp"));
    assert_eq!(
        url.to_string(),
        "postgresql://nelo:***@db.local:6543/app?schema=MyApp"
    );
    assert!(!format!("{url:?}").contains("cret"));
}

#[test]
fn defaults_and_decoding() {
    let url = parse("postgres://my%20user@localhost/my%2Ddb").unwrap();
    assert_eq!(url.port(), 5432);
    assert_eq!(url.user(), "my user");
    assert_eq!(url.password(), "");
    assert_eq!(url.database(), "my-db");
    let url = parse("postgresql://nelo@localhost").unwrap();
    assert_eq!(url.database(), "postgres", "Prisma's default database");
    let url = parse("postgresql:///app?host=/var/run/postgresql").unwrap();
    assert_eq!(url.host(), "/var/run/postgresql");
}

#[test]
fn raw_at_and_colon_in_the_password_parse_as_meant() {
    let url = parse("postgresql://nelo:p@ss:w0rd@db.example:5432/app").unwrap();
    assert_eq!(url.password(), "p@ss:w0rd");
    assert_eq!(url.host(), "db.example");
    assert_eq!(url.to_string(), "postgresql://nelo:***@db.example:5432/app");
}

#[test]
fn each_wrong_part_is_named() {
    let part = |text: &str| parse(text).unwrap_err().part;
    assert_eq!(part("htp:/x"), UrlPart::Scheme);
    assert_eq!(part("mysql://root:hunter2@db/app"), UrlPart::Scheme);
    assert_eq!(
        part("postgresql://nelo:p@ss#w/rd@db:5432/app"),
        UrlPart::UserInfo
    );
    assert_eq!(
        part("postgresql://nelo:pa/ss@db:5432/app"),
        UrlPart::UserInfo
    );
    assert_eq!(part("postgresql://nelo:@#x@db:5432/app"), UrlPart::UserInfo);
    assert_eq!(part("postgresql://nelo:pw@db:54x2/app"), UrlPart::Port);
    assert_eq!(part("postgresql://nelo:pw@/app"), UrlPart::Host);
    assert_eq!(part("postgresql://nelo:?secret@db/app"), UrlPart::UserInfo);
    assert_eq!(part("postgresql://nelo:/secret@db/app"), UrlPart::UserInfo);
    assert_eq!(part("postgresql://nelo:pw@db/app#x"), UrlPart::Fragment);
    assert_eq!(part("postgresql://nelo:pw@db/app/more"), UrlPart::Database);
    assert_eq!(
        part("postgresql://nelo:pw@db/app?connect_timeout=soon"),
        UrlPart::Parameter
    );
}

#[test]
fn the_message_says_what_is_wrong_and_to_percent_encode() {
    let error = parse("postgresql://nelo:pa/ss@db:5432/app").unwrap_err();
    let text = error.to_string();
    assert!(text.contains("ended them early"), "{text}");
    assert!(text.contains("percent-encoded"), "{text}");
    assert!(text.contains("P1013"), "{text}");
    assert!(
        text.contains("`postgresql://nelo:***@db:5432/app`"),
        "{text}"
    );
    let error = parse("htp:/x").unwrap_err().to_string();
    assert!(error.contains("postgresql://"), "{error}");
}

#[test]
fn parameter_errors_never_show_the_value() {
    let error = parse("postgresql://nelo@db/app?connect_timeout=hunter2").unwrap_err();
    assert!(!error.problem.contains("hunter2"), "{error}");
    assert!(error.problem.contains("`connect_timeout`"), "{error}");
    let error = parse("postgresql://nelo@db/app?sslpassword=hunter2&pgbouncer=x").unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(error.problem.contains("`pgbouncer`"), "{error}");
}

#[test]
fn unknown_parameters_are_listed() {
    let url = parse("postgresql://nelo@db/app?schema=s&frobnicate=1").unwrap();
    assert_eq!(url.ignored().len(), 1);
    assert!(url.ignored()[0].contains("`frobnicate`"));
}

#[test]
fn sqlx_gets_the_credentials_and_translated_parameters_only() {
    let url = parse(
        "postgresql://nelo:pw@db.local:6543/app?schema=My%20App&connection_limit=3&\
         application_name=web&sslmode=disable&options=-c%20geqo%3Doff",
    )
    .unwrap();
    let options = url.connect_options().unwrap();
    assert_eq!(options.get_host(), "db.local");
    assert_eq!(options.get_port(), 6543);
    assert_eq!(options.get_username(), "nelo");
    assert_eq!(options.get_database(), Some("app"));
    assert_eq!(options.get_application_name(), Some("web"));
    assert!(matches!(
        options.get_ssl_mode(),
        sqlx::postgres::PgSslMode::Disable
    ));
    assert_eq!(
        options.get_options(),
        Some(r#"-c geqo=off -c search_path="My\ App" -c IntervalStyle=postgres"#)
    );
    let plain = parse("postgresql://nelo@db/app")
        .unwrap()
        .connect_options()
        .unwrap();
    assert_eq!(plain.get_application_name(), Some(APPLICATION_NAME));
    assert_eq!(
        plain.get_options(),
        Some(r#"-c search_path="public" -c IntervalStyle=postgres"#)
    );
    let bouncer = parse("postgresql://nelo@db/app?pgbouncer=true&schema=s").unwrap();
    assert_eq!(bouncer.connect_options().unwrap().get_options(), None);
    assert!(bouncer.session_pins().is_empty());
}

#[test]
fn unpinned_options_leave_the_pins_to_statements() {
    let url = parse("postgresql://nelo@db/app?schema=My%20App&options=-c%20geqo%3Doff").unwrap();
    assert_eq!(
        url.connect_options_unpinned().unwrap().get_options(),
        Some("-c geqo=off")
    );
    assert_eq!(
        url.session_pins(),
        [
            ("search_path", r#""My App""#.to_string()),
            ("IntervalStyle", "postgres".to_string())
        ]
    );
}

#[test]
fn with_schema_replaces_the_schema_and_keeps_the_rest() {
    let url = parse("postgresql://u:p%40w@localhost/db?schema=old&sslmode=disable").unwrap();
    let moved = url.with_schema("My App");
    assert_eq!(moved.schema(), Some("My App"));
    assert_eq!(
        parse(moved.as_str()).unwrap().schema(),
        Some("My App"),
        "{}",
        moved.redacted()
    );
    assert_eq!(moved.password(), "p@w");
    assert!(moved.as_str().contains("sslmode=disable"));
    assert!(!moved.as_str().contains("old"));
    let plain = parse("postgresql://u:p@localhost/db")
        .unwrap()
        .with_schema("app");
    assert_eq!(plain.as_str(), "postgresql://u:p@localhost/db?schema=app");
}

#[test]
fn with_database_and_port_keep_the_credentials() {
    let url = parse("postgresql://nelo:nelo@localhost:5432/nelo").unwrap();
    let moved = url.with_port(55000).with_database("other db");
    assert_eq!(
        moved.as_str(),
        "postgresql://nelo:nelo@localhost:55000/other%20db"
    );
    assert_eq!(moved.database(), "other db");
    assert!(url.same_server(&url.with_database("x")));
    assert!(!url.same_server(&moved));
    assert!(url.is_local());
    let socket = parse("postgresql:///app").unwrap().with_port(6000);
    assert_eq!(socket.server(), "localhost:6000");
}

#[test]
fn search_path_keeps_case_and_escapes_for_the_startup_packet() {
    assert_eq!(search_path_option("MyApp"), r#""MyApp""#);
    assert_eq!(search_path_option("my app"), r#""my\ app""#);
    assert_eq!(search_path_option(r#"a"b\c"#), r#""a""b\\c""#);
}

use nelo_fixtures::passwords::{assert_no_fragment, passwords, percent_encoded as encoded};

#[test]
fn property_no_password_fragment_in_anything_shown_and_no_silent_misparse() {
    for (case, password) in passwords(0x6e656c6f, 3000).into_iter().enumerate() {
        let raw = case % 2 == 0;
        let written = if raw {
            password.clone()
        } else {
            encoded(&password)
        };
        let query = match case % 3 {
            0 => String::new(),
            1 => "?schema=app&connection_limit=3".to_string(),
            _ => format!("?sslidentity=id.p12&sslpassword={}", encoded(&password)),
        };
        let text = format!("postgresql://nelo:{written}@127.0.0.1:5432/app{query}");
        let context = format!("case {case}, {}", if raw { "raw" } else { "encoded" });
        let mut shown = vec![
            crate::redact::redact_url(&text),
            redact_text(&format!("error: cannot reach {text}: refused")),
        ];
        match parse(&text) {
            Ok(url) => {
                // Parsed means parsed as written: the same password, host and database.
                let meant = percent_decode_str(&written)
                    .decode_utf8_lossy()
                    .into_owned();
                if !raw || percent_decode_str(&written).decode_utf8().is_ok() {
                    assert_eq!(url.password(), meant, "{context}");
                }
                assert_eq!(url.host(), "127.0.0.1", "{context}");
                assert_eq!(url.database(), "app", "{context}");
                assert_eq!(url.port(), 5432, "{context}");
                assert!(url.connect_options().is_ok(), "{context}");
                shown.extend([
                    url.to_string(),
                    format!("{url:?}"),
                    url.ignored().join("\n"),
                ]);
            }
            Err(error) => {
                assert!(raw, "an encoded password must parse ({context}): {error}");
                shown.extend([error.to_string(), format!("{error:?}")]);
            }
        }
        assert_no_fragment(&shown.join("\n"), &password, &context);
    }
}

#[test]
fn schema_parameter_is_read_from_the_query() {
    assert_eq!(
        url_schema("postgresql://u:p@localhost/db?sslmode=disable&schema=MyApp"),
        Some("MyApp".to_string())
    );
    assert_eq!(
        url_schema("postgresql://u:p@localhost/db?schema=my%20app"),
        Some("my app".to_string())
    );
    assert_eq!(url_schema("postgresql://u:p@localhost/db?schema="), None);
    assert_eq!(url_schema("postgresql://u:p@localhost/db"), None);
}
