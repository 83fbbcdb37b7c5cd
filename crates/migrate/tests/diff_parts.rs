//! A change that uses an enum label it adds needs two transactions: `diff` plans it in two
//! parts, written as two migrations, each deployable as Prisma deploys one. Needs
//! NELO_TEST_SERVER_URL.

mod common;

use std::time::Duration;

use common::{TestDb, diff_options, folder, ignore_events, schema_file, write_migration};
use nelo_migrate::Migrator;
use nelo_migrate::diff::{DiffOptions, PushOptions, Source, diff, push};

const BEFORE: &str = "CREATE TYPE mood AS ENUM ('calm', 'angry');\n\
                      CREATE TABLE t (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'calm');\n";
const AFTER: &str = "CREATE TYPE mood AS ENUM ('calm', 'happy', 'angry');\n\
                     CREATE TABLE t (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'happy');\n\
                     CREATE INDEX t_m_idx ON t (m);\n";

#[tokio::test]
async fn a_label_used_where_it_is_added_becomes_two_migrations_that_deploy() {
    let dir = folder(&[("1_init", BEFORE)]);
    let schema = schema_file(AFTER);
    let planned = diff(
        &Source::Migrations(dir.path().into()),
        &Source::Schema(schema.path().into()),
        &diff_options(),
    )
    .await
    .unwrap_or_else(|error| panic!("{error:#}"));
    let scripts = planned.migration_scripts();
    assert_eq!(scripts.len(), 2, "{}", planned.script());
    write_migration(dir.path(), "2_happy_values", &scripts[0].sql);
    write_migration(dir.path(), "3_happy", &scripts[1].sql);

    let db = TestDb::new().await;
    let report = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    assert_eq!(report.applied.len(), 3);
    let after = diff(
        &Source::Url(db.url.clone()),
        &Source::Schema(schema.path().into()),
        &diff_options(),
    )
    .await
    .unwrap();
    assert!(after.is_empty(), "{:?}", after.differences);
}

#[tokio::test]
async fn push_applies_both_parts() {
    let db = TestDb::new().await;
    db.execute(BEFORE).await;
    db.execute("INSERT INTO t VALUES (1)").await;
    let schema = schema_file(AFTER);
    let options = PushOptions {
        diff: diff_options(),
        accept_data_loss: false,
        lock_timeout: Duration::from_secs(10),
    };
    push(&db.url, schema.path(), &options)
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    db.execute("INSERT INTO t VALUES (2)").await;
    let mood: String = db.scalar("SELECT m::text FROM t WHERE id = 2").await;
    assert_eq!(mood, "happy");
}

/// Asked for, an index on a table that already holds rows is built `CONCURRENTLY` in a
/// migration of its own, which deploy runs alone (outside a transaction), as Prisma would;
/// an index on a new table stays in the main migration.
#[tokio::test]
async fn asked_for_an_index_on_an_existing_table_becomes_a_concurrent_migration_that_deploys() {
    let dir = folder(&[(
        "1_init",
        "CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL);\n",
    )]);
    let schema = schema_file(
        "CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL);\n\
         CREATE INDEX note_body_idx ON note (body);\n\
         CREATE TABLE tag (id bigint PRIMARY KEY, name text NOT NULL);\n\
         CREATE INDEX tag_name_idx ON tag (name);\n",
    );
    let options = DiffOptions {
        concurrent_indexes: true,
        ..diff_options()
    };
    let planned = diff(
        &Source::Migrations(dir.path().into()),
        &Source::Schema(schema.path().into()),
        &options,
    )
    .await
    .unwrap_or_else(|error| panic!("{error:#}"));
    let scripts = planned.migration_scripts();
    assert_eq!(scripts.len(), 2, "{}", planned.script());
    assert!(
        scripts[0].sql.contains("CREATE INDEX tag_name_idx"),
        "{}",
        scripts[0].sql
    );
    assert!(
        !scripts[0].sql.contains("note_body_idx"),
        "{}",
        scripts[0].sql
    );
    assert_eq!(scripts[1].suffix, "_index_note_body_idx");
    assert!(
        scripts[1]
            .sql
            .contains("CREATE INDEX CONCURRENTLY note_body_idx"),
        "{}",
        scripts[1].sql
    );

    let db = TestDb::new().await;
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    db.execute("INSERT INTO note SELECT g, 'body ' || g FROM generate_series(1, 1000) g")
        .await;
    let names =
        nelo_migrate::create_migrations(dir.path(), "indexes", &scripts, chrono::Utc::now())
            .unwrap();
    assert_eq!(names.len(), 2);
    let report = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    assert_eq!(report.applied.len(), 2);
    let valid: bool = db
        .scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'note_body_idx'::regclass")
        .await;
    assert!(valid);
    let after = diff(
        &Source::Url(db.url.clone()),
        &Source::Schema(schema.path().into()),
        &options,
    )
    .await
    .unwrap();
    assert!(after.is_empty(), "{:?}", after.differences);
}
