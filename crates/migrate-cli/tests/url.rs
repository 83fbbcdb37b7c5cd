//! Database URLs through the `nelo-migrate` binary: a malformed URL fails at once naming the
//! wrong part, and no failing command shows any piece of a password (a property over
//! generated passwords, raw and percent-encoded, against a port where nothing listens and a
//! real server that refuses them).

mod common;

use std::process::Output;

use common::{binary, folder, server_url};
use nelo_fixtures::passwords::{assert_no_fragment, passwords, percent_encoded as encoded};

fn run(args: &[&str], url: &str, dir: &std::path::Path, connect_timeout: &str) -> Output {
    binary()
        .args(args)
        .arg("--migrations")
        .arg(dir)
        .env("DATABASE_URL", url)
        .env("NELO_CONNECT_TIMEOUT", connect_timeout)
        .env("NELO_LOCK_TIMEOUT", "1")
        .output()
        .expect("run nelo-migrate")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn property_no_failing_command_shows_a_piece_of_the_password() {
    let server = url::Url::parse(&server_url()).unwrap();
    let server_authority = format!(
        "{}@{}:{}",
        server.username(),
        server.host_str().unwrap(),
        server.port().unwrap_or(5432)
    );
    let nowhere = format!("nelo@127.0.0.1:{}", closed_port());
    let dir = folder(&[("20250101000000_a", "CREATE TABLE a (id int);\n")]);
    let commands: &[&[&str]] = &[
        &["deploy"],
        &["status"],
        &["status", "--json"],
        &["resolve", "--applied", "20250101000000_a"],
        &["reset", "--force", "--skip-seed"],
    ];
    for (case, password) in passwords(0x75726c73, 16).into_iter().enumerate() {
        let raw = case % 2 == 0;
        let written = if raw {
            password.clone()
        } else {
            encoded(&password)
        };
        // A real server refuses the password at once; where nothing listens, retries stop
        // after a tenth of a second.
        let ((user, rest), connect_timeout) = if case % 4 < 2 {
            (server_authority.split_once('@').unwrap(), "10")
        } else {
            (nowhere.split_once('@').unwrap(), "0.1")
        };
        let url = format!("postgresql://{user}:{written}@{rest}/postgres?schema=app");
        for args in commands {
            let context = format!(
                "case {case} ({}), {args:?}",
                if raw { "raw" } else { "encoded" }
            );
            let output = run(args, &url, dir.path(), connect_timeout);
            assert!(!output.status.success(), "{context}: {}", text(&output));
            assert_no_fragment(&text(&output), &password, &context);
        }
    }
}

#[test]
fn a_malformed_url_fails_at_once_naming_the_part() {
    let dir = folder(&[("20250101000000_a", "SELECT 1;\n")]);
    let cases = [
        ("htp:/x", "`postgresql://`"),
        (
            "postgresql://nelo:p@ss#w/rd@127.0.0.1:1/db",
            "do not run to the last `@`",
        ),
        (
            "postgresql://nelo:pa/ss@127.0.0.1:1/db",
            "do not run to the last `@`",
        ),
        (
            "postgresql://nelo:pw@127.0.0.1:54x2/db",
            "the port is not a number",
        ),
        (
            "postgresql://nelo:/secret@127.0.0.1:1/db",
            "do not run to the last `@`",
        ),
        ("postgresql://nelo:pw@/db", "names no host"),
        (
            "postgresql://nelo:pw@127.0.0.1:1/db?connect_timeout=x",
            "`connect_timeout`",
        ),
    ];
    for (url, problem) in cases {
        // Before the fix these were retried until the deadline, then reported as a timeout.
        let output = binary()
            .args(["deploy", "--connect-timeout", "0.5", "--migrations"])
            .arg(dir.path())
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        let text = text(&output);
        assert_eq!(output.status.code(), Some(1), "{url}: {text}");
        assert!(text.contains(problem), "{url}: {text}");
        assert!(text.contains("percent-encoded"), "{url}: {text}");
        assert!(!text.contains("within 0.5 s"), "{url} was retried: {text}");
        for piece in ["secret", "ss#w", "pa/s", "a/ss"] {
            assert!(!text.contains(piece), "{text}");
        }
    }
}

#[test]
fn unknown_parameters_are_ignored_with_a_warning() {
    let dir = folder(&[("20250101000000_a", "SELECT 1;\n")]);
    let mut url = url::Url::parse(&server_url()).unwrap();
    url.set_path("/nelo_mt_does_not_exist");
    url.set_query(Some("connection_limit=3&pgbouncer=false&frobnicate=1"));
    let output = run(&["status"], url.as_str(), dir.path(), "10");
    let text = text(&output);
    assert!(
        text.contains("warning: parameter `frobnicate` is not one that Prisma knows"),
        "{text}"
    );
    let warnings: Vec<&str> = text.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(
        text.contains("`nelo_mt_does_not_exist` does not exist"),
        "{text}"
    );
}

#[tokio::test]
async fn prisma_parameters_reach_the_connection() {
    let db = common::TestDb::new().await;
    let dir = folder(&[("20250101000000_a", "CREATE TABLE a (id int);\n")]);
    for (query, schema) in [
        (
            "schema=viaOptions&connection_limit=1&connect_timeout=5&sslmode=disable",
            "viaOptions",
        ),
        (
            "schema=viaQuery&pgbouncer=true&statement_cache_size=0",
            "viaQuery",
        ),
    ] {
        let url = format!("{}?{query}", db.url);
        let output = run(&["deploy"], &url, dir.path(), "10");
        assert!(output.status.success(), "{query}: {}", text(&output));
        let tables: i64 = db
            .scalar(&format!(
                "SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}' \
                 AND tablename IN ('a', '_prisma_migrations')"
            ))
            .await;
        assert_eq!(tables, 2, "{query}");
    }
}

#[tokio::test]
async fn pgbouncer_true_deploys_through_a_real_pgbouncer() {
    let db = common::TestDb::new().await;
    // PgBouncer's default configuration: it refuses startup parameters it does not know.
    let bouncer = common::pgbouncer::PgBouncer::start_with("session", 2, &[]);
    let dir = folder(&[("20250101000000_a", "CREATE TABLE a (id int);\n")]);
    let url = bouncer.url(&db.name, "schema=viaBouncer");
    // Without the parameter, sqlx's startup options are refused by PgBouncer.
    let plain = run(&["status"], &url, dir.path(), "2");
    assert_eq!(plain.status.code(), Some(2), "{}", text(&plain));
    assert!(
        text(&plain).contains("unsupported startup parameter"),
        "{}",
        text(&plain)
    );
    let bounced = format!("{url}&pgbouncer=true");
    let output = run(&["deploy"], &bounced, dir.path(), "10");
    assert!(output.status.success(), "{}", text(&output));
    let tables: i64 = db
        .scalar(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'viaBouncer' \
             AND tablename IN ('a', '_prisma_migrations')",
        )
        .await;
    assert_eq!(tables, 2);
    let status = run(&["status"], &bounced, dir.path(), "10");
    assert!(status.status.success(), "{}", text(&status));
}
