//! `push`: a declared schema applied directly to a live database, against a real server.
//! Needs NELO_TEST_SERVER_URL.

mod common;

use std::time::Duration;

use common::{TestDb, diff_options, schema_file};
use nelo_migrate::Error;
use nelo_migrate::diff::{DiffError, DiffOptions, PushOptions, Source, diff, push};

const NOTES: &str = "CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL, title text);\n\
                     CREATE INDEX note_body_idx ON note (body);\n";

fn options(accept_data_loss: bool) -> PushOptions {
    PushOptions {
        diff: diff_options(),
        accept_data_loss,
        lock_timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn push_makes_the_database_what_the_schema_declares_and_records_no_migration() {
    let db = TestDb::new().await;
    let schema = schema_file(NOTES);
    let pushed = push(&db.url, schema.path(), &options(false)).await.unwrap();
    assert!(!pushed.diff.is_empty());
    let again = diff(
        &Source::Url(db.url.clone()),
        &Source::Schema(schema.path().into()),
        &options(false).diff,
    )
    .await
    .unwrap();
    assert!(again.is_empty(), "{:?}", again.differences);
    assert!(!db.table_exists("_prisma_migrations").await);
    let second = push(&db.url, schema.path(), &options(false)).await.unwrap();
    assert!(second.diff.is_empty(), "{:?}", second.diff.differences);
}

#[tokio::test]
async fn a_push_that_loses_data_is_refused_unless_accepted() {
    let db = TestDb::new().await;
    db.execute(NOTES).await;
    db.execute("INSERT INTO note VALUES (1, 'kept', 'a title')")
        .await;
    let without_title = schema_file(
        "CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL);\n\
         CREATE INDEX note_body_idx ON note (body);\n",
    );
    let error = push(&db.url, without_title.path(), &options(false))
        .await
        .unwrap_err();
    match &error {
        Error::Diff(inner) => assert!(matches!(**inner, DiffError::DataLoss { .. }), "{error}"),
        other => panic!("expected a data-loss refusal, got {other}"),
    }
    assert!(error.to_string().contains("title"), "{error}");
    let title: Option<String> = db.scalar("SELECT title FROM note").await;
    assert_eq!(title.as_deref(), Some("a title"), "nothing was applied");

    push(&db.url, without_title.path(), &options(true))
        .await
        .unwrap();
    let columns: i64 = db
        .scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'note'")
        .await;
    assert_eq!(columns, 2);
    let body: String = db.scalar("SELECT body FROM note").await;
    assert_eq!(body, "kept");
}

#[tokio::test]
async fn a_push_that_fails_on_the_live_data_is_rolled_back_whole() {
    // The shadow is empty, so the script verifies there; the live rows make it fail.
    let db = TestDb::new().await;
    db.execute(NOTES).await;
    db.execute("INSERT INTO note VALUES (1, 'kept', NULL)")
        .await;
    let schema = schema_file(
        "CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL, title text NOT NULL);\n\
         CREATE INDEX note_body_idx ON note (body);\n\
         CREATE TABLE tag (id bigint PRIMARY KEY);\n",
    );
    let error = push(&db.url, schema.path(), &options(true))
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("rolled back"), "{error:#}");
    assert!(
        !db.table_exists("tag").await,
        "the new table was rolled back too"
    );
}

/// A change that uses an enum value it adds runs in two transactions; when the second fails
/// on the live data, the error says the first stays committed and shows it.
#[tokio::test]
async fn a_push_whose_second_part_fails_says_what_the_first_left_applied() {
    let db = TestDb::new().await;
    db.execute(
        "CREATE TYPE mood AS ENUM ('calm');\n\
         CREATE TABLE note (id bigint PRIMARY KEY, old text, n text);\n\
         INSERT INTO note VALUES (1, 'gone', 'not a number');\n",
    )
    .await;
    let schema = schema_file(
        "CREATE TYPE mood AS ENUM ('calm', 'happy');\n\
         CREATE TABLE note (id bigint PRIMARY KEY, n integer);\n\
         CREATE TABLE feeling (m mood NOT NULL DEFAULT 'happy');\n",
    );
    let error = push(&db.url, schema.path(), &options(true))
        .await
        .unwrap_err();
    let Error::Diff(diff_error) = &error else {
        panic!("{error:#}");
    };
    let DiffError::PushPartlyApplied { committed, .. } = diff_error.as_ref() else {
        panic!("{error:#}");
    };
    assert!(committed.contains("ADD VALUE 'happy'"), "{committed}");
    assert!(!format!("{error}").contains("whole"), "{error}");
    assert!(
        db.scalar::<bool>("SELECT 'happy' = ANY (enum_range(NULL::mood)::text[])")
            .await,
        "the first part was committed, as the error says"
    );
    assert!(
        !db.table_exists("feeling").await,
        "the second part was rolled back"
    );
}

#[tokio::test]
async fn push_through_a_transaction_pooler_is_refused_before_anything() {
    let db = TestDb::new().await;
    let schema = schema_file(NOTES);
    let url = format!("{}?pgbouncer=true", db.url);
    let error = push(&url, schema.path(), &options(false))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::NeedsDirectConnection { .. }),
        "{error}"
    );
    assert!(!db.table_exists("note").await);
}

/// With `?schema=app`, a schema file's unqualified names go into `app`, as a migration's do:
/// the shadows are built there whichever server holds them, and `app` need not be created
/// by the file.
#[tokio::test]
async fn push_into_the_urls_schema_builds_the_file_there_on_any_shadow_server() {
    let db = TestDb::new().await;
    let url = format!("{}?schema=app", db.url);
    let schema = schema_file(NOTES);
    let own_server = PushOptions {
        diff: DiffOptions {
            shadow_server_url: None,
            ..options(false).diff
        },
        ..options(false)
    };
    for (what, options) in [
        ("the database's own server", own_server),
        ("a shadow server URL without ?schema=", options(false)),
    ] {
        db.execute("DROP SCHEMA IF EXISTS app CASCADE").await;
        let pushed = push(&url, schema.path(), &options)
            .await
            .unwrap_or_else(|error| panic!("push with {what}: {error}"));
        assert!(!pushed.diff.is_empty(), "{what}");
        assert!(
            db.scalar::<bool>("SELECT to_regclass('app.note') IS NOT NULL")
                .await,
            "{what}: `note` is not in schema `app`"
        );
        assert!(!db.table_exists("note").await, "{what}: `note` in public");
        let again = diff(
            &Source::Url(url.clone()),
            &Source::Schema(schema.path().into()),
            &options.diff,
        )
        .await
        .unwrap_or_else(|error| panic!("diff with {what}: {error}"));
        assert!(again.is_empty(), "{what}: {:?}", again.differences);
    }
}
