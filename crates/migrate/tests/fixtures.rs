//! Real-world-sized Prisma folders from `nelo-fixtures`: hundreds of migrations with enums,
//! extensions, functions, DO blocks, dollar-quoted bodies and comments holding semicolons.

mod common;

use common::{TestDb, ignore_events};
use nelo_migrate::{Migrator, NO_TRANSACTION_MARKER, load};

const REALISTIC_COUNT: usize = 300;

#[tokio::test]
async fn realistic_prisma_folder_deploys_without_error() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let names = nelo_fixtures::realistic_folder(dir.path(), REALISTIC_COUNT).unwrap();
    let migrator = Migrator::new(dir.path());
    let report = migrator.deploy(&db.url, ignore_events).await.unwrap();
    assert_eq!(report.applied, names);
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());
    assert!(
        migrator
            .deploy(&db.url, ignore_events)
            .await
            .unwrap()
            .applied
            .is_empty()
    );
}

/// The same history run statement by statement: the splitter must cut every real migration
/// exactly where the server would, or a statement fails.
#[tokio::test]
async fn realistic_folder_runs_statement_by_statement() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    nelo_fixtures::realistic_folder(dir.path(), REALISTIC_COUNT).unwrap();
    let mut statements = 0;
    for migration in load(dir.path()).unwrap() {
        statements += nelo_migrate::split::split_statements(&migration.sql).len();
        std::fs::write(
            &migration.path,
            format!("{NO_TRANSACTION_MARKER}\n{}", migration.sql),
        )
        .unwrap();
    }
    assert!(
        statements > REALISTIC_COUNT,
        "the fixture has multi-statement migrations"
    );
    let report = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    assert_eq!(report.applied.len(), REALISTIC_COUNT);
    let recorded_steps: i64 = db
        .scalar("SELECT sum(applied_steps_count)::bigint FROM _prisma_migrations WHERE finished_at IS NOT NULL")
        .await;
    assert_eq!(recorded_steps, statements as i64);
}

#[tokio::test]
async fn growing_generated_folder_applies_only_the_new_migrations() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    nelo_fixtures::generated_folder(dir.path(), 40).unwrap();
    let migrator = Migrator::new(dir.path());
    assert_eq!(
        migrator
            .deploy(&db.url, ignore_events)
            .await
            .unwrap()
            .applied
            .len(),
        40
    );
    let names = nelo_fixtures::generated_folder(dir.path(), 70).unwrap();
    let status = migrator.status(&db.url).await.unwrap();
    assert_eq!(status.pending().count(), 30);
    let report = migrator.deploy(&db.url, ignore_events).await.unwrap();
    assert_eq!(report.applied, names[40..]);
}
