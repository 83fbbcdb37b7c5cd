//! Lock-safe DDL: a migration waits for a table lock only briefly and retries, so the
//! application's queries never queue behind it for long (issue 19 §2).

mod common;

use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestDb, binary, folder, ignore_events, wait_for, write_migration};
use nelo_migrate::{Event, Migrator};
use sqlx::{Connection, PgConnection};

const CREATE: (&str, &str) = (
    "20250101000000_scene",
    "CREATE TABLE \"Scene\" (id serial PRIMARY KEY, title text NOT NULL);\n\
     INSERT INTO \"Scene\" (title) SELECT 'scene ' || n FROM generate_series(1, 1000) AS n;\n",
);
const ALTER: (&str, &str) = (
    "20250102000000_summary",
    "ALTER TABLE \"Scene\" ADD COLUMN \"summary\" TEXT;\n",
);

/// A session holding ACCESS SHARE on "Scene" in an open transaction, as a long report or a
/// nightly `pg_dump` does; its pid.
async fn reader(db: &TestDb, application_name: &str) -> (PgConnection, i32) {
    let mut conn = db.connect().await;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::raw_sql(&format!(
        "SET application_name = '{application_name}'; BEGIN; SELECT count(*) FROM \"Scene\";"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    (conn, pid)
}

fn deploy(db: &TestDb, dir: &std::path::Path, env: &[(&str, &str)]) -> Child {
    let mut command = binary();
    command
        .args(["deploy", "--database-url", &db.url, "--migrations"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().expect("spawn nelo-migrate")
}

async fn wait_output(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// Whether a session of `application_name` is waiting for a lock on a statement like `like`.
async fn waiting(db: &TestDb, application_name: &str, like: &str) -> bool {
    db.scalar::<bool>(&format!(
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = '{application_name}' AND wait_event_type = 'Lock' \
         AND query LIKE '{like}')"
    ))
    .await
}

/// The start of the query a session of `application_name` waits on, as text.
async fn waiting_since(db: &TestDb, application_name: &str) -> Option<String> {
    let mut conn = db.connect().await;
    let since: Option<String> = sqlx::query_scalar(&format!(
        "SELECT query_start::text FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = '{application_name}' AND wait_event_type = 'Lock'"
    ))
    .fetch_optional(&mut conn)
    .await
    .unwrap();
    since
}

async fn prepared(migrations: &[(&str, &str)]) -> (TestDb, tempfile::TempDir) {
    let db = TestDb::new().await;
    let dir = folder(&migrations[..1]);
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    for (name, sql) in &migrations[1..] {
        write_migration(dir.path(), name, sql);
    }
    (db, dir)
}

#[tokio::test]
async fn an_alter_behind_a_long_reader_retries_and_lets_the_application_through() {
    let (db, dir) = prepared(&[CREATE, ALTER]).await;
    let (mut blocker, blocker_pid) = reader(&db, "nightly-report").await;
    let mut child = deploy(&db, dir.path(), &[]);
    wait_for(
        "the deploy's ALTER TABLE to wait for its lock",
        Duration::from_secs(30),
        || waiting(&db, "nelo-migrate", "%ALTER TABLE%"),
    )
    .await;
    // The application's reads go through while the reader still holds its lock and the
    // deploy keeps trying: each waits at most one lock_timeout behind the ALTER.
    let mut app = db.connect().await;
    for _ in 0..5 {
        let count: i64 = tokio::time::timeout(
            Duration::from_secs(20),
            sqlx::query_scalar("SELECT count(*) FROM \"Scene\"").fetch_one(&mut app),
        )
        .await
        .expect("an application SELECT stayed queued behind the deploy")
        .unwrap();
        assert_eq!(count, 1000);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the deploy is still waiting for the reader"
    );
    assert!(
        !db.scalar::<bool>(
            "SELECT EXISTS (SELECT FROM _prisma_migrations WHERE migration_name = '20250102000000_summary')"
        )
        .await,
        "nothing is recorded while it waits"
    );
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    let output = wait_output(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("waiting for AccessExclusiveLock on \"Scene\""),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("pid {blocker_pid}")), "{stderr}");
    assert!(stderr.contains("nightly-report"), "{stderr}");
    assert!(
        stderr.contains("SELECT count(*) FROM \"Scene\""),
        "{stderr}"
    );
    assert!(
        db.scalar::<bool>(
            "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_name = 'Scene' AND column_name = 'summary')"
        )
        .await
    );
    let history = db.history().await;
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|row| row.1 && row.4.is_none()));
}

#[tokio::test]
async fn a_spent_budget_exits_75_naming_the_blocker_and_records_nothing() {
    let (db, dir) = prepared(&[CREATE, ALTER]).await;
    let (mut blocker, blocker_pid) = reader(&db, "nightly-report").await;
    let output = wait_output(deploy(
        &db,
        dir.path(),
        &[
            ("NELO_LOCK_RETRY_BUDGET", "2"),
            ("NELO_DDL_LOCK_TIMEOUT", "200"),
        ],
    ))
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("was not applied"), "{stderr}");
    assert!(stderr.contains(&format!("pid {blocker_pid}")), "{stderr}");
    assert!(stderr.contains("nightly-report"), "{stderr}");
    assert!(stderr.contains("nothing needs resolving"), "{stderr}");
    // Nothing applied, nothing recorded: no failed row, so no P3009.
    let history = db.history().await;
    assert_eq!(
        history.iter().map(|row| row.0.as_str()).collect::<Vec<_>>(),
        ["20250101000000_scene"]
    );
    assert!(
        !db.scalar::<bool>(
            "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_name = 'Scene' AND column_name = 'summary')"
        )
        .await
    );
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    let rerun = wait_output(deploy(&db, dir.path(), &[])).await;
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert_eq!(db.history().await.len(), 2);
}

