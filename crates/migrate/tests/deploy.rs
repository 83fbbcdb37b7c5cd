//! Deploy against a real server: fresh, idempotent, failing, no-transaction, CRLF, Prisma.

mod common;

use common::{TestDb, folder, ignore_events, write_migration};
use nelo_migrate::{Error, Event, Migrator, State, checksum};

#[tokio::test]
async fn fresh_deploy_applies_everything_in_order_then_nothing() {
    let db = TestDb::new().await;
    let dir = folder(&[
        (
            "20250101000000_users",
            "CREATE TABLE users (id int PRIMARY KEY);\n",
        ),
        (
            "20250102000000_posts",
            "CREATE TABLE posts (id int, user_id int REFERENCES users (id));\n",
        ),
        (
            "20250103000000_vector",
            "CREATE EXTENSION IF NOT EXISTS vector;\nALTER TABLE posts ADD COLUMN embedding vector(3);\n",
        ),
    ]);
    let migrator = Migrator::new(dir.path());
    let mut events = Vec::new();
    let report = migrator
        .deploy(&db.url, |event| events.push(event))
        .await
        .unwrap();
    assert_eq!(
        report.applied,
        [
            "20250101000000_users",
            "20250102000000_posts",
            "20250103000000_vector"
        ]
    );
    let applied_events: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            Event::Applied { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(applied_events, report.applied);
    assert!(db.table_exists("posts").await);

    let history = db.history().await;
    assert_eq!(history.len(), 3);
    assert!(
        history
            .iter()
            .all(|(_, finished, rolled_back, steps, logs)| *finished
                && !rolled_back
                && *steps == 1
                && logs.is_none())
    );
    let stored: String = db
        .scalar(
            "SELECT checksum FROM _prisma_migrations WHERE migration_name = '20250101000000_users'",
        )
        .await;
    assert_eq!(
        stored,
        checksum(b"CREATE TABLE users (id int PRIMARY KEY);\n")
    );

    let again = migrator.deploy(&db.url, ignore_events).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(db.history().await.len(), 3);
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());
}

/// name, data type, length, nullable, default
type ColumnRow = (String, String, Option<i32>, String, Option<String>);

#[tokio::test]
async fn history_table_has_prismas_exact_columns() {
    let db = TestDb::new().await;
    let dir = folder(&[("20250101000000_a", "SELECT 1;")]);
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    let mut conn = db.connect().await;
    let columns: Vec<ColumnRow> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, character_maximum_length, is_nullable::text, column_default::text
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let expected = [
        ("id", "character varying", Some(36), "NO", None),
        ("checksum", "character varying", Some(64), "NO", None),
        ("finished_at", "timestamp with time zone", None, "YES", None),
        ("migration_name", "character varying", Some(255), "NO", None),
        ("logs", "text", None, "YES", None),
        (
            "rolled_back_at",
            "timestamp with time zone",
            None,
            "YES",
            None,
        ),
        (
            "started_at",
            "timestamp with time zone",
            None,
            "NO",
            Some("now()"),
        ),
        ("applied_steps_count", "integer", None, "NO", Some("0")),
    ];
    let actual: Vec<_> = columns
        .iter()
        .map(|(name, kind, length, nullable, default)| {
            (
                name.as_str(),
                kind.as_str(),
                *length,
                nullable.as_str(),
                default.as_deref(),
            )
        })
        .collect();
    assert_eq!(actual, expected);
}

const FAILING: &str = "CREATE TABLE first_table (id int);\n\
CREATE TABLE second_table (id int);\n\
INSERT INTO second_table VALUES (1);\n\
SELECT * FROM   no_such_table;\n";

