//! The `nelo-migrate` binary: exit codes, messages, redaction, create, reset, resolve, seed.

mod common;

use std::process::Output;

use common::{TestDb, binary, folder, ignore_events, url_for_database, write_migration};
use nelo_migrate::{Error, Migrator, State};

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    binary()
        .args(args)
        .arg("--migrations")
        .arg(dir)
        .output()
        .expect("run nelo-migrate")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn status_exit_codes_and_json() {
    let db = TestDb::new().await;
    let dir = folder(&[
        ("20250101000000_a", "CREATE TABLE a (id int);\n"),
        ("20250102000000_b", "CREATE TABLE b (id int);\n"),
    ]);
    let status = |dir: &std::path::Path| run(&["status", "--database-url", &db.url], dir);

    let pending = status(dir.path());
    assert_eq!(pending.status.code(), Some(1), "{}", stderr(&pending));
    assert!(String::from_utf8_lossy(&pending.stdout).contains("pending"));

    let deployed = run(&["deploy", "--database-url", &db.url], dir.path());
    assert!(deployed.status.success(), "{}", stderr(&deployed));
    assert!(
        stderr(&deployed).contains("applying 20250101000000_a ... done in"),
        "{}",
        stderr(&deployed)
    );

    let up_to_date = status(dir.path());
    assert_eq!(up_to_date.status.code(), Some(0), "{}", stderr(&up_to_date));

    // Modified after apply and missing from the folder both need attention.
    write_migration(
        dir.path(),
        "20250101000000_a",
        "CREATE TABLE a (id bigint);\n",
    );
    std::fs::remove_dir_all(dir.path().join("20250102000000_b")).unwrap();
    let json = run(&["status", "--json", "--database-url", &db.url], dir.path());
    assert_eq!(json.status.code(), Some(1));
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("stdout is JSON");
    assert_eq!(parsed["up_to_date"], false);
    assert_eq!(parsed["entries"][0]["name"], "20250101000000_a");
    assert_eq!(parsed["entries"][0]["state"], "modified");
    assert_eq!(parsed["entries"][1]["state"], "missing");

    // A plain file is no migration (as in Prisma): nothing changes.
    std::fs::write(dir.path().join("notes.txt"), "stray").unwrap();
    assert_eq!(status(dir.path()).status.code(), Some(1));

    // Could not tell: a migration folder without `migration.sql`, or no server.
    std::fs::create_dir(dir.path().join("20250103000000_draft")).unwrap();
    let bad_folder = status(dir.path());
    assert_eq!(bad_folder.status.code(), Some(2));
    assert!(
        stderr(&bad_folder).contains("20250103000000_draft"),
        "{}",
        stderr(&bad_folder)
    );
    std::fs::remove_dir(dir.path().join("20250103000000_draft")).unwrap();
    let no_server = run(
        &[
            "status",
            "--connect-timeout",
            "0.5",
            "--database-url",
            "postgresql://nelo:hunter2@127.0.0.1:1/nelo",
        ],
        dir.path(),
    );
    assert_eq!(no_server.status.code(), Some(2), "{}", stderr(&no_server));
    assert!(
        stderr(&no_server).contains("postgresql://nelo:***@127.0.0.1:1/nelo"),
        "{}",
        stderr(&no_server)
    );
    assert!(!stderr(&no_server).contains("hunter2"));
}

#[tokio::test]
async fn wrong_password_is_reported_without_the_password() {
    let db = TestDb::new().await;
    let dir = folder(&[("20250101000000_a", "SELECT 1;\n")]);
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_password(Some("not-the-password-42")).unwrap();
    let output = run(&["deploy", "--database-url", url.as_str()], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "password authentication failed for user `{}`",
            url.username()
        )),
        "{text}"
    );
    assert!(
        text.contains("hint: check the user and password of the URL"),
        "{text}"
    );
    assert!(text.contains("DATABASE_URL (--database-url)"), "{text}");
    assert!(text.contains(&db.name), "{text}");
    assert!(!text.contains("not-the-password-42"), "{text}");
}

