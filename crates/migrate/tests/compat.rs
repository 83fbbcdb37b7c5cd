//! What real Prisma projects hold, deployed on a real server: any folder name, lone
//! non-transactional statements, files with their own BEGIN/COMMIT, COPY rows, session state
//! a migration changes, and runtime errors located in the file.

mod common;

use std::time::Duration;

use common::{TestDb, TestRole, folder, ignore_events, write_lock_file, write_migration};
use nelo_migrate::{Error, Migrator, RunMode, State, UnrunnableReason};

/// A deploy that hangs fails the test instead of the run (a bound, not a timing assertion).
async fn deploy(migrator: &Migrator, url: &str) -> Result<nelo_migrate::DeployReport, Error> {
    tokio::time::timeout(
        Duration::from_secs(120),
        migrator.deploy(url, ignore_events),
    )
    .await
    .expect("deploy must not hang")
}

fn failure(error: Error) -> Box<nelo_migrate::MigrationFailure> {
    match error {
        Error::MigrationFailed(failure) => failure,
        other => panic!("expected a migration failure, got {other:?}"),
    }
}

#[tokio::test]
async fn any_folder_name_is_a_migration_applied_in_byte_order_under_its_own_name() {
    let db = TestDb::new().await;
    let names = [
        "0_init",
        "01_more",
        "202310122339_new_column",
        "20240126184148_new_models copy",
        "20240606_add_index.sql",
        "20241231_add_flag",
    ];
    let dir = tempfile::tempdir().unwrap();
    write_lock_file(dir.path());
    for (index, name) in names.iter().enumerate() {
        write_migration(
            dir.path(),
            name,
            &format!("CREATE TABLE t{index} (id int);\n"),
        );
    }
    std::fs::write(dir.path().join("README.md"), "# migrations\n").unwrap();
    std::fs::write(dir.path().join(".gitkeep"), "").unwrap();
    let migrator = Migrator::new(dir.path());
    let report = deploy(&migrator, &db.url).await.unwrap();
    // Byte order: "01_more" < "0_init" ('1' < '_').
    let mut expected = names.to_vec();
    expected.sort();
    assert_eq!(report.applied, expected);
    assert_eq!(report.applied[0], "01_more");
    let history: Vec<String> = db.history().await.into_iter().map(|row| row.0).collect();
    assert_eq!(history, expected);
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());

    // resolve takes any folder name: a failing one with a space in its name.
    write_migration(dir.path(), "20250101_fix it", "SELECT 1/0;\n");
    assert!(deploy(&migrator, &db.url).await.is_err());
    migrator
        .resolve_rolled_back(&db.url, "20250101_fix it")
        .await
        .unwrap();
    let status = migrator.status(&db.url).await.unwrap();
    assert_eq!(status.get("20250101_fix it").unwrap().state, State::Pending);
}

#[tokio::test]
async fn a_lone_non_transactional_statement_runs_as_prisma_runs_it() {
    let db = TestDb::new().await;
    let dir = folder(&[
        (
            "20250101000000_posts",
            "CREATE TABLE \"Post\" (id int, title text);\n",
        ),
        (
            "20250102000000_index",
            "-- CreateIndex\nCREATE INDEX CONCURRENTLY \"Post_title_idx\" ON \"Post\"(\"title\");\n",
        ),
        ("20250103000000_vacuum", "VACUUM ANALYZE \"Post\";"),
    ]);
    let migrator = Migrator::new(dir.path());
    let mut modes = Vec::new();
    migrator
        .deploy(&db.url, |event| {
            if let nelo_migrate::Event::Applying { name, mode } = event {
                modes.push((name, mode));
            }
        })
        .await
        .unwrap();
    assert_eq!(
        modes.iter().map(|(_, mode)| *mode).collect::<Vec<_>>(),
        [RunMode::InTransaction, RunMode::Alone, RunMode::Alone]
    );
    let valid: bool = db
        .scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = '\"Post_title_idx\"'::regclass")
        .await;
    assert!(valid);
    let history = db.history().await;
    assert_eq!(history.len(), 3);
    assert!(
        history
            .iter()
            .all(|row| row.1 && row.3 == 1 && row.4.is_none())
    );
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());

    // A failing one is recorded as failed, with its line, and blocks the next deploy.
    std::fs::create_dir(dir.path().join("20250104000000_bad_index")).unwrap();
    std::fs::write(
        dir.path().join("20250104000000_bad_index/migration.sql"),
        "-- CreateIndex\nCREATE INDEX CONCURRENTLY \"i\" ON \"Nope\"(\"a\");\n",
    )
    .unwrap();
    let failed = failure(deploy(&migrator, &db.url).await.unwrap_err());
    assert_eq!(failed.sqlstate.as_deref(), Some("42P01"));
    assert_eq!(failed.line, Some(2));
    let status = migrator.status(&db.url).await.unwrap();
    assert_eq!(
        status.get("20250104000000_bad_index").unwrap().state,
        State::Failed
    );
}