#[tokio::test]
async fn failure_rolls_back_records_the_error_and_blocks_until_resolved() {
    let db = TestDb::new().await;
    let dir = folder(&[
        ("20250101000000_ok", "CREATE TABLE ok_table (id int);\n"),
        ("20250102000000_broken", FAILING),
        (
            "20250103000000_after",
            "CREATE TABLE after_table (id int);\n",
        ),
    ]);
    let migrator = Migrator::new(dir.path());
    let error = migrator.deploy(&db.url, ignore_events).await.unwrap_err();
    let Error::MigrationFailed(failure) = &error else {
        panic!("expected a migration failure, got {error:?}");
    };
    assert_eq!(failure.migration, "20250102000000_broken");
    assert!(
        failure
            .path
            .ends_with("20250102000000_broken/migration.sql")
    );
    assert_eq!((failure.line, failure.column), (Some(4), Some(17)));
    assert_eq!(failure.sqlstate.as_deref(), Some("42P01"));
    assert!(
        failure.message.contains("no_such_table"),
        "{}",
        failure.message
    );
    assert!(
        error
            .to_string()
            .contains("20250102000000_broken/migration.sql:4:17"),
        "{error}"
    );

    assert!(db.table_exists("ok_table").await);
    assert!(
        !db.table_exists("first_table").await,
        "DDL before the failing statement must roll back"
    );
    assert!(!db.table_exists("second_table").await);
    assert!(
        !db.table_exists("after_table").await,
        "nothing after the failure runs"
    );
    let history = db.history().await;
    assert_eq!(history.len(), 2);
    let (name, finished, rolled_back, _, logs) = &history[1];
    assert_eq!(name, "20250102000000_broken");
    assert!(!finished && !rolled_back);
    assert!(logs.as_deref().unwrap().contains("no_such_table"));

    let blocked = migrator.deploy(&db.url, ignore_events).await.unwrap_err();
    assert!(
        matches!(&blocked, Error::FailedMigrationFound { name } if name == "20250102000000_broken"),
        "{blocked:?}"
    );
    assert!(
        blocked
            .to_string()
            .contains("blocks new ones until it is resolved"),
        "{blocked}"
    );
    assert!(!db.table_exists("after_table").await);

    // Fix the file, mark the attempt rolled back, and the next deploy completes.
    write_migration(
        dir.path(),
        "20250102000000_broken",
        "CREATE TABLE first_table (id int);\n",
    );
    migrator
        .resolve_rolled_back(&db.url, "20250102000000_broken")
        .await
        .unwrap();
    let report = migrator.deploy(&db.url, ignore_events).await.unwrap();
    assert_eq!(
        report.applied,
        ["20250102000000_broken", "20250103000000_after"]
    );
    assert!(db.table_exists("first_table").await && db.table_exists("after_table").await);
    let status = migrator.status(&db.url).await.unwrap();
    assert!(status.is_up_to_date(), "{status:?}");
}

#[tokio::test]
async fn error_position_counts_characters_across_lines() {
    let db = TestDb::new().await;
    let sql = "-- café ☕ comment\nCREATE TABLE t (\n  id int,\n  name txet\n);\n";
    let dir = folder(&[("20250101000000_typo", sql)]);
    let error = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap_err();
    let Error::MigrationFailed(failure) = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        (failure.line, failure.column),
        (Some(4), Some(8)),
        "{failure}"
    );
    assert_eq!(failure.sqlstate.as_deref(), Some("42704"));
}