#[tokio::test]
async fn a_migration_that_sets_its_own_lock_timeout_keeps_it() {
    let (db, dir) = prepared(&[
        CREATE,
        (
            "20250102000000_summary",
            "SET LOCAL lock_timeout = '60s';\nALTER TABLE \"Scene\" ADD COLUMN \"summary\" TEXT;\n",
        ),
    ])
    .await;
    let (mut blocker, _) = reader(&db, "nightly-report").await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let url = db.url.clone();
    let migrations = dir.path().to_path_buf();
    let deploy = tokio::spawn(async move {
        Migrator::new(migrations)
            .deploy(&url, move |event| seen.lock().unwrap().push(event))
            .await
    });
    wait_for(
        "the deploy's ALTER TABLE to wait for its lock",
        Duration::from_secs(30),
        || waiting(&db, "nelo-migrate", "%ALTER TABLE%"),
    )
    .await;
    let first = waiting_since(&db, "nelo-migrate").await;
    // Well past nelo's own 500 ms: the same statement is still waiting, never retried.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(waiting_since(&db, "nelo-migrate").await, first);
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    let report = deploy.await.unwrap().unwrap();
    assert_eq!(report.applied, ["20250102000000_summary"]);
    assert!(
        !events
            .lock()
            .unwrap()
            .iter()
            .any(|event| matches!(event, Event::LockWait(_))),
        "no lock wait timed out"
    );
}

#[tokio::test]
async fn a_zero_ddl_lock_timeout_waits_as_prisma_does() {
    let (db, dir) = prepared(&[CREATE, ALTER]).await;
    let (mut blocker, _) = reader(&db, "nightly-report").await;
    let child = deploy(&db, dir.path(), &[("NELO_DDL_LOCK_TIMEOUT", "0")]);
    wait_for(
        "the deploy's ALTER TABLE to wait for its lock",
        Duration::from_secs(30),
        || waiting(&db, "nelo-migrate", "%ALTER TABLE%"),
    )
    .await;
    let first = waiting_since(&db, "nelo-migrate").await;
    // An application read now queues behind the deploy, as under Prisma.
    let url = db.url.clone();
    let app = tokio::spawn(async move {
        let options = url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .unwrap()
            .application_name("app");
        let mut conn = PgConnection::connect_with(&options).await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM \"Scene\"")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    });
    wait_for(
        "the application's SELECT to queue behind the deploy",
        Duration::from_secs(30),
        || waiting(&db, "app", "SELECT count(*)%"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        waiting_since(&db, "nelo-migrate").await,
        first,
        "never retried"
    );
    assert!(!app.is_finished());
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    assert_eq!(app.await.unwrap(), 1000);
    let output = wait_output(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("waiting for"), "{stderr}");
}

