//! Through a real PgBouncer: transaction mode with Prisma's `pgbouncer=true` (the lock taken
//! in each migration's transaction), and session mode (as a direct connection).

mod common;

use common::pgbouncer::PgBouncer;
use common::{TestDb, folder, ignore_events, write_migration};
use nelo_migrate::{Error, Migrator, State};

/// Migrations that log each application, so that applying one twice shows.
fn logged_folder(count: usize) -> tempfile::TempDir {
    let mut migrations = vec![(
        "20250101000000_log".to_string(),
        "CREATE TABLE applied_log (name text NOT NULL);\n".to_string(),
    )];
    for index in 1..=count {
        migrations.push((
            format!("20250101{index:06}_step"),
            format!(
                "CREATE TABLE step_{index} (id int);\nINSERT INTO applied_log VALUES ('step_{index}');\n"
            ),
        ));
    }
    let borrowed: Vec<(&str, &str)> = migrations
        .iter()
        .map(|(name, sql)| (name.as_str(), sql.as_str()))
        .collect();
    folder(&borrowed)
}

#[tokio::test]
async fn status_deploy_and_resolve_work_through_a_transaction_pooler() {
    let pooler = PgBouncer::start("transaction", 2);
    let db = TestDb::new().await;
    let dir = logged_folder(5);
    let migrator = Migrator::new(dir.path());
    // Without the parameter, status (reads only) works too: no prepared statements.
    let plain = pooler.url(&db.name, "");
    assert_eq!(migrator.status(&plain).await.unwrap().pending().count(), 6);
    let url = pooler.url(&db.name, "pgbouncer=true");
    let report = migrator.deploy(&url, ignore_events).await.unwrap();
    assert_eq!(report.applied.len(), 6);
    assert!(migrator.status(&plain).await.unwrap().is_up_to_date());
    assert!(migrator.status(&url).await.unwrap().is_up_to_date());
    // No session lock was left on any server connection.
    let held: i64 = db
        .scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await;
    assert_eq!(held, 0);

    write_migration(dir.path(), "20250201000000_broken", "SELECT 1/0;\n");
    assert!(matches!(
        migrator.deploy(&url, ignore_events).await,
        Err(Error::MigrationFailed(_))
    ));
    migrator
        .resolve_rolled_back(&url, "20250201000000_broken")
        .await
        .unwrap();
    let status = migrator.status(&url).await.unwrap();
    assert_eq!(
        status.get("20250201000000_broken").unwrap().state,
        State::Pending
    );
    migrator
        .resolve_applied(&url, "20250201000000_broken")
        .await
        .unwrap();
    assert!(migrator.status(&url).await.unwrap().is_up_to_date());
}

#[tokio::test]
async fn the_url_schema_is_set_in_each_transaction_through_the_pooler() {
    let pooler = PgBouncer::start("transaction", 2);
    let db = TestDb::new().await;
    let dir = logged_folder(2);
    let url = pooler.url(&db.name, "schema=App&pgbouncer=true");
    Migrator::new(dir.path())
        .deploy(&url, ignore_events)
        .await
        .unwrap();
    assert!(db.table_exists("\"App\".step_2").await);
    assert!(db.table_exists("\"App\"._prisma_migrations").await);
    assert!(!db.table_exists("public.step_2").await);
    assert!(
        Migrator::new(dir.path())
            .status(&url)
            .await
            .unwrap()
            .is_up_to_date()
    );
}

#[tokio::test]
async fn sixteen_concurrent_deploys_through_a_transaction_pooler_apply_each_migration_once() {
    let pooler = PgBouncer::start("transaction", 4);
    let db = TestDb::new().await;
    let count = 30;
    let dir = logged_folder(count);
    let url = pooler.url(&db.name, "pgbouncer=true");
    let mut deploys = Vec::new();
    for _ in 0..16 {
        let migrator = Migrator::new(dir.path()).lock_timeout(std::time::Duration::from_secs(60));
        let url = url.clone();
        deploys.push(tokio::spawn(async move {
            migrator.deploy(&url, ignore_events).await
        }));
    }
    let mut applied_by_all = Vec::new();
    for deploy in deploys {
        let report = deploy.await.unwrap().expect("every deploy succeeds");
        applied_by_all.extend(report.applied);
    }
    applied_by_all.sort();
    let before = applied_by_all.len();
    applied_by_all.dedup();
    assert_eq!(
        before,
        count + 1,
        "each migration applied by exactly one deploy"
    );
    assert_eq!(applied_by_all.len(), count + 1);
    let (logged, distinct): (i64, i64) = {
        let mut conn = db.connect().await;
        sqlx::query_as("SELECT count(*), count(DISTINCT name) FROM applied_log")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!((logged, distinct), (count as i64, count as i64));
    let rows: i64 = db.scalar("SELECT count(*) FROM _prisma_migrations").await;
    assert_eq!(rows, count as i64 + 1);
}

#[tokio::test]
async fn what_cannot_hold_the_lock_through_a_transaction_pooler_is_refused_before_anything_runs() {
    let pooler = PgBouncer::start("transaction", 2);
    let db = TestDb::new().await;
    let dir = folder(&[
        ("20250101000000_table", "CREATE TABLE t (a int);\n"),
        (
            "20250102000000_index",
            "CREATE INDEX CONCURRENTLY t_a ON t (a);\n",
        ),
    ]);
    let url = pooler.url(&db.name, "pgbouncer=true");
    let migrator = Migrator::new(dir.path());
    let error = migrator.deploy(&url, ignore_events).await.unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, Error::NeedsDirectConnection { .. }),
        "{text}"
    );
    assert!(text.contains("20250102000000_index"), "{text}");
    assert!(text.contains("direct connection"), "{text}");
    assert!(!db.table_exists("t").await, "nothing ran");
    let reset = migrator.reset(&url, ignore_events).await.unwrap_err();
    assert!(
        matches!(reset, Error::NeedsDirectConnection { .. }),
        "{reset}"
    );
    // Through a direct connection, the same folder deploys.
    migrator.deploy(&db.url, ignore_events).await.unwrap();
    assert!(db.table_exists("t").await);
}

#[tokio::test]
async fn a_session_pooler_works_as_a_direct_connection() {
    let pooler = PgBouncer::start("session", 4);
    let db = TestDb::new().await;
    let count = 10;
    let dir = logged_folder(count);
    let url = pooler.url(&db.name, "");
    let mut deploys = Vec::new();
    for _ in 0..4 {
        let migrator = Migrator::new(dir.path()).lock_timeout(std::time::Duration::from_secs(60));
        let url = url.clone();
        deploys.push(tokio::spawn(async move {
            migrator.deploy(&url, ignore_events).await
        }));
    }
    let mut applied = 0;
    for deploy in deploys {
        applied += deploy.await.unwrap().unwrap().applied.len();
    }
    assert_eq!(applied, count + 1);
    let logged: i64 = db.scalar("SELECT count(*) FROM applied_log").await;
    assert_eq!(logged, count as i64);
    // CREATE INDEX CONCURRENTLY runs alone through a session pooler, as directly.
    write_migration(
        dir.path(),
        "20250301000000_index",
        "CREATE INDEX CONCURRENTLY step_1_id ON step_1 (id);\n",
    );
    Migrator::new(dir.path())
        .deploy(&url, ignore_events)
        .await
        .unwrap();
}