#[tokio::test]
async fn missing_database_is_named() {
    let dir = folder(&[("20250101000000_a", "SELECT 1;\n")]);
    let url = url_for_database(&common::server_url(), "nelo_mt_does_not_exist");
    let error = Migrator::new(dir.path())
        .deploy(&url, ignore_events)
        .await
        .unwrap_err();
    match &error {
        Error::DatabaseMissing { database, .. } => assert_eq!(database, "nelo_mt_does_not_exist"),
        other => panic!("{other:?}"),
    }
    assert!(
        error
            .to_string()
            .contains("database `nelo_mt_does_not_exist` does not exist on"),
        "{error}"
    );
    let output = run(&["deploy", "--database-url", &url], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains("hint: create it (e.g. `createdb nelo_mt_does_not_exist`)"),
        "{text}"
    );
}

/// `nelo-migrate ARGS` on a pseudo-terminal of its own (util-linux `script`), outside CI,
/// with `input` typed in.
fn in_a_terminal(args: &str, input: &str) -> Output {
    use std::io::Write;
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_nelo-migrate"));
    let mut child = std::process::Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env_remove("CI")
        .env_remove("DATABASE_URL")
        .env_remove("NELO_SEED_COMMAND")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run script");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn reset_in_a_terminal_asks_for_the_database_name() {
    let db = TestDb::new().await;
    let dir = folder(&[("20250101000000_a", "CREATE TABLE a (id int);\n")]);
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    db.execute("CREATE TABLE junk (id int);").await;
    let args = format!(
        "reset --skip-seed --database-url '{}' --migrations '{}'",
        db.url,
        dir.path().display()
    );

    let wrong = in_a_terminal(&args, "nelo\n");
    let screen = String::from_utf8_lossy(&wrong.stdout);
    assert!(!wrong.status.success(), "{screen}");
    assert!(
        screen.contains(&format!("type the database name (`{}`)", db.name))
            && screen.contains("reset cancelled"),
        "{screen}"
    );
    let password = url::Url::parse(&db.url)
        .unwrap()
        .password()
        .unwrap()
        .to_string();
    assert!(
        !screen.contains(&format!(":{password}@")),
        "password shown:\n{screen}"
    );
    assert!(
        db.table_exists("junk").await,
        "a cancelled reset changed the database"
    );

    let right = in_a_terminal(&args, &format!("{}\n", db.name));
    let screen = String::from_utf8_lossy(&right.stdout);
    assert!(right.status.success(), "{screen}");
    assert!(!db.table_exists("junk").await, "{screen}");
    assert!(db.table_exists("a").await);
}

#[tokio::test]
async fn reset_drops_every_schema_and_reapplies() {
    let db = TestDb::new().await;
    let dir = folder(&[
        (
            "20250101000000_ext",
            "CREATE EXTENSION IF NOT EXISTS vector;\nCREATE TABLE items (id int, embedding vector(3));\n",
        ),
        (
            "20250102000000_schema",
            "CREATE SCHEMA audit;\nCREATE TABLE audit.events (id int);\n",
        ),
    ]);
    let migrator = Migrator::new(dir.path());
    migrator.deploy(&db.url, ignore_events).await.unwrap();
    db.execute("INSERT INTO items VALUES (1, '[1,2,3]'); CREATE SCHEMA junk; CREATE TABLE junk.t (id int);").await;

    let refused = run(&["reset", "--database-url", &db.url], dir.path());
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("--force"), "{}", stderr(&refused));
    assert!(
        db.table_exists("junk.t").await,
        "refused reset must not touch the database"
    );

    let marker = tempfile::NamedTempFile::new().unwrap();
    let seed = format!(
        "printf '%s' \"$DATABASE_URL\" > '{}'",
        marker.path().display()
    );
    let reset = run(
        &[
            "reset",
            "--force",
            "--seed-command",
            &seed,
            "--database-url",
            &db.url,
        ],
        dir.path(),
    );
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert!(
        stderr(&reset).contains("dropped schema `junk`"),
        "{}",
        stderr(&reset)
    );
    assert_eq!(
        std::fs::read_to_string(marker.path()).unwrap(),
        db.url,
        "seed ran with DATABASE_URL"
    );

    assert!(!db.table_exists("junk.t").await);
    assert!(db.table_exists("audit.events").await && db.table_exists("items").await);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM items").await, 0);
    assert_eq!(db.history().await.len(), 2);
    let owner: String = db
        .scalar("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'")
        .await;
    assert_eq!(owner, "pg_database_owner");
    let public_usage: bool = db
        .scalar("SELECT has_schema_privilege('public', 'public', 'USAGE')")
        .await;
    assert!(public_usage);

    // Through the library, without seeding.
    let report = migrator.reset(&db.url, ignore_events).await.unwrap();
    assert_eq!(report.applied.len(), 2);
    assert!(report.dropped_schemas.contains(&"audit".to_string()));
}