const INDEX: (&str, &str) = (
    "20250102000000_scene_title",
    "CREATE INDEX CONCURRENTLY \"Scene_title_idx\" ON \"Scene\" (title);\n",
);

/// A session holding a snapshot (REPEATABLE READ) that a concurrent index build must wait
/// for; it locks no table.
async fn snapshot_holder(db: &TestDb) -> PgConnection {
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "SET application_name = 'long-report'; BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn
}

async fn index_state(db: &TestDb) -> Vec<(String, bool)> {
    let mut conn = db.connect().await;
    sqlx::query_as(
        "SELECT c.relname::text, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE i.indrelid = '\"Scene\"'::regclass ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_concurrent_index_that_timed_out_is_dropped_and_built_again() {
    let (db, dir) = prepared(&[CREATE, INDEX]).await;
    let mut blocker = snapshot_holder(&db).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let url = db.url.clone();
    let migrations = dir.path().to_path_buf();
    let deploy = tokio::spawn(async move {
        Migrator::new(migrations)
            .ddl_lock_timeout(Duration::from_millis(200))
            .deploy(&url, move |event| seen.lock().unwrap().push(event))
            .await
    });
    let waits = || {
        events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|event| match event {
                Event::LockWait(wait) => Some(wait.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    wait_for(
        "two timed-out attempts of the index build",
        Duration::from_secs(60),
        || {
            let count = waits().len();
            async move { count >= 2 }
        },
    )
    .await;
    // Each attempt's INVALID index was dropped before the next: never two of them.
    let invalid = index_state(&db)
        .await
        .into_iter()
        .filter(|(_, valid)| !valid)
        .count();
    assert!(invalid <= 1, "{:?}", index_state(&db).await);
    let wait = waits().remove(0);
    let lock = wait.lock.expect("the wait was seen");
    assert_eq!(lock.lock_type, "virtualxid");
    assert_eq!(
        lock.blocker.expect("the blocker was seen").application_name,
        "long-report"
    );
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    let report = deploy.await.unwrap().unwrap();
    assert_eq!(report.applied, ["20250102000000_scene_title"]);
    assert_eq!(
        index_state(&db).await,
        [
            ("Scene_pkey".to_string(), true),
            ("Scene_title_idx".to_string(), true)
        ]
    );
    let history = db.history().await;
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|row| row.1));
}

#[tokio::test]
async fn a_concurrent_index_given_up_leaves_no_row_and_no_invalid_index() {
    let (db, dir) = prepared(&[CREATE, INDEX]).await;
    let mut blocker = snapshot_holder(&db).await;
    let output = wait_output(deploy(
        &db,
        dir.path(),
        &[
            ("NELO_LOCK_RETRY_BUDGET", "2"),
            ("NELO_DDL_LOCK_TIMEOUT", "200"),
        ],
    ))
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("long-report"), "{stderr}");
    assert_eq!(
        db.history()
            .await
            .iter()
            .map(|row| row.0.as_str())
            .collect::<Vec<_>>(),
        ["20250101000000_scene"]
    );
    assert_eq!(index_state(&db).await, [("Scene_pkey".to_string(), true)]);
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    let rerun = wait_output(deploy(&db, dir.path(), &[])).await;
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert_eq!(index_state(&db).await.len(), 2);
}

/// Prisma, Flyway and golang-migrate deadlock here: the waiting deploy holds a snapshot in
/// its blocking lock call, and the index build waits for that snapshot.
#[tokio::test]
async fn two_deploys_of_a_concurrent_index_both_succeed() {
    let db = TestDb::new().await;
    let dir = folder(&[
        (
            "20250101000000_scene",
            "CREATE TABLE \"Scene\" (id serial PRIMARY KEY, title text NOT NULL);\n\
             INSERT INTO \"Scene\" (title) SELECT md5(n::text) FROM generate_series(1, 300000) AS n;\n",
        ),
        INDEX,
    ]);
    let children: Vec<_> = (0..2)
        .map(|_| deploy(&db, dir.path(), &[("NELO_LOCK_TIMEOUT", "120")]))
        .collect();
    for child in children {
        let output = wait_output(child).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(
        index_state(&db).await,
        [
            ("Scene_pkey".to_string(), true),
            ("Scene_title_idx".to_string(), true)
        ]
    );
    let history = db.history().await;
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|row| row.1 && !row.2));
}