#[tokio::test]
async fn a_non_transactional_statement_among_others_is_refused_before_anything_runs() {
    let db = TestDb::new().await;
    let dir = folder(&[
        ("20250101000000_first", "CREATE TABLE first (a int);\n"),
        (
            "20250102000000_mixed",
            "CREATE TABLE t (a int);\n\nCREATE INDEX CONCURRENTLY i ON t (a);\n",
        ),
    ]);
    let error = deploy(&Migrator::new(dir.path()), &db.url)
        .await
        .unwrap_err();
    let text = error.to_string();
    let Error::Unrunnable(unrunnable) = error else {
        panic!("{text}");
    };
    assert_eq!(unrunnable.migration, "20250102000000_mixed");
    assert_eq!((unrunnable.line, unrunnable.column), (3, 1));
    assert!(matches!(
        unrunnable.reason,
        UnrunnableReason::NonTransactionalAmongOthers { .. }
    ));
    assert!(
        text.contains("20250102000000_mixed/migration.sql:3:1"),
        "{text}"
    );
    assert!(text.contains("nothing was applied"), "{text}");
    // Not even the migration before it ran.
    assert!(!db.table_exists("first").await);
    assert!(!db.table_exists("_prisma_migrations").await);
}

const ENUM_CHANGE: &str = r#"-- AlterEnum
BEGIN;
CREATE TYPE "Role_new" AS ENUM ('USER', 'EDITOR');
ALTER TABLE "User" ALTER COLUMN "role" DROP DEFAULT;
ALTER TABLE "User" ALTER COLUMN "role" TYPE "Role_new" USING ("role"::text::"Role_new");
ALTER TYPE "Role" RENAME TO "Role_old";
ALTER TYPE "Role_new" RENAME TO "Role";
DROP TYPE "Role_old";
ALTER TABLE "User" ALTER COLUMN "role" SET DEFAULT 'USER';
COMMIT;
"#;

#[tokio::test]
async fn files_with_their_own_transactions_run_as_written() {
    let db = TestDb::new().await;
    let dir = folder(&[
        (
            "20250101000000_init",
            "CREATE TYPE \"Role\" AS ENUM ('USER', 'ADMIN');\n\
             CREATE TABLE \"User\" (id int, role \"Role\" NOT NULL DEFAULT 'USER');\n\
             INSERT INTO \"User\" VALUES (1, 'USER');\n",
        ),
        ("20250102000000_role_enum", ENUM_CHANGE),
        (
            "20250103000000_add_value",
            "ALTER TYPE \"Role\" ADD VALUE 'OWNER';\nCOMMIT;\nUPDATE \"User\" SET role = 'OWNER';\n",
        ),
    ]);
    let migrator = Migrator::new(dir.path());
    deploy(&migrator, &db.url).await.unwrap();
    let labels: String = db
        .scalar("SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = '\"Role\"'::regtype")
        .await;
    assert_eq!(labels, "USER,EDITOR,OWNER");
    let role: String = db.scalar("SELECT role::text FROM \"User\"").await;
    assert_eq!(role, "OWNER");
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());
    assert_eq!(db.history().await.len(), 3);
}