#[tokio::test]
async fn resolve_both_ways_and_errors_name_the_choices() {
    let db = TestDb::new().await;
    let dir = folder(&[
        ("20250101000000_ok", "CREATE TABLE ok (id int);\n"),
        ("20250102000000_bad", "SELECT * FROM nope;\n"),
        (
            "20250103000000_baseline",
            "CREATE TABLE never_run (id int);\n",
        ),
    ]);
    let migrator = Migrator::new(dir.path());
    assert!(migrator.deploy(&db.url, ignore_events).await.is_err());

    let unknown = run(
        &[
            "resolve",
            "--rolled-back",
            "20250109000000_nope",
            "--database-url",
            &db.url,
        ],
        dir.path(),
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("valid choices: 20250102000000_bad"),
        "{}",
        stderr(&unknown)
    );

    match migrator
        .resolve_rolled_back(&db.url, "20250101000000_ok")
        .await
    {
        Err(Error::WrongState { state, choices, .. }) => {
            assert_eq!(state, State::Applied);
            assert_eq!(choices, ["20250102000000_bad"]);
        }
        other => panic!("{other:?}"),
    }
    match migrator.resolve_applied(&db.url, "20250101000000_ok").await {
        Err(Error::WrongState { choices, .. }) => {
            assert_eq!(choices, ["20250102000000_bad", "20250103000000_baseline"])
        }
        other => panic!("{other:?}"),
    }

    let rolled_back = run(
        &[
            "resolve",
            "--rolled-back",
            "20250102000000_bad",
            "--database-url",
            &db.url,
        ],
        dir.path(),
    );
    assert!(rolled_back.status.success(), "{}", stderr(&rolled_back));
    let status = migrator.status(&db.url).await.unwrap();
    assert_eq!(
        status.get("20250102000000_bad").unwrap().state,
        State::Pending
    );

    // Baselining: record without running; then the fixed migration deploys alone.
    let applied = run(
        &[
            "resolve",
            "--applied",
            "20250103000000_baseline",
            "--database-url",
            &db.url,
        ],
        dir.path(),
    );
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert!(!db.table_exists("never_run").await);
    write_migration(
        dir.path(),
        "20250102000000_bad",
        "CREATE TABLE fixed (id int);\n",
    );
    let report = migrator.deploy(&db.url, ignore_events).await.unwrap();
    assert_eq!(report.applied, ["20250102000000_bad"]);
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());

    let twice = migrator
        .resolve_applied(&db.url, "20250103000000_baseline")
        .await
        .unwrap_err();
    assert!(twice.to_string().contains("is applied"), "{twice}");
}

#[tokio::test]
async fn failed_migration_can_be_resolved_applied() {
    let db = TestDb::new().await;
    let dir = folder(&[
        ("20250101000000_bad", "SELECT * FROM nope;\n"),
        ("20250102000000_next", "CREATE TABLE next (id int);\n"),
    ]);
    let migrator = Migrator::new(dir.path());
    assert!(migrator.deploy(&db.url, ignore_events).await.is_err());
    migrator
        .resolve_applied(&db.url, "20250101000000_bad")
        .await
        .unwrap();
    assert_eq!(
        migrator
            .deploy(&db.url, ignore_events)
            .await
            .unwrap()
            .applied,
        ["20250102000000_next"]
    );
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());
}

