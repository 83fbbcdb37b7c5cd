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

/// A domain's CHECK loosened by hand is drift (exit 1), named with its constraints, where it
/// used to be "cannot tell".
#[tokio::test]
async fn a_domain_changed_by_hand_is_drift() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "1_init",
        "CREATE DOMAIN posint AS integer CONSTRAINT positive CHECK (VALUE > 0);\n\
         CREATE TABLE stock (id bigint PRIMARY KEY, count posint);\n",
    )]);
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    db.execute(
        "ALTER DOMAIN posint DROP CONSTRAINT positive;
         ALTER DOMAIN posint ADD CONSTRAINT positive CHECK (VALUE >= 0);",
    )
    .await;
    let drifted = binary()
        .arg("status")
        .arg("--migrations")
        .arg(dir.path())
        .arg("--drift")
        .args(["--shadow-database-url", &server_url()])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let shown = text(&drifted);
    assert_eq!(drifted.status.code(), Some(1), "{shown}");
    assert!(shown.contains("Drift detected"), "{shown}");
    assert!(
        shown.contains("changed domain `public.posint` (constraints:"),
        "{shown}"
    );
    assert!(!shown.contains("Cannot tell"), "{shown}");
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

/// Objects of kinds nelo does not model never make an answer "in sync": a partition dropped
/// by hand (holding rows), a rule added by hand and a TOAST storage parameter changed by hand are
/// "cannot tell" in `status --drift` (exit 2, each named with its kind), and `push` of a schema
/// holding such an object applies nothing and exits 2.
#[tokio::test]
async fn unmodelled_kinds_on_one_side_make_drift_and_push_cannot_tell() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "1_init",
        "CREATE TABLE event (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);\n\
         CREATE TABLE event_2026 PARTITION OF event FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');\n\
         CREATE TABLE event_old PARTITION OF event DEFAULT;\n\
         CREATE TABLE note (id bigint PRIMARY KEY, body text) WITH (fillfactor = 90, toast.autovacuum_enabled = true);\n",
    )]);
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    let status = |extra: &[&str]| {
        binary()
            .arg("status")
            .arg("--migrations")
            .arg(dir.path())
            .arg("--drift")
            .args(["--shadow-database-url", &server_url()])
            .args(extra)
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let clean = status(&[]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    assert!(text(&clean).contains("No drift"), "{}", text(&clean));

    db.execute(
        "INSERT INTO event SELECT g, date '2020-01-01' + g FROM generate_series(1, 364) g;
         DROP TABLE event_old;
         CREATE RULE keep_notes AS ON DELETE TO note DO INSTEAD NOTHING;
         ALTER TABLE note SET (toast.autovacuum_enabled = false);",
    )
    .await;
    let unknown = status(&[]);
    let shown = text(&unknown);
    assert_eq!(unknown.status.code(), Some(2), "{shown}");
    assert!(!shown.contains("No drift"), "{shown}");
    assert!(
        shown.contains("Cannot tell whether the database drifted"),
        "{shown}"
    );
    for expected in [
        "partition public.event_old (only in the migrations)",
        "rule keep_notes on public.note (only in the database): CREATE RULE",
        "toast storage parameters public.note (differs): autovacuum_enabled=true -> autovacuum_enabled=false",
    ] {
        assert!(
            shown.contains(expected),
            "`{expected}` missing from {shown}"
        );
    }
    let json = status(&["--json"]);
    assert_eq!(json.status.code(), Some(2));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["drift"]["drifted"], false);
    let kinds: Vec<&str> = value["drift"]["cannot_tell"]
        .as_array()
        .unwrap()
        .iter()
        .map(|object| object["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["partition", "rule", "toast storage parameters"],
        "{value}"
    );

    // `push` of a schema with a rule the database lacks: refused before anything runs.
    let target = TestDb::new().await;
    let schema = schema_file(
        "CREATE TABLE person (id bigint PRIMARY KEY);\n\
         CREATE RULE keep_people AS ON DELETE TO person DO INSTEAD NOTHING;\n",
    );
    let pushed = binary()
        .args(["push", "--schema"])
        .arg(schema.path())
        .env("DATABASE_URL", &target.url)
        .args(["--shadow-database-url", &server_url()])
        .output()
        .unwrap();
    let shown = text(&pushed);
    assert_eq!(pushed.status.code(), Some(2), "{shown}");
    assert!(shown.contains("cannot tell"), "{shown}");
    assert!(
        shown.contains("rule keep_people on public.person (only in the schema)"),
        "{shown}"
    );
    assert!(!shown.contains("in sync"), "{shown}");
    let tables: i64 = target
        .scalar("SELECT count(*) FROM pg_class WHERE relname = 'person'")
        .await;
    assert_eq!(tables, 0, "nothing applied");
}

/// A database whose own settings leave `public` out of the search_path and render intervals
/// as ISO 8601: `status` still finds the applied migrations, and `--drift` finds no drift
/// (the sessions pin search_path and IntervalStyle).
#[tokio::test]
async fn a_database_search_path_without_public_and_its_interval_style_change_nothing() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "1_init",
        "CREATE TABLE lease (id bigint PRIMARY KEY, term interval NOT NULL DEFAULT '1 day');\n",
    )]);
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    let database = db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    db.execute(&format!(
        "ALTER DATABASE \"{database}\" SET search_path = elsewhere;
         ALTER DATABASE \"{database}\" SET IntervalStyle = iso_8601;"
    ))
    .await;
    let output = binary()
        .arg("status")
        .arg("--migrations")
        .arg(dir.path())
        .arg("--drift")
        .args(["--shadow-database-url", &server_url()])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains("the database is up to date"), "{shown}");
    assert!(shown.contains("No drift"), "{shown}");
}