#[tokio::test]
async fn no_transaction_migration_reports_its_failing_step() {
    let db = TestDb::new().await;
    let sql = "-- nelo:no-transaction\n\
CREATE TABLE t (id int, label text DEFAULT 'a;b');\n\
CREATE INDEX CONCURRENTLY t_id ON t (id);\n\
/* a comment; with a semicolon */\n\
CREATE INDEX CONCURRENTLY t_bad ON t ((id + missing_column));\n\
CREATE TABLE never_created (id int);\n";
    let dir = folder(&[("20250101000000_concurrently", sql)]);
    let migrator = Migrator::new(dir.path());
    let mut steps = Vec::new();
    let error = migrator
        .deploy(&db.url, |event| {
            if let Event::StepApplied { step, total, .. } = event {
                steps.push((step, total));
            }
        })
        .await
        .unwrap_err();
    assert_eq!(steps, [(1, 4), (2, 4)]);
    let Error::MigrationFailed(failure) = error else {
        panic!("{error:?}")
    };
    assert_eq!(failure.step, Some(3));
    assert_eq!(
        (failure.line, failure.column),
        (Some(5), Some(45)),
        "{failure}"
    );
    assert_eq!(failure.sqlstate.as_deref(), Some("42703"));

    assert!(
        db.table_exists("t").await,
        "statements outside a transaction stay applied"
    );
    assert!(db.table_exists("t_id").await);
    assert!(!db.table_exists("never_created").await);
    let history = db.history().await;
    assert_eq!(history.len(), 1);
    let (_, finished, _, applied_steps, logs) = &history[0];
    assert!(!finished);
    assert_eq!(*applied_steps, 2);
    assert!(logs.as_deref().unwrap().contains("missing_column"));
    assert_eq!(migrator.status(&db.url).await.unwrap().failed().count(), 1);
}

#[tokio::test]
async fn no_transaction_migration_runs_concurrent_index_and_finishes() {
    let db = TestDb::new().await;
    let dir = folder(&[
        ("20250101000000_table", "CREATE TABLE t (id int);\n"),
        (
            "20250102000000_index",
            "-- nelo:no-transaction\r\nCREATE INDEX CONCURRENTLY t_id ON t (id);\r\nCREATE INDEX CONCURRENTLY t_id2 ON t ((id + 1));\r\n",
        ),
    ]);
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    assert!(db.table_exists("t_id2").await);
    let history = db.history().await;
    assert_eq!((history[1].1, history[1].3), (true, 2));
}

#[tokio::test]
async fn no_transaction_migration_keeps_a_sql_standard_body_whole() {
    let db = TestDb::new().await;
    let dir = folder(&[
        ("20250101000000_table", "CREATE TABLE t (id int);\n"),
        (
            "20250102000000_routine",
            "-- nelo:no-transaction\n\
             CREATE FUNCTION twice(n int) RETURNS int LANGUAGE sql IMMUTABLE\n\
             BEGIN ATOMIC\n  SELECT CASE WHEN n IS NULL THEN 0 ELSE n * 2 END;\nEND;\n\
             CREATE INDEX CONCURRENTLY t_twice ON t (twice(id));\n",
        ),
    ]);
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    assert_eq!(db.scalar::<i32>("SELECT twice(21)").await, 42);
    assert!(db.table_exists("t_twice").await);
    let history = db.history().await;
    assert_eq!((history[1].1, history[1].3), (true, 2));
}

#[tokio::test]
async fn crlf_checkout_is_not_modified() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "20250101000000_a",
        "CREATE TABLE a (id int);\r\nCREATE TABLE b (id int);\r\n",
    )]);
    let migrator = Migrator::new(dir.path());
    migrator.deploy(&db.url, ignore_events).await.unwrap();
    write_migration(
        dir.path(),
        "20250101000000_a",
        "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n",
    );
    let status = migrator.status(&db.url).await.unwrap();
    assert!(status.is_up_to_date(), "{status:?}");
    write_migration(
        dir.path(),
        "20250101000000_a",
        "CREATE TABLE a (id bigint);\nCREATE TABLE b (id int);\n",
    );
    let status = migrator.status(&db.url).await.unwrap();
    assert_eq!(status.entries[0].state, State::Modified);
}