#[tokio::test]
async fn a_statement_by_statement_migration_retries_only_the_statement_that_timed_out() {
    let (db, dir) = prepared(&[
        CREATE,
        (
            "20250102000000_steps",
            "-- nelo:no-transaction\nCREATE TABLE \"Note\" (id int);\nALTER TABLE \"Scene\" ADD COLUMN \"summary\" TEXT;\n",
        ),
    ])
    .await;
    let (mut blocker, _) = reader(&db, "nightly-report").await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let url = db.url.clone();
    let migrations = dir.path().to_path_buf();
    let deploy = tokio::spawn(async move {
        Migrator::new(migrations)
            .deploy(&url, move |event| seen.lock().unwrap().push(event))
            .await
    });
    wait_for("a timed-out attempt", Duration::from_secs(30), || {
        let waited = events
            .lock()
            .unwrap()
            .iter()
            .any(|event| matches!(event, Event::LockWait(_)));
        async move { waited }
    })
    .await;
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    let report = deploy.await.unwrap().unwrap();
    assert_eq!(report.applied, ["20250102000000_steps"]);
    // The first statement ran once: running it again would have failed (the table exists).
    let steps = events
        .lock()
        .unwrap()
        .iter()
        .filter(|event| matches!(event, Event::StepApplied { .. }))
        .count();
    assert_eq!(steps, 2);
    let history = db.history().await;
    assert_eq!(history[1].3, 2);
}

const OWN_COMMITS: (&str, &str) = (
    "20250102000000_own_commits",
    "BEGIN;\nCREATE TABLE \"Note\" (id int);\nCOMMIT;\nBEGIN;\nALTER TABLE \"Scene\" ADD COLUMN \"summary\" TEXT;\nCOMMIT;\n",
);

#[tokio::test]
async fn a_file_with_its_own_commits_is_retried_from_after_its_last_commit() {
    let (db, dir) = prepared(&[CREATE, OWN_COMMITS]).await;
    let (mut blocker, _) = reader(&db, "nightly-report").await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let url = db.url.clone();
    let migrations = dir.path().to_path_buf();
    let deploy = tokio::spawn(async move {
        Migrator::new(migrations)
            .deploy(&url, move |event| seen.lock().unwrap().push(event))
            .await
    });
    wait_for("two timed-out attempts", Duration::from_secs(30), || {
        let waits = events
            .lock()
            .unwrap()
            .iter()
            .filter(|event| matches!(event, Event::LockWait(_)))
            .count();
        async move { waits >= 2 }
    })
    .await;
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    // Sending the file again from its start would fail: "Note" exists since its first COMMIT.
    let report = deploy.await.unwrap().unwrap();
    assert_eq!(report.applied, ["20250102000000_own_commits"]);
    assert!(db.table_exists("\"Note\"").await);
    let history = db.history().await;
    assert!(history.iter().all(|row| row.1 && row.4.is_none()));
}