#[tokio::test]
async fn a_failure_after_the_files_own_commit_keeps_what_it_committed_and_says_so() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "20250101000000_partial",
        "BEGIN;\nCREATE TABLE kept (a int);\nCOMMIT;\nCREATE TABLE lost (a int);\nSELECT 1/0;\n",
    )]);
    let migrator = Migrator::new(dir.path());
    let failed = failure(deploy(&migrator, &db.url).await.unwrap_err());
    assert_eq!(failed.sqlstate.as_deref(), Some("22012"));
    assert_eq!((failed.line, failed.column), (Some(5), Some(1)));
    assert_eq!(failed.statement.as_deref(), Some("SELECT 1/0"));
    assert_eq!(failed.committed_through_line, Some(3));
    let text = failed.to_string();
    assert!(text.contains("COMMIT at line 3"), "{text}");
    // Prisma's atomicity: what the file committed stays; the rest rolled back.
    assert!(db.table_exists("kept").await);
    assert!(!db.table_exists("lost").await);
    let status = migrator.status(&db.url).await.unwrap();
    assert_eq!(
        status.get("20250101000000_partial").unwrap().state,
        State::Failed
    );
}

#[tokio::test]
async fn an_unclosed_begin_is_refused_before_anything_runs() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "20250101000000_open",
        "CREATE TABLE a (x int);\nBEGIN;\nCREATE TABLE b (x int);\n",
    )]);
    let error = deploy(&Migrator::new(dir.path()), &db.url)
        .await
        .unwrap_err();
    match error {
        Error::Unrunnable(unrunnable) => {
            assert_eq!(unrunnable.line, 2);
            assert_eq!(unrunnable.reason, UnrunnableReason::UnclosedTransaction);
        }
        other => panic!("{other}"),
    }
    assert!(!db.table_exists("a").await);
}

const COPY_ROWS: &str = "CREATE TABLE \"Tag\" (id int PRIMARY KEY, name text, note text);\n\
    \n\
    COPY public.\"Tag\" (id, name, note) FROM stdin;\n\
    1\tfirst; not SQL\t\\N\n\
    2\ttab\\there\tback\\\\slash\n\
    \\.\n\
    \n\
    UPDATE \"Tag\" SET note = 'x' WHERE note IS NULL;\n";

#[tokio::test]
async fn copy_rows_are_loaded_as_psql_loads_them_in_every_mode() {
    let db = TestDb::new().await;
    let no_transaction = format!(
        "-- nelo:no-transaction\n{}",
        COPY_ROWS.replace("\"Tag\"", "\"Tag2\"")
    );
    let dir = folder(&[
        ("20250101000000_tags", COPY_ROWS),
        ("20250102000000_tags_outside", &no_transaction),
    ]);
    let migrator = Migrator::new(dir.path());
    deploy(&migrator, &db.url).await.unwrap();
    for table in ["\"Tag\"", "\"Tag2\""] {
        let rows: String = db
            .scalar(&format!(
                "SELECT string_agg(id || '|' || name || '|' || note, ';' ORDER BY id) FROM {table}"
            ))
            .await;
        assert_eq!(
            rows, "1|first; not SQL|x;2|tab\there|back\\slash",
            "{table}"
        );
    }
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());
}