/// Prisma's DDL and rows, as `prisma migrate deploy` leaves them; nelo-migrate continues.
#[tokio::test]
async fn continues_a_database_migrated_by_prisma() {
    let db = TestDb::new().await;
    let first = "-- CreateTable\nCREATE TABLE \"User\" (\n    \"id\" SERIAL NOT NULL,\n    CONSTRAINT \"User_pkey\" PRIMARY KEY (\"id\")\n);\n";
    let dir = folder(&[
        ("20240101000000_init", first),
        (
            "20240201000000_post",
            "CREATE TABLE \"Post\" (\"id\" SERIAL PRIMARY KEY, \"userId\" INTEGER REFERENCES \"User\"(\"id\"));\n",
        ),
    ]);
    db.execute(first).await;
    db.execute(
        r#"CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);"#,
    )
    .await;
    db.execute(&format!(
        "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
         VALUES ('{}', '{}', now(), '20240101000000_init', NULL, NULL, now(), 1)",
        uuid::Uuid::new_v4(),
        checksum(first.as_bytes())
    ))
    .await;
    // An attempt Prisma rolled back is ignored.
    db.execute(&format!(
        "INSERT INTO _prisma_migrations (id, checksum, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
         VALUES ('{}', 'deadbeef', '20240201000000_post', 'old failure', now(), now(), 0)",
        uuid::Uuid::new_v4()
    ))
    .await;
    let migrator = Migrator::new(dir.path());
    let report = migrator.deploy(&db.url, ignore_events).await.unwrap();
    assert_eq!(report.applied, ["20240201000000_post"]);
    assert!(db.table_exists("\"Post\"").await);
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());
    assert_eq!(db.history().await.len(), 3);
}

