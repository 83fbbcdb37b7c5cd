//! The migration lock: concurrent deploys, a killed deploy, a lock held elsewhere.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{TestDb, binary, folder, ignore_events, wait_for};
use nelo_migrate::{Error, LOCK_KEY, Migrator};
use sqlx::Connection;

#[tokio::test]
async fn sixteen_concurrent_deploys_apply_each_migration_once() {
    let db = TestDb::new().await;
    // The test's own tables live outside `public`, which deploy wants empty at first.
    db.execute("CREATE SCHEMA probe; CREATE TABLE probe.applied_log (name text NOT NULL)")
        .await;
    let migrations: Vec<(String, String)> = (0..12)
        .map(|index| {
            (
                format!("202501010000{index:02}_m{index}"),
                format!("CREATE TABLE t{index} (id int);\nINSERT INTO probe.applied_log VALUES ('m{index}');\n"),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = migrations
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    let dir = folder(&borrowed);
    let children: Vec<_> = (0..16)
        .map(|_| {
            binary()
                .args([
                    "deploy",
                    "--lock-timeout",
                    "120",
                    "--database-url",
                    &db.url,
                    "--migrations",
                ])
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn nelo-migrate")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let logged: i64 = db.scalar("SELECT count(*) FROM probe.applied_log").await;
    let distinct: i64 = db
        .scalar("SELECT count(DISTINCT name) FROM probe.applied_log")
        .await;
    assert_eq!((logged, distinct), (12, 12));
    let history = db.history().await;
    assert_eq!(history.len(), 12);
    assert!(history.iter().all(|row| row.1));
}

#[tokio::test]
async fn deploy_killed_mid_migration_leaves_a_state_the_next_deploy_completes() {
    let db = TestDb::new().await;
    // The server notices the dead client during pg_sleep instead of after it.
    db.execute(&format!(
        "ALTER DATABASE \"{}\" SET client_connection_check_interval = '100ms'",
        db.name
    ))
    .await;
    db.execute(
        "CREATE SCHEMA probe; CREATE TABLE probe.kill_switch (armed boolean); \
         INSERT INTO probe.kill_switch VALUES (true);",
    )
    .await;
    let dir = folder(&[
        (
            "20250101000000_first",
            "CREATE TABLE first_table (id int);\n",
        ),
        (
            "20250102000000_slow",
            "CREATE TABLE half_done (id int);\nSELECT pg_sleep(30) FROM probe.kill_switch WHERE armed;\n",
        ),
        ("20250103000000_last", "CREATE TABLE last_table (id int);\n"),
    ]);
    let mut child = binary()
        .args(["deploy", "--database-url", &db.url, "--migrations"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sleeping = "SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'nelo-migrate' AND state = 'active' AND query LIKE '%pg_sleep(30)%'";
    wait_for(
        "the slow migration to start",
        Duration::from_secs(30),
        || async { db.scalar::<i64>(sleeping).await == 1 },
    )
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let connected = "SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'nelo-migrate'";
    wait_for(
        "the killed deploy's backend to go away",
        Duration::from_secs(30),
        || async { db.scalar::<i64>(connected).await == 0 },
    )
    .await;

    assert!(db.table_exists("first_table").await);
    assert!(
        !db.table_exists("half_done").await,
        "the killed transaction rolled back"
    );
    let history = db.history().await;
    assert_eq!(
        history.iter().map(|row| row.0.as_str()).collect::<Vec<_>>(),
        ["20250101000000_first"]
    );

    db.execute("UPDATE probe.kill_switch SET armed = false")
        .await;
    let report = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    assert_eq!(
        report.applied,
        ["20250102000000_slow", "20250103000000_last"]
    );
    assert!(db.table_exists("half_done").await && db.table_exists("last_table").await);
}

#[tokio::test]
async fn lock_held_elsewhere_times_out_naming_the_holder() {
    let db = TestDb::new().await;
    let dir = folder(&[("20250101000000_a", "CREATE TABLE a (id int);\n")]);
    let mut holder = db.connect().await;
    sqlx::raw_sql("SET application_name = 'prisma-migrate-test'")
        .execute(&mut holder)
        .await
        .unwrap();
    let (holder_pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut holder)
        .await
        .unwrap();

    let migrator = Migrator::new(dir.path()).lock_timeout(Duration::from_millis(500));
    let error = migrator.deploy(&db.url, ignore_events).await.unwrap_err();
    match &error {
        Error::LockTimeout {
            holder: Some(found),
            ..
        } => {
            assert_eq!(found.pid, holder_pid);
            assert_eq!(found.application_name, "prisma-migrate-test");
        }
        other => panic!("expected a lock timeout naming the holder, got {other:?}"),
    }
    assert!(
        error.to_string().contains(&format!("pid {holder_pid}")),
        "{error}"
    );
    assert!(!db.table_exists("a").await);
    // resolve and reset wait for the same lock.
    assert!(matches!(
        migrator.resolve_applied(&db.url, "20250101000000_a").await,
        Err(Error::LockTimeout { .. })
    ));
    assert!(matches!(
        migrator.reset(&db.url, ignore_events).await,
        Err(Error::LockTimeout { .. })
    ));

    // Once the holder lets go, deploy proceeds; and deploy released its own lock.
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut holder)
        .await
        .unwrap();
    migrator.deploy(&db.url, ignore_events).await.unwrap();
    let (taken,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut holder)
        .await
        .unwrap();
    assert!(taken, "deploy must release the lock");
    holder.close().await.unwrap();
}

#[tokio::test]
async fn failed_deploy_releases_the_lock() {
    let db = TestDb::new().await;
    let dir = folder(&[("20250101000000_bad", "SELECT * FROM nope;\n")]);
    let migrator = Migrator::new(dir.path()).lock_timeout(Duration::from_millis(500));
    assert!(matches!(
        migrator.deploy(&db.url, ignore_events).await,
        Err(Error::MigrationFailed(_))
    ));
    // The second deploy gets the lock (it fails on the recorded failure, not on the lock).
    assert!(matches!(
        migrator.deploy(&db.url, ignore_events).await,
        Err(Error::FailedMigrationFound { .. })
    ));
}