#[test]
fn create_makes_a_timestamped_folder_and_refuses_bad_names() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    let output = run(&["create", "--name", "Add Users-Table"], &migrations);
    assert!(output.status.success(), "{}", stderr(&output));
    let path = String::from_utf8(output.stdout).unwrap();
    let path = std::path::Path::new(path.trim());
    let folder_name = path
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        nelo_migrate::is_migration_folder_name(folder_name),
        "{folder_name}"
    );
    assert!(folder_name.ends_with("_add_users_table"), "{folder_name}");
    assert!(path.is_file());
    assert!(migrations.join("migration_lock.toml").is_file());
    assert_eq!(nelo_migrate::load(&migrations).unwrap().len(), 1);

    let refused = run(&["create", "--name", "drop; table"], &migrations);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("[a-z0-9_]+"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn seed_without_a_command_says_how_to_configure_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = binary()
        .args([
            "seed",
            "--database-url",
            "postgresql://nelo:secret@127.0.0.1:1/nelo",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("NELO_SEED_COMMAND"),
        "{}",
        stderr(&output)
    );
    let failing = binary()
        .args([
            "seed",
            "--seed-command",
            "echo seed broke >&2; exit 4",
            "--database-url",
            "postgresql://x@h/db",
        ])
        .output()
        .unwrap();
    assert_eq!(failing.status.code(), Some(1));
    assert!(
        stderr(&failing).contains("seed broke"),
        "{}",
        stderr(&failing)
    );
}

#[test]
fn provider_other_than_postgresql_is_refused() {
    let dir = folder(&[("20250101000000_a", "SELECT 1;\n")]);
    std::fs::write(
        dir.path().join("migration_lock.toml"),
        "provider = \"mysql\"\n",
    )
    .unwrap();
    assert!(matches!(
        nelo_migrate::load(dir.path()),
        Err(Error::Provider { .. })
    ));
    std::fs::write(
        dir.path().join("migration_lock.toml"),
        "provider = \"postgresql\"\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("20250102000000_empty")).unwrap();
    match nelo_migrate::load(dir.path()) {
        Err(Error::Layout { path, .. }) => assert!(path.ends_with("20250102000000_empty")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_blocked_deploy_says_which_resolve_commands_of_this_binary_to_run() {
    let db = TestDb::new().await;
    let dir = folder(&[("20250101000000_bad", "SELECT 1/0;\n")]);
    let failed = run(&["deploy", "--database-url", &db.url], dir.path());
    assert_eq!(failed.status.code(), Some(1));
    let blocked = run(&["deploy", "--database-url", &db.url], dir.path());
    assert_eq!(blocked.status.code(), Some(1));
    let text = stderr(&blocked);
    assert!(
        text.contains("blocks new ones until it is resolved"),
        "{text}"
    );
    assert!(
        text.contains("hint: once the database is fixed: `nelo-migrate resolve --rolled-back 20250101000000_bad`"),
        "{text}"
    );
    // Said once: the library's message names no command of its own.
    assert_eq!(
        text.matches("nelo-migrate resolve --rolled-back").count(),
        1,
        "{text}"
    );
}

/// `nelo-migrate lint --json | head -c 10`: a reader that closes stdout early ends the command
/// quietly, as ripgrep does (exit 0, no panic), here deterministically: the pipe's read end is
/// closed before the command starts.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    // A finding, so that plain `lint` writes to stdout too.
    let dir = folder(&[("20250101000000_a", "CREATE INDEX a_id ON a (id);\n")]);
    for args in [&["lint", "--json"][..], &["lint"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = binary()
            .args(args)
            .arg("--migrations")
            .arg(dir.path())
            .stdout(writer)
            .output()
            .expect("run nelo-migrate");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    }
}

/// A marker below the first line, or in another case, is an error naming the file and line,
/// not a migration silently run in a transaction.
#[test]
fn a_misplaced_no_transaction_marker_is_an_error_with_its_line() {
    let sql = "-- an index on a large table\n-- NELO:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n";
    let dir = folder(&[("20250101000000_a", sql)]);
    let output = run(&["lint"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let expected = format!(
        "`{}:2`: `-- NELO:no-transaction` looks like the marker",
        dir.path().join("20250101000000_a/migration.sql").display()
    );
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
}