/// Prisma's P3005: a schema built without migrations is refused until it is baselined;
/// extension objects (pgvector's) do not count.
#[tokio::test]
async fn a_schema_built_without_migrations_is_refused_until_baselined() {
    let db = TestDb::new().await;
    db.execute(
        "CREATE EXTENSION IF NOT EXISTS vector;\n\
         CREATE TYPE \"Kind\" AS ENUM ('a');\n\
         CREATE TABLE \"User\" (id int);\n\
         CREATE VIEW users AS SELECT * FROM \"User\";",
    )
    .await;
    let dir = folder(&[
        ("20250101000000_users", "CREATE TABLE \"User\" (id int);\n"),
        ("20250102000000_posts", "CREATE TABLE post (id int);\n"),
    ]);
    let migrator = Migrator::new(dir.path());
    let error = migrator.deploy(&db.url, ignore_events).await.unwrap_err();
    match &error {
        Error::SchemaNotEmpty {
            schema,
            objects,
            first_migration,
        } => {
            assert_eq!(schema, "public");
            assert_eq!(
                objects,
                &[r#"table "User""#, r#"enum "Kind""#, "view users"]
            );
            assert_eq!(first_migration.as_deref(), Some("20250101000000_users"));
        }
        other => panic!("expected SchemaNotEmpty, got {other:?}"),
    }
    let text = error.to_string();
    assert!(
        text.contains("mark as applied each migration it already has")
            && text.contains("`20250101000000_users`"),
        "{text}"
    );
    assert!(!db.table_exists("_prisma_migrations").await);

    migrator
        .resolve_applied(&db.url, "20250101000000_users")
        .await
        .unwrap();
    let report = migrator.deploy(&db.url, ignore_events).await.unwrap();
    assert_eq!(report.applied, ["20250102000000_posts"]);
}

/// An empty folder on a database with only an extension still creates the history table.
#[tokio::test]
async fn extension_objects_alone_do_not_make_a_schema_unmigrated() {
    let db = TestDb::new().await;
    db.execute("CREATE EXTENSION IF NOT EXISTS vector;").await;
    let dir = folder(&[("20250101000000_a", "CREATE TABLE a (v vector(3));\n")]);
    let report = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    assert_eq!(report.applied, ["20250101000000_a"]);
}

/// Prisma's `?schema=`: created when missing, with its case, and recreated by reset.
#[tokio::test]
async fn url_schema_is_created_and_holds_migrations_and_history() {
    let db = TestDb::new().await;
    let mut url = url::Url::parse(&db.url).unwrap();
    url.query_pairs_mut().append_pair("schema", "Nelo App");
    let url = url.to_string();
    let dir = folder(&[(
        "20250101000000_a",
        "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n",
    )]);
    let migrator = Migrator::new(dir.path());
    migrator.deploy(&url, ignore_events).await.unwrap();
    let tables = "SELECT string_agg(table_schema || '.' || table_name, ',' ORDER BY table_name) \
                  FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')";
    assert_eq!(
        db.scalar::<String>(tables).await,
        "Nelo App._prisma_migrations,Nelo App.a"
    );
    assert!(migrator.status(&url).await.unwrap().is_up_to_date());

    let report = migrator.reset(&url, ignore_events).await.unwrap();
    assert!(report.dropped_schemas.contains(&"Nelo App".to_string()));
    assert_eq!(report.applied, ["20250101000000_a"]);
    assert_eq!(
        db.scalar::<i64>(r#"SELECT count(*) FROM "Nelo App".a"#)
            .await,
        1
    );
}

#[tokio::test]
async fn error_without_server_position_names_the_statement() {
    let db = TestDb::new().await;
    // "relation already exists" carries no position: the failing statement's start is named.
    let sql =
        "-- nelo:no-transaction\nCREATE TABLE twice (id int);\n\n  CREATE TABLE twice (id int);\n";
    let dir = folder(&[("20250101000000_twice", sql)]);
    let error = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap_err();
    let Error::MigrationFailed(failure) = error else {
        panic!("{error:?}")
    };
    assert_eq!(failure.sqlstate.as_deref(), Some("42P07"));
    assert_eq!(
        (failure.step, failure.line, failure.column),
        (Some(2), Some(4), Some(3)),
        "{failure}"
    );
}

#[tokio::test]
async fn empty_folder_creates_the_history_table() {
    let db = TestDb::new().await;
    let dir = folder(&[]);
    let report = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    assert!(report.applied.is_empty());
    assert!(db.table_exists("_prisma_migrations").await);
}

/// Callers run the engine on a multi-threaded runtime: its futures must be `Send`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_can_be_spawned() {
    let db = TestDb::new().await;
    let dir = folder(&[("20250101000000_a", "CREATE TABLE a (id int);\n")]);
    let migrator = Migrator::new(dir.path());
    let url = db.url.clone();
    let deployed = tokio::spawn(async move {
        let mut seen = Vec::new();
        let report = migrator.deploy(&url, |event| seen.push(event)).await?;
        let status = migrator.status(&url).await?;
        migrator
            .resolve_applied(&url, "20250101000000_a")
            .await
            .unwrap_err();
        Ok::<_, Error>((report, status, seen.len()))
    });
    let (report, status, events) = deployed.await.unwrap().unwrap();
    assert_eq!(report.applied.len(), 1);
    assert!(status.is_up_to_date());
    assert_eq!(events, 2, "Applying, then Applied");
}

/// pg_dump output empties `search_path` for the session; the history row still lands, and
/// the next migration runs with the session's own settings.
#[tokio::test]
async fn session_settings_do_not_leak_between_migrations() {
    let db = TestDb::new().await;
    let dump = "SET statement_timeout = 0;\nSET client_min_messages = warning;\n\
                SELECT pg_catalog.set_config('search_path', '', false);\n\
                CREATE TABLE public.dumped (id int);\n";
    let concurrently = "-- nelo:no-transaction\nSELECT pg_catalog.set_config('search_path', '', false);\n\
                        CREATE INDEX CONCURRENTLY dumped_id ON public.dumped (id);\n";
    let dir = folder(&[
        ("20250101000000_dump", dump),
        ("20250102000000_plain", "CREATE TABLE plain (id int);\n"),
        ("20250103000000_concurrently", concurrently),
        (
            "20250104000000_after",
            "CREATE TABLE after_index (id int);\n",
        ),
    ]);
    let migrator = Migrator::new(dir.path());
    let report = migrator.deploy(&db.url, ignore_events).await.unwrap();
    assert_eq!(report.applied.len(), 4);
    assert!(db.table_exists("public.plain").await && db.table_exists("public.after_index").await);
    assert!(db.table_exists("public.dumped_id").await);
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());
}
