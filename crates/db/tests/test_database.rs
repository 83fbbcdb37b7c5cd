//! `TestDatabase` against the server of `NELO_TEST_SERVER_URL`.

use std::path::Path;

mod common;

use common::{DropOnExit, admin, server_url};
use nelo_db::testing::{self, TestDatabase, names};
use sqlx::{Connection, PgConnection};

/// `(is_template, allows_connections)` of a database, `None` when it does not exist.
async fn database_flags(name: &str) -> Option<(bool, bool)> {
    let mut admin = admin().await;
    sqlx::query_as("SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut admin)
        .await
        .unwrap()
}

/// A copy of Nelo's migrations plus one migration of its own, so that its template is new.
fn private_folder(extra_sql: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_folder(&nelo_db::migrations_dir(), dir.path());
    write_migration(dir.path(), "29990101000000_private", extra_sql);
    dir
}

fn copy_folder(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn write_migration(dir: &Path, name: &str, sql: &str) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("migration.sql"), sql).unwrap();
}

#[tokio::test]
async fn each_test_database_is_migrated_and_isolated() {
    let first = TestDatabase::new().await;
    let second = TestDatabase::new().await;
    assert_ne!(first.name(), second.name());
    assert_eq!(first.template(), second.template());
    assert!(first.name().starts_with(names::TEST_DATABASE_PREFIX));

    for db in [&first, &second] {
        let applied: Vec<String> = sqlx::query_scalar(
            "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        assert_eq!(applied, ["20250817000000_baseline"]);
    }
    sqlx::query(r#"INSERT INTO "User" ("id", "email", "updatedAt") VALUES ('u1', 'a@b.c', now())"#)
        .execute(first.pool())
        .await
        .unwrap();
    let users_in_second: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "User""#)
        .fetch_one(second.pool())
        .await
        .unwrap();
    assert_eq!(users_in_second, 0);

    let mut conn = PgConnection::connect(first.url()).await.unwrap();
    let users_in_first: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "User""#)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(users_in_first, 1);
}

#[tokio::test]
async fn dropping_the_guard_drops_the_database_even_with_open_connections() {
    let db = TestDatabase::new().await;
    let name = db.name().to_string();
    let mut open = db.connect().await.unwrap();
    sqlx::query("SELECT 1").execute(&mut open).await.unwrap();
    sqlx::query("SELECT 1").execute(db.pool()).await.unwrap();
    assert!(database_flags(&name).await.is_some());
    drop(db);
    assert_eq!(database_flags(&name).await, None);
}

#[tokio::test]
async fn the_template_is_a_template_nobody_can_connect_to() {
    let db = TestDatabase::new().await;
    assert_eq!(database_flags(db.template()).await, Some((true, false)));
    let mut admin = admin().await;
    let sessions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
            .bind(db.template())
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(sessions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_requests_build_one_template_and_all_get_a_database() {
    let folder = private_folder("CREATE TABLE \"Parallel\" (\"id\" INTEGER);");
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let dir = folder.path().to_path_buf();
        tasks.push(tokio::spawn(async move {
            TestDatabase::create(&server_url(), &dir).await
        }));
    }
    let mut databases = Vec::new();
    for task in tasks {
        databases.push(task.await.unwrap());
    }
    let made: Vec<String> = databases
        .iter()
        .flatten()
        .map(|db| db.template().to_string())
        .collect();
    let _cleanup = DropOnExit(made.first().cloned().into_iter().collect());
    let databases: Vec<TestDatabase> = databases
        .into_iter()
        .map(|db| db.expect("every request gets a database"))
        .collect();
    assert!(made.iter().all(|template| template == &made[0]), "{made:?}");
    for db in &databases {
        sqlx::query(r#"SELECT count(*) FROM "Parallel""#)
            .execute(db.pool())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn editing_a_migration_builds_a_new_template_and_drops_the_old_one() {
    let folder = private_folder("CREATE TABLE \"Edited\" (\"id\" INTEGER);");
    let before = TestDatabase::with_migrations(folder.path()).await;
    let old_template = before.template().to_string();
    let mut cleanup = DropOnExit(vec![old_template.clone()]);
    drop(before);

    write_migration(
        folder.path(),
        "29990101000000_private",
        "CREATE TABLE \"Edited\" (\"id\" BIGINT);",
    );
    let after = TestDatabase::with_migrations(folder.path()).await;
    cleanup.0.push(after.template().to_string());
    assert_ne!(after.template(), old_template);
    assert_eq!(
        database_flags(&old_template).await,
        None,
        "the superseded template is dropped"
    );
    let column_type: String = sqlx::query_scalar(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'Edited'",
    )
    .fetch_one(after.pool())
    .await
    .unwrap();
    assert_eq!(column_type, "bigint");
}

#[tokio::test]
async fn a_broken_migration_is_reported_and_leaves_no_template() {
    let folder = private_folder("CREATE TABLE \"Broken\" (\"id\" NO_SUCH_TYPE);");
    let error = TestDatabase::create(&server_url(), folder.path())
        .await
        .err()
        .expect("deploy fails");
    assert!(matches!(error, testing::Error::Deploy { .. }), "{error:?}");
    let template = testing::template_name(folder.path()).unwrap();
    assert_eq!(
        database_flags(&template).await,
        None,
        "no half-built template is left"
    );
}

#[tokio::test]
async fn leftovers_are_swept_and_live_databases_kept() {
    let host = testing::this_host_tag().expect("Linux tells the boot id and pid namespace");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let dead_pid = {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    let of_dead_process = names::test_database_name(now, Some(host), dead_pid, 1);
    let of_old_other_host = names::test_database_name(now - 3 * 60 * 60, Some("ffffffff"), 1, 1);
    let of_young_other_host = names::test_database_name(now, Some("ffffffff"), 1, 2);
    let of_this_process = names::test_database_name(now, Some(host), std::process::id(), 999_999);
    let all = [
        &of_dead_process,
        &of_old_other_host,
        &of_young_other_host,
        &of_this_process,
    ];
    let _cleanup = DropOnExit(all.iter().map(|name| name.to_string()).collect());
    let mut admin = admin().await;
    for name in all {
        nelo_migrate::postgres::create_database(&mut admin, name, None)
            .await
            .unwrap();
    }

    let swept = testing::sweep_leftovers(&server_url()).await.unwrap();
    assert!(swept.contains(&of_dead_process), "{swept:?}");
    assert!(swept.contains(&of_old_other_host), "{swept:?}");
    assert!(!swept.contains(&of_young_other_host), "{swept:?}");
    assert!(!swept.contains(&of_this_process), "{swept:?}");
    assert_eq!(database_flags(&of_dead_process).await, None);
    assert!(database_flags(&of_this_process).await.is_some());
}