#[tokio::test]
async fn a_bad_copy_row_fails_at_its_line_and_leaves_nothing_behind() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "20250101000000_tags",
        "CREATE TABLE tag (id int, name text);\nCOPY tag (id, name) FROM stdin;\n1\ta\nnot a number\tb\n\\.\n",
    )]);
    let migrator = Migrator::new(dir.path());
    let failed = failure(deploy(&migrator, &db.url).await.unwrap_err());
    assert_eq!(failed.sqlstate.as_deref(), Some("22P02"));
    assert_eq!(failed.line, Some(4), "{failed}");
    assert_eq!(
        failed.statement.as_deref(),
        Some("COPY tag (id, name) FROM stdin")
    );
    assert!(!db.table_exists("tag").await);
    // The connection was usable again: the failure is recorded.
    let history = db.history().await;
    assert_eq!(history.len(), 1);
    assert!(!history[0].1 && history[0].4.is_some());
}

#[tokio::test]
async fn session_state_a_migration_changes_reaches_neither_the_history_nor_the_next_migration() {
    let role = TestRole::new();
    let db = TestDb::new().await;
    let role_name = &role.name;
    let switch_role = format!(
        "CREATE ROLE \"{role_name}\" NOLOGIN;\n\
         GRANT CREATE, USAGE ON SCHEMA public TO \"{role_name}\";\n\
         SET ROLE \"{role_name}\";\n\
         CREATE TABLE owned_by_app (id int);\n\
         SET search_path = '';\n\
         SET statement_timeout = '42s';\n\
         CREATE TEMP TABLE scratch (id int);\n"
    );
    let no_transaction_switch = format!(
        "-- nelo:no-transaction\n\
         SET ROLE \"{role_name}\";\n\
         CREATE TABLE public.also_owned (id int);\n\
         SET search_path = '';\n\
         CREATE INDEX CONCURRENTLY also_owned_id ON public.also_owned (id);\n"
    );
    let authorization = format!(
        "SET SESSION AUTHORIZATION \"{role_name}\";\nCREATE TABLE public.by_authorization (id int);\n"
    );
    let dir = folder(&[
        ("20250101000000_switch_role", &switch_role),
        (
            "20250102000000_who_am_i",
            "CREATE TABLE who AS SELECT current_user::text AS name, \
             current_setting('search_path') AS search_path, \
             current_setting('statement_timeout') AS timeout, \
             (SELECT count(*) FROM pg_class WHERE relpersistence = 't') AS temporary_tables;\n",
        ),
        ("20250103000000_switch_outside", &no_transaction_switch),
        ("20250103500000_authorization", &authorization),
        (
            "20250104000000_who_after",
            "CREATE TABLE who_after AS SELECT current_user::text AS name, current_setting('search_path') AS search_path;\n",
        ),
    ]);
    let migrator = Migrator::new(dir.path());
    deploy(&migrator, &db.url).await.unwrap();
    let owner: String = db
        .scalar("SELECT tableowner::text FROM pg_tables WHERE tablename = 'owned_by_app'")
        .await;
    assert_eq!(
        &owner, role_name,
        "the migration itself ran as the role it set"
    );
    let (name, search_path, timeout, temporary): (String, String, String, i64) = {
        let mut conn = db.connect().await;
        sqlx::query_as("SELECT name, search_path, timeout, temporary_tables FROM who")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(name, "postgres");
    // The session's pinned search_path (`public` without `?schema=`), not the one set.
    assert_eq!(search_path, "\"public\"");
    assert_eq!(timeout, "0");
    assert_eq!(temporary, 0);
    let after: (String, String) = {
        let mut conn = db.connect().await;
        sqlx::query_as("SELECT name, search_path FROM who_after")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(after, ("postgres".to_string(), "\"public\"".to_string()));
    let history = db.history().await;
    assert_eq!(history.len(), 5);
    assert!(history.iter().all(|row| row.1), "{history:?}");
    assert_eq!(
        history[2].3, 4,
        "every step of the no-transaction migration"
    );
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());
}

#[tokio::test]
async fn a_runtime_error_names_the_statement_its_line_and_the_servers_detail() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "20250101000000_backfill",
        "CREATE TABLE \"User\" (id int PRIMARY KEY);\n\
         CREATE TABLE \"Post\" (id int, \"authorId\" int REFERENCES \"User\" (id));\n\
         INSERT INTO \"User\" VALUES (1);\n\
         -- Backfill\n\
         INSERT INTO \"Post\" VALUES (1, 1),\n  (2, 7);\n",
    )]);
    let migrator = Migrator::new(dir.path());
    let failed = failure(deploy(&migrator, &db.url).await.unwrap_err());
    assert_eq!(failed.sqlstate.as_deref(), Some("23503"));
    assert_eq!((failed.line, failed.column), (Some(5), Some(1)));
    assert_eq!(
        failed.statement.as_deref(),
        Some("INSERT INTO \"Post\" VALUES (1, 1),")
    );
    let text = failed.to_string();
    assert!(text.contains("migration.sql:5:1"), "{text}");
    assert!(
        text.contains("Key (authorId)=(7) is not present in table \"User\""),
        "{text}"
    );
    // Finding the statement changed nothing: the transaction rolled back whole.
    assert!(!db.table_exists("\"User\"").await);

    // Division by zero after a few statements, in a file with a byte order mark and CRLF.
    let db = TestDb::new().await;
    let dir = folder(&[(
        "20250101000000_divide",
        "\u{feff}CREATE TABLE a (x int);\r\nINSERT INTO a VALUES (1);\r\n\r\nUPDATE a SET x = x / 0;\r\n",
    )]);
    let failed = failure(
        deploy(&Migrator::new(dir.path()), &db.url)
            .await
            .unwrap_err(),
    );
    assert_eq!(failed.sqlstate.as_deref(), Some("22012"));
    assert_eq!((failed.line, failed.column), (Some(4), Some(1)));
    assert_eq!(failed.statement.as_deref(), Some("UPDATE a SET x = x / 0"));
}

