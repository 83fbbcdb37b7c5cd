//! `cargo xtask` commands that read DATABASE_URL, with generated passwords (raw and
//! percent-encoded) that a real server refuses: none of them shows a piece of the password,
//! and a URL that does not parse as written is refused before anything runs.
//!
//! The container and volume names are unique and never created; the server is the one
//! `cargo xtask test` starts (NELO_TEST_SERVER_URL).

use std::path::Path;
use std::process::{Command, Output};

use nelo_fixtures::passwords::{assert_no_fragment, passwords, percent_encoded as encoded};

fn server() -> url::Url {
    let text = std::env::var("NELO_TEST_SERVER_URL").unwrap_or_else(|_| {
        panic!("NELO_TEST_SERVER_URL is not set: run `cargo xtask test`, which sets it")
    });
    url::Url::parse(&text).unwrap()
}

/// xtask with DATABASE_URL and its own names for everything it could touch.
fn xtask(args: &[&str], database_url: &str, work: &Path) -> Output {
    let id = &uuid::Uuid::new_v4().simple().to_string()[..12];
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(work)
        .env("DATABASE_URL", database_url)
        .env_remove("TEST_DATABASE_URL")
        .env("NELO_ENV_FILE", work.join("no.env"))
        .env("NELO_PG_CONTAINER", format!("nelo_url_{id}"))
        .env("NELO_PG_VOLUME", format!("nelo_url_{id}_data"))
        .env("NELO_BACKUP_DIR", work.join("backups"))
        .env("NELO_MIGRATIONS_DIR", work.join("migrations"))
        .env_remove("CI")
        .output()
        .expect("run xtask")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn workdir() -> tempfile::TempDir {
    let work = tempfile::tempdir().unwrap();
    let migration = work.path().join("migrations/20250101000000_a");
    std::fs::create_dir_all(&migration).unwrap();
    std::fs::write(
        migration.join("migration.sql"),
        "CREATE TABLE a (id int);\n",
    )
    .unwrap();
    std::fs::write(
        work.path().join("migrations/migration_lock.toml"),
        "provider = \"postgresql\"\n",
    )
    .unwrap();
    work
}

#[test]
fn property_no_command_shows_a_piece_of_the_password() {
    let server = server();
    let authority = format!(
        "{}@{}:{}",
        server.username(),
        server.host_str().unwrap(),
        server.port().unwrap_or(5432)
    );
    let (user, rest) = authority.split_once('@').unwrap();
    let work = workdir();
    let commands: &[(&[&str], bool)] = &[
        (&["db", "migrate", "status"], true),
        (&["db", "migrate", "status", "--json"], true),
        (&["db", "migrate", "deploy", "--no-backup"], true),
        (
            &["db", "migrate", "resolve", "--applied", "20250101000000_a"],
            true,
        ),
        (&["db", "status"], false),
        (&["db", "status", "--json"], false),
    ];
    for (case, password) in passwords(0x78746173, 8).into_iter().enumerate() {
        let raw = case % 2 == 0;
        let written = if raw {
            password.clone()
        } else {
            encoded(&password)
        };
        let url = format!("postgresql://{user}:{written}@{rest}/nelo_url_prop");
        for (args, must_fail) in commands {
            let context = format!(
                "case {case} ({}), {args:?}",
                if raw { "raw" } else { "encoded" }
            );
            let output = xtask(args, &url, work.path());
            if *must_fail {
                assert!(!output.status.success(), "{context}: {}", text(&output));
            }
            assert_no_fragment(&text(&output), &password, &context);
        }
    }
    assert!(!work.path().join("backups").exists());
}

#[test]
fn a_malformed_url_is_refused_naming_the_part() {
    let work = workdir();
    for (url, problem) in [
        ("htp:/x", "`postgresql://`"),
        (
            "postgresql://nelo:p@ss#w/rd@127.0.0.1:1/nelo",
            "do not run to the last `@`",
        ),
        (
            "postgresql://nelo:pa/ss@127.0.0.1:1/nelo",
            "do not run to the last `@`",
        ),
        (
            "postgresql://nelo:pw@127.0.0.1:54x2/nelo",
            "the port is not a number",
        ),
    ] {
        let output = xtask(&["db", "migrate", "status"], url, work.path());
        let text = text(&output);
        assert!(!output.status.success(), "{url}: {text}");
        assert!(text.contains("invalid DATABASE_URL"), "{url}: {text}");
        assert!(text.contains(problem), "{url}: {text}");
        assert!(text.contains("percent-encoded"), "{url}: {text}");
        for piece in ["ss#w", "w/rd", "pa/s", "a/ss"] {
            assert!(!text.contains(piece), "{text}");
        }
    }
}
