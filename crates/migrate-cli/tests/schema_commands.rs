//! `status --drift`, `push` and `create --from-schema` through the binary, against a real
//! server: exit codes, outputs and JSON shapes. Needs NELO_TEST_SERVER_URL.

mod common;

use std::process::Output;

use common::{TestDb, binary, folder, ignore_events, schema_file, server_url};
use nelo_migrate::Migrator;

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn status_drift_is_off_by_default_and_reports_drift_with_exit_1() {
    let db = TestDb::new().await;
    let dir = folder(&[("1_init", "CREATE TABLE note (id bigint PRIMARY KEY);\n")]);
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    let status = |extra: &[&str]| {
        binary()
            .arg("status")
            .arg("--migrations")
            .arg(dir.path())
            .args(extra)
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let clean = status(&["--drift"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    assert!(text(&clean).contains("No drift"), "{}", text(&clean));

    db.execute("CREATE TABLE audit (id bigint)").await;
    let plain = status(&[]);
    assert_eq!(
        plain.status.code(),
        Some(0),
        "a plain status does not look for drift"
    );
    assert!(!text(&plain).contains("drift"), "{}", text(&plain));

    let drifted = status(&["--drift"]);
    assert_eq!(drifted.status.code(), Some(1), "{}", text(&drifted));
    let shown = text(&drifted);
    assert!(shown.contains("Drift detected"), "{shown}");
    assert!(shown.contains("[+] added table `public.audit`"), "{shown}");
    assert!(
        shown.contains("nelo-migrate diff --from-migrations"),
        "{shown}"
    );

    let json = status(&["--drift", "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["up_to_date"], true);
    assert_eq!(value["drift"]["drifted"], true);
    assert_eq!(value["drift"]["replayed"][0], "1_init");
    assert_eq!(value["drift"]["differences"][0]["change"], "added");
}

#[tokio::test]
async fn push_applies_refuses_data_loss_with_the_flag_to_use_and_says_when_in_sync() {
    let db = TestDb::new().await;
    let push = |schema: &tempfile::NamedTempFile, extra: &[&str]| {
        binary()
            .args(["push", "--schema"])
            .arg(schema.path())
            .args(extra)
            .env("DATABASE_URL", &db.url)
            .args(["--shadow-database-url", &server_url()])
            .output()
            .unwrap()
    };
    let with_title = schema_file("CREATE TABLE note (id bigint PRIMARY KEY, title text);\n");
    let applied = push(&with_title, &[]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    assert!(
        text(&applied).contains("[+] added table `public.note`"),
        "{}",
        text(&applied)
    );
    let again = push(&with_title, &[]);
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again).contains("already in sync"), "{}", text(&again));

    db.execute("INSERT INTO note VALUES (1, 'kept')").await;
    let without_title = schema_file("CREATE TABLE note (id bigint PRIMARY KEY);\n");
    let refused = push(&without_title, &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("--accept-data-loss"),
        "{}",
        text(&refused)
    );
    let title: Option<String> = db.scalar("SELECT title FROM note").await;
    assert_eq!(title.as_deref(), Some("kept"));

    let accepted = push(&without_title, &["--accept-data-loss", "--json"]);
    assert_eq!(accepted.status.code(), Some(0), "{}", text(&accepted));
    let value: serde_json::Value = serde_json::from_slice(&accepted.stdout).unwrap();
    assert_eq!(value["applied"], true);
    assert!(!value["warnings"].as_array().unwrap().is_empty(), "{value}");
}

#[test]
fn create_from_schema_writes_two_migrations_when_the_change_uses_an_enum_value_it_adds() {
    let dir = folder(&[(
        "1_init",
        "CREATE TYPE mood AS ENUM ('calm', 'angry');\n\
         CREATE TABLE t (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'calm');\n",
    )]);
    let schema = schema_file(
        "CREATE TYPE mood AS ENUM ('calm', 'happy', 'angry');\n\
         CREATE TABLE t (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'happy');\n",
    );
    let output = binary()
        .args(["create", "--name", "happy", "--migrations"])
        .arg(dir.path())
        .arg("--from-schema")
        .arg(schema.path())
        .args(["--shadow-database-url", &server_url()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let paths: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(paths.len(), 2, "{}", text(&output));
    assert!(paths[1].contains("happy_after_enum_values"), "{paths:?}");
    let first = std::fs::read_to_string(&paths[0]).unwrap();
    let second = std::fs::read_to_string(&paths[1]).unwrap();
    assert!(first.contains("ADD VALUE 'happy'"), "{first}");
    assert!(second.contains("SET DEFAULT 'happy'"), "{second}");
    let names = nelo_migrate::load(dir.path()).unwrap();
    assert_eq!(names.len(), 3, "the second sorts after the first");
    assert!(names[2].name.ends_with("happy_after_enum_values"));
}

/// A drift check that fails (here: a shadow server URL naming no database) still shows the
/// status it was added to, then the error; exit 1 when migrations need attention, else 2.
#[tokio::test]
async fn a_failed_drift_check_still_shows_the_status() {
    let db = TestDb::new().await;
    let dir = folder(&[("1_init", "CREATE TABLE note (id bigint PRIMARY KEY);\n")]);
    let unusable = common::url_for_database(&server_url(), "nelo_review_no_such_database");
    let status = |extra: &[&str]| {
        binary()
            .arg("status")
            .arg("--migrations")
            .arg(dir.path())
            .args(["--drift", "--shadow-database-url", &unusable])
            .args(extra)
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let pending = status(&[]);
    assert_eq!(pending.status.code(), Some(1), "{}", text(&pending));
    let stdout = String::from_utf8_lossy(&pending.stdout);
    assert!(stdout.contains("1_init"), "{}", text(&pending));
    let stderr = String::from_utf8_lossy(&pending.stderr);
    assert!(stderr.contains("for drift"), "{}", text(&pending));

    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    let json = status(&["--json"]);
    assert_eq!(json.status.code(), Some(2), "{}", text(&json));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["up_to_date"], true);
    assert!(value["drift"].is_null(), "{value}");
    assert_eq!(value["entries"][0]["name"], "1_init");
}