#[tokio::test]
async fn a_connection_ended_by_the_server_is_reported_as_lost_not_waited_on() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "20250101000000_killed",
        "CREATE TABLE half (a int);\nSELECT pg_terminate_backend(pg_backend_pid());\n",
    )]);
    let error = deploy(&Migrator::new(dir.path()), &db.url)
        .await
        .unwrap_err();
    let text = error.to_string();
    match error {
        Error::ConnectionLost(loss) => {
            assert_eq!(loss.migration, "20250101000000_killed");
            assert!(loss.atomic);
        }
        other => panic!("{other:?}"),
    }
    assert!(text.contains("nothing of it is applied"), "{text}");
    assert!(!db.table_exists("half").await);
    assert!(!db.table_exists("_prisma_migrations").await);
}

/// Terminates the backend of `db` that runs a query containing `marker`, once it runs.
async fn terminate_when_running(db: &TestDb, marker: &str) {
    let running = format!(
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = '{}' \
         AND query LIKE '%{marker}%' AND pid <> pg_backend_pid())",
        db.name
    );
    common::wait_for("the statement to run", Duration::from_secs(30), || {
        db.scalar::<bool>(&running)
    })
    .await;
    db.execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' \
         AND query LIKE '%{marker}%' AND pid <> pg_backend_pid()",
        db.name
    ))
    .await;
}