#[tokio::test]
async fn a_budget_spent_after_a_files_own_commit_is_a_failure_to_resolve() {
    let (db, dir) = prepared(&[CREATE, OWN_COMMITS]).await;
    let (mut blocker, _) = reader(&db, "nightly-report").await;
    let output = wait_output(deploy(
        &db,
        dir.path(),
        &[
            ("NELO_LOCK_RETRY_BUDGET", "1"),
            ("NELO_DDL_LOCK_TIMEOUT", "200"),
        ],
    ))
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Part of it is committed: not transient, the user must look (P3009 on the next deploy).
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("COMMIT at line 3"), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    let history = db.history().await;
    assert_eq!(history.len(), 2);
    assert!(!history[1].1, "recorded as failed: {history:?}");
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
}

/// Whether a session other than the test's waits for a lock on a statement like `like`.
async fn anyone_waiting(db: &TestDb, like: &str) -> bool {
    db.scalar::<bool>(&format!(
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND query LIKE '{like}' AND pid <> pg_backend_pid())"
    ))
    .await
}

#[tokio::test]
async fn push_retries_behind_a_long_reader_and_gives_up_with_the_budget() {
    use nelo_migrate::diff::{PushOptions, push_with_locks};
    let db = TestDb::new().await;
    db.execute(
        "CREATE TABLE \"Scene\" (id bigint PRIMARY KEY, title text NOT NULL);\n\
         INSERT INTO \"Scene\" SELECT n, 'scene ' || n FROM generate_series(1, 1000) AS n;",
    )
    .await;
    let schema = common::schema_file(
        "CREATE TABLE \"Scene\" (id bigint PRIMARY KEY, title text NOT NULL, summary text);\n",
    );
    let options = PushOptions {
        diff: common::diff_options(),
        accept_data_loss: false,
        lock_timeout: Duration::from_secs(10),
    };
    let locks = |budget| nelo_migrate::DdlLocks {
        timeout: Duration::from_millis(200),
        budget,
    };
    let (mut blocker, _) = reader(&db, "nightly-report").await;
    let given_up = push_with_locks(
        &db.url,
        schema.path(),
        &options,
        locks(Duration::from_secs(1)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(given_up, nelo_migrate::Error::LockRetryBudgetSpent { .. }),
        "{given_up:?}"
    );
    let summary = "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_name = 'Scene' AND column_name = 'summary')";
    assert!(!db.scalar::<bool>(summary).await);

    let (url, path) = (db.url.clone(), schema.path().to_path_buf());
    let pushing = tokio::spawn(async move {
        push_with_locks(&url, &path, &options, locks(Duration::from_secs(60))).await
    });
    wait_for(
        "push's ALTER TABLE to wait for its lock",
        Duration::from_secs(30),
        || anyone_waiting(&db, "%ALTER TABLE%"),
    )
    .await;
    let mut app = db.connect().await;
    for _ in 0..3 {
        tokio::time::timeout(
            Duration::from_secs(20),
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM \"Scene\"").fetch_one(&mut app),
        )
        .await
        .expect("an application SELECT stayed queued behind push")
        .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!pushing.is_finished());
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    pushing.await.unwrap().unwrap();
    assert!(db.scalar::<bool>(summary).await);
}

#[tokio::test]
async fn reset_gives_up_behind_a_long_reader_and_drops_nothing() {
    let (db, dir) = prepared(&[CREATE]).await;
    let (mut blocker, _) = reader(&db, "nightly-report").await;
    let error = Migrator::new(dir.path())
        .ddl_lock_timeout(Duration::from_millis(200))
        .lock_retry_budget(Duration::from_secs(1))
        .reset(&db.url, ignore_events)
        .await
        .unwrap_err();
    assert!(
        matches!(error, nelo_migrate::Error::LockRetryBudgetSpent { .. }),
        "{error:?}"
    );
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM \"Scene\"").await,
        1000,
        "nothing was dropped"
    );
    let report = Migrator::new(dir.path())
        .reset(&db.url, ignore_events)
        .await
        .unwrap();
    assert_eq!(report.applied, ["20250101000000_scene"]);
}