#[tokio::test]
async fn an_interrupted_lone_or_self_committing_migration_stays_started_and_blocks_the_next_deploy()
{
    for (name, sql, left_behind) in [
        (
            "20250102000000_index",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_slow ON a (slow(id));\n",
            "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = 'a_slow'::regclass",
        ),
        (
            "20250102000000_own_commit",
            "BEGIN;\nCREATE TABLE kept (id int);\nCOMMIT;\nSELECT slow(id) FROM a;\n",
            "SELECT to_regclass('kept') IS NOT NULL",
        ),
    ] {
        let db = TestDb::new().await;
        let dir = folder(&[
            (
                "20250101000000_slow",
                "CREATE TABLE a (id int);\nINSERT INTO a SELECT generate_series(1, 50);\n\
                 CREATE FUNCTION slow(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ \
                 BEGIN PERFORM pg_sleep(0.2); RETURN $1; END $$;\n",
            ),
            (name, sql),
        ]);
        let migrator = Migrator::new(dir.path());
        let url = db.url.clone();
        let running = tokio::spawn({
            let migrator = migrator.clone();
            async move { migrator.deploy(&url, ignore_events).await }
        });
        terminate_when_running(&db, "slow(id)").await;
        let error = running.await.unwrap().unwrap_err();
        match &error {
            Error::ConnectionLost(loss) => assert!(!loss.atomic, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        assert!(db.scalar::<bool>(left_behind).await, "{name}: what it left");
        // Recorded as started, never finished: the next deploy stops on it.
        let status = migrator.status(&db.url).await.unwrap();
        assert_eq!(status.get(name).unwrap().state, State::Failed, "{name}");
        assert!(matches!(
            deploy(&migrator, &db.url).await,
            Err(Error::FailedMigrationFound { .. })
        ));
    }
}

#[tokio::test]
async fn a_lone_call_runs_outside_a_transaction_so_its_procedure_may_commit() {
    let db = TestDb::new().await;
    let dir = folder(&[
        (
            "20250101000000_procedure",
            "CREATE TABLE done (id int);\n\
             CREATE PROCEDURE fill() LANGUAGE plpgsql AS $$ \
             BEGIN INSERT INTO done VALUES (1); COMMIT; INSERT INTO done VALUES (2); END $$;\n",
        ),
        (
            "20250102000000_call",
            "-- Backfill in batches\nCALL fill();\n",
        ),
        (
            "20250103000000_do_commit",
            "DO $$ BEGIN INSERT INTO done VALUES (3); COMMIT; END $$;\n",
        ),
    ]);
    let migrator = Migrator::new(dir.path());
    deploy(&migrator, &db.url).await.unwrap();
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM done").await, 3);
    assert!(migrator.status(&db.url).await.unwrap().is_up_to_date());
}

#[tokio::test]
async fn prepared_statements_end_with_their_migration() {
    let db = TestDb::new().await;
    let dir = folder(&[
        ("20250101000000_a", "PREPARE p AS SELECT 1;\nEXECUTE p;\n"),
        ("20250102000000_b", "PREPARE p AS SELECT 2;\nEXECUTE p;\n"),
        (
            "20250103000000_c",
            "-- nelo:no-transaction\nPREPARE p AS SELECT 3;\nEXECUTE p;\n",
        ),
        ("20250104000000_d", "PREPARE p AS SELECT 4;\n"),
    ]);
    deploy(&Migrator::new(dir.path()), &db.url).await.unwrap();
}

#[tokio::test]
async fn a_deferred_constraint_failing_at_commit_and_a_syntax_error_are_named() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "20250101000000_deferred",
        "CREATE TABLE parent (id int PRIMARY KEY);\n\
         CREATE TABLE child (parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);\n\
         INSERT INTO child VALUES (7);\n",
    )]);
    let failed = failure(
        deploy(&Migrator::new(dir.path()), &db.url)
            .await
            .unwrap_err(),
    );
    assert_eq!(failed.sqlstate.as_deref(), Some("23503"));
    let statement = failed.statement.clone().unwrap_or_default();
    assert!(
        statement.starts_with("COMMIT at the end of the migration's transaction"),
        "{failed}"
    );

    let db = TestDb::new().await;
    let dir = folder(&[(
        "20250101000000_typo",
        "CREATE TABLE a (id int);\nCREATE TABEL b (id int);\n",
    )]);
    let failed = failure(
        deploy(&Migrator::new(dir.path()), &db.url)
            .await
            .unwrap_err(),
    );
    assert_eq!(failed.sqlstate.as_deref(), Some("42601"));
    assert_eq!(failed.line, Some(2));
    assert_eq!(failed.statement.as_deref(), Some("CREATE TABEL b (id int)"));
}
