//! nelo-migrate against Prisma Migrate (emulated in `common::prisma`): every folder Prisma
//! deploys, nelo deploys to the same schema (`common::catalog`), and a database goes from
//! one to the other and back mid-history.

mod common;

use std::path::Path;

use common::catalog::{assert_same_catalog, catalog};
use common::prisma::{self, Prisma, PrismaError, prisma_checksum};
use common::{TestDb, TestRole, ignore_events};
use nelo_fixtures::{COMPAT_TAG_ROWS, DataLoad, prisma_compat_folder, realistic_folder};
use nelo_migrate::Migrator;
use tempfile::TempDir;

const REALISTIC_COUNT: usize = 300;
const HANDOFF_REALISTIC_COUNT: usize = 120;
/// The rows the pg_dump-style migration copies from its temporary table into `"Tag"`.
const IMPORTED_TAGS: [(i32, Option<&str>); 2] = [(101, Some("imported")), (102, None)];
/// A script that fails, to leave a failed row behind.
const FAILING_SCRIPT: &str = "-- fails on purpose\nSELECT 1/0;\n";

fn realistic(count: usize) -> (TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let names = realistic_folder(dir.path(), count).unwrap();
    (dir, names)
}

/// The compatibility folder, with a role of its own (dropped with the guard).
fn compat(data: DataLoad) -> (TempDir, Vec<String>, TestRole) {
    let role = TestRole::new();
    let dir = tempfile::tempdir().unwrap();
    let names = prisma_compat_folder(dir.path(), data, &role.name).unwrap();
    (dir, names, role)
}

/// A folder with the lock file and the first `count` migrations of `source`.
fn prefix_folder(source: &Path, names: &[String], count: usize) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        source.join("migration_lock.toml"),
        dir.path().join("migration_lock.toml"),
    )
    .unwrap();
    for name in &names[..count] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
        std::fs::copy(
            source.join(name).join("migration.sql"),
            dir.path().join(name).join("migration.sql"),
        )
        .unwrap();
    }
    dir
}

/// `prefix_folder` of `count + 1` migrations whose last one fails.
fn prefix_folder_failing_last(source: &Path, names: &[String], count: usize) -> TempDir {
    let dir = prefix_folder(source, names, count + 1);
    std::fs::write(
        dir.path().join(&names[count]).join("migration.sql"),
        FAILING_SCRIPT,
    )
    .unwrap();
    dir
}

async fn nelo_deploy(dir: &Path, db: &TestDb) -> Vec<String> {
    Migrator::new(dir)
        .deploy(&db.url, ignore_events)
        .await
        .unwrap_or_else(|error| panic!("nelo-migrate deploy failed: {error}"))
        .applied
}

async fn prisma_deploy(dir: &Path, db: &TestDb) -> Vec<String> {
    Prisma::new(dir)
        .deploy(&db.url)
        .await
        .unwrap_or_else(|error| panic!("prisma migrate deploy failed: {error:?}"))
}

async fn assert_up_to_date(dir: &Path, db: &TestDb, what: &str) {
    let status = Migrator::new(dir)
        .status(&db.url)
        .await
        .unwrap_or_else(|error| panic!("nelo-migrate status on {what} failed: {error}"));
    assert!(
        status.is_up_to_date(),
        "nelo-migrate status on {what} is not up to date: {status:?}"
    );
}

async fn tag_rows(db: &TestDb) -> Vec<(i32, Option<String>)> {
    let mut conn = db.connect().await;
    let rows = sqlx::query_as("SELECT \"id\", \"name\" FROM \"Tag\" ORDER BY \"id\"")
        .fetch_all(&mut conn)
        .await
        .expect("read the tags");
    let _ = sqlx::Connection::close(conn).await;
    rows
}

fn expected_tags() -> Vec<(i32, Option<String>)> {
    COMPAT_TAG_ROWS
        .iter()
        .chain(IMPORTED_TAGS.iter())
        .map(|(id, name)| (*id, name.map(str::to_owned)))
        .collect()
}

/// (migration_name, checksum, finished, rolled back, applied_steps_count, logs), by start.
async fn history_rows(db: &TestDb) -> Vec<(String, String, bool, bool, i32, Option<String>)> {
    let mut conn = db.connect().await;
    let rows = sqlx::query_as(
        "SELECT migration_name, checksum, finished_at IS NOT NULL, rolled_back_at IS NOT NULL,
                applied_steps_count, logs
         FROM _prisma_migrations ORDER BY started_at, migration_name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read _prisma_migrations");
    let _ = sqlx::Connection::close(conn).await;
    rows
}

fn file_checksum(dir: &Path, name: &str) -> String {
    prisma_checksum(&std::fs::read_to_string(dir.join(name).join("migration.sql")).unwrap())
}

// The emulator itself.

#[test]
fn emulator_lists_directories_in_byte_order_and_ignores_files() {
    let (dir, names, _role) = compat(DataLoad::Insert);
    let listed = prisma::list_migrations(dir.path()).unwrap();
    let listed_names: Vec<&str> = listed.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(listed_names, names);
    assert!(listed.iter().all(|migration| migration.script.is_ok()));
    std::fs::create_dir(dir.path().join("20990101000000_no_script")).unwrap();
    let listed = prisma::list_migrations(dir.path()).unwrap();
    let last = listed.last().unwrap();
    assert_eq!(last.name, "20990101000000_no_script");
    assert!(last.script.is_err());
}

#[test]
fn emulator_reads_the_provider_as_prisma_does() {
    assert_eq!(
        prisma::lock_file_provider(nelo_fixtures::LOCK_FILE_CONTENT),
        "postgresql"
    );
    assert_eq!(
        prisma::lock_file_provider("provider = \"mysql\"\n"),
        "mysql"
    );
    assert_eq!(
        prisma::lock_file_provider("# empty\n"),
        "<PROVIDER NOT FOUND>"
    );
}

#[tokio::test]
async fn emulator_deploys_the_realistic_folder_and_writes_prisma_rows() {
    let db = TestDb::new().await;
    let (dir, names) = realistic(REALISTIC_COUNT);
    assert_eq!(prisma_deploy(dir.path(), &db).await, names);
    let rows = history_rows(&db).await;
    assert_eq!(rows.len(), names.len());
    for (row, name) in rows.iter().zip(&names) {
        assert_eq!(&row.0, name);
        assert_eq!(row.1, file_checksum(dir.path(), name));
        assert_eq!(
            (row.2, row.3, row.4, row.5.as_deref()),
            (true, false, 1, None)
        );
    }
    assert!(prisma_deploy(dir.path(), &db).await.is_empty());
}

#[tokio::test]
async fn emulator_deploys_the_compat_folder() {
    let db = TestDb::new().await;
    let (dir, names, role) = compat(DataLoad::Insert);
    assert_eq!(prisma_deploy(dir.path(), &db).await, names);
    assert_eq!(tag_rows(&db).await, expected_tags());
    // Prisma keeps the session: the migration after the `SET ROLE` ran as that role.
    let owner: String = db
        .scalar("SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = '\"AuditEntry_action_idx\"'::regclass")
        .await;
    assert_eq!(owner, role.name);
    assert!(prisma_deploy(dir.path(), &db).await.is_empty());
}

/// Prisma cannot load pg_dump's `COPY ... FROM stdin`: the server parses the whole script
/// first, and the rows are not SQL. Everything before it is applied; it is left failed.
#[tokio::test]
async fn emulator_fails_on_pg_dump_copy_data_like_prisma() {
    let db = TestDb::new().await;
    let (dir, names, _role) = compat(DataLoad::PgDumpCopy);
    let last = names.last().unwrap();
    let error = Prisma::new(dir.path()).deploy(&db.url).await.unwrap_err();
    let PrismaError::ApplyMigration {
        migration_name,
        database_error_code,
        logs,
    } = &error
    else {
        panic!("expected P3018, got {error:?}");
    };
    assert_eq!(
        (migration_name, database_error_code.as_str()),
        (last, "42601")
    );
    let rows = history_rows(&db).await;
    assert_eq!(rows.len(), names.len());
    let failed = rows.last().unwrap();
    assert_eq!(&failed.0, last);
    assert_eq!((failed.2, failed.3, failed.4), (false, false, 0));
    assert_eq!(failed.5.as_deref(), Some(logs.as_str()));
    assert!(
        logs.contains("ERROR: syntax error at or near \"1\""),
        "{logs}"
    );
    assert!(logs.contains(&format!("Migration name: {last}")), "{logs}");
    assert!(logs.contains("Position:"), "{logs}");
    assert!(
        logs.contains("1\tplain"),
        "the failing line is shown: {logs}"
    );
    let again = Prisma::new(dir.path()).deploy(&db.url).await.unwrap_err();
    assert_eq!(again.code(), "P3009");
}

/// Prisma runs its history writes on the session the script ran on: a script that clears
/// `search_path` (as pg_dump's header does) and does not give it back hides
/// `_prisma_migrations` from them. The script's changes stay; its row is left unfinished.
#[tokio::test]
async fn emulator_keeps_the_session_a_script_changed() {
    let db = TestDb::new().await;
    let dir = common::folder(&[(
        "20250201000000_dump_header",
        "SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.\"Dumped\" (id integer);\n",
    )]);
    let error = Prisma::new(dir.path()).deploy(&db.url).await.unwrap_err();
    let PrismaError::Other(message) = &error else {
        panic!("expected the history write to fail, got {error:?}");
    };
    assert!(message.contains("_prisma_migrations"), "{message}");
    assert!(db.table_exists("public.\"Dumped\"").await);
    let history = db.history().await;
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].1, history[0].2, history[0].3),
        (false, false, 0)
    );
}

// The same schema from the same folder.

#[tokio::test]
async fn realistic_folder_gives_the_same_schema_under_nelo_and_prisma() {
    let (prisma_db, nelo_db) = (TestDb::new().await, TestDb::new().await);
    let (dir, names) = realistic(REALISTIC_COUNT);
    assert_eq!(prisma_deploy(dir.path(), &prisma_db).await, names);
    assert_eq!(nelo_deploy(dir.path(), &nelo_db).await, names);
    assert_same_catalog(&prisma_db.url, &nelo_db.url, "prisma vs nelo, realistic").await;
    assert_up_to_date(dir.path(), &prisma_db, "the database Prisma migrated").await;
    assert_up_to_date(dir.path(), &nelo_db, "the database nelo migrated").await;
}

#[tokio::test]
async fn compat_folder_gives_the_same_schema_under_nelo_and_prisma() {
    let (prisma_db, nelo_db) = (TestDb::new().await, TestDb::new().await);
    let (dir, names, _role) = compat(DataLoad::Insert);
    assert_eq!(prisma_deploy(dir.path(), &prisma_db).await, names);
    assert_eq!(nelo_deploy(dir.path(), &nelo_db).await, names);
    assert_same_catalog(&prisma_db.url, &nelo_db.url, "prisma vs nelo, compat").await;
    assert_eq!(tag_rows(&nelo_db).await, expected_tags());
    assert_up_to_date(dir.path(), &prisma_db, "the database Prisma migrated").await;
    assert_up_to_date(dir.path(), &nelo_db, "the database nelo migrated").await;
    // nelo records what Prisma records: the folder name verbatim, the file's checksum.
    let rows = history_rows(&nelo_db).await;
    let recorded: Vec<(&str, &str)> = rows
        .iter()
        .map(|row| (row.0.as_str(), row.1.as_str()))
        .collect();
    let expected: Vec<(String, String)> = names
        .iter()
        .map(|name| (name.clone(), file_checksum(dir.path(), name)))
        .collect();
    let expected: Vec<(&str, &str)> = expected
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_str()))
        .collect();
    assert_eq!(recorded, expected);
    assert!(rows.iter().all(|row| row.2 && !row.3));
}

/// The same scripts under names every engine accepts and without the plain files: what is
/// left to compare is how each script runs (lone CONCURRENTLY and VACUUM statements, inner
/// BEGIN/COMMIT, session changes), whatever becomes of odd names.
#[tokio::test]
async fn compat_scripts_under_plain_names_give_the_same_schema_under_nelo_and_prisma() {
    let (prisma_db, nelo_db) = (TestDb::new().await, TestDb::new().await);
    let (source, source_names, _role) = compat(DataLoad::Insert);
    let dir = tempfile::tempdir().unwrap();
    common::write_lock_file(dir.path());
    let names: Vec<String> = source_names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let plain = format!("2030010100{index:04}_script_{index}");
            let sql = std::fs::read_to_string(source.path().join(name).join("migration.sql"));
            common::write_migration(dir.path(), &plain, &sql.unwrap());
            plain
        })
        .collect();
    assert_eq!(prisma_deploy(dir.path(), &prisma_db).await, names);
    assert_eq!(nelo_deploy(dir.path(), &nelo_db).await, names);
    assert_same_catalog(
        &prisma_db.url,
        &nelo_db.url,
        "prisma vs nelo, compat scripts",
    )
    .await;
    assert_eq!(tag_rows(&nelo_db).await, expected_tags());
    assert_up_to_date(dir.path(), &prisma_db, "the database Prisma migrated").await;
}

/// pg_dump data, loaded as psql loads it: the same schema and rows as the INSERT form
/// that Prisma deploys.
#[tokio::test]
async fn nelo_loads_pg_dump_copy_data_as_psql_does() {
    let (prisma_db, nelo_db) = (TestDb::new().await, TestDb::new().await);
    let (insert_dir, _, _insert_role) = compat(DataLoad::Insert);
    let (copy_dir, names, _copy_role) = compat(DataLoad::PgDumpCopy);
    prisma_deploy(insert_dir.path(), &prisma_db).await;
    assert_eq!(nelo_deploy(copy_dir.path(), &nelo_db).await, names);
    assert_same_catalog(
        &prisma_db.url,
        &nelo_db.url,
        "COPY under nelo vs INSERT under Prisma",
    )
    .await;
    assert_eq!(tag_rows(&nelo_db).await, expected_tags());
    assert_up_to_date(copy_dir.path(), &nelo_db, "the database nelo migrated").await;
}

// Handoffs.

/// Prisma applies `names[..count]`, fails on the next one (a broken script) and resolves it
/// `--rolled-back`; nelo deploys the rest. The result is a clean nelo deploy's.
async fn prisma_then_nelo(dir: &Path, names: &[String], count: usize) {
    let (handoff_db, clean_db) = (TestDb::new().await, TestDb::new().await);
    let partial = prefix_folder_failing_last(dir, names, count);
    let prisma = Prisma::new(partial.path());
    let error = prisma.deploy(&handoff_db.url).await.unwrap_err();
    assert_eq!(error.code(), "P3018", "{error:?}");
    prisma
        .resolve_rolled_back(&handoff_db.url, &names[count])
        .await
        .unwrap();
    assert_eq!(nelo_deploy(dir, &handoff_db).await, names[count..]);
    assert_eq!(nelo_deploy(dir, &clean_db).await, names);
    assert_same_catalog(
        &clean_db.url,
        &handoff_db.url,
        "clean nelo vs prisma then nelo",
    )
    .await;
    assert_up_to_date(dir, &handoff_db, "the database handed from Prisma").await;
    let rows = history_rows(&handoff_db).await;
    let rolled_back: Vec<_> = rows.iter().filter(|row| row.3).collect();
    assert_eq!(rolled_back.len(), 1);
    assert_eq!(rolled_back[0].0, names[count]);
    assert_eq!(rolled_back[0].1, prisma_checksum(FAILING_SCRIPT));
    assert_eq!(rows.len(), names.len() + 1);
}

/// nelo applies `names[..count]`, fails on the next one (a broken script); Prisma refuses to
/// deploy over the failed row (P3009) until nelo resolves it `--rolled-back`, then deploys
/// the rest, skipping what nelo applied. The result is a clean Prisma deploy's.
async fn nelo_then_prisma(dir: &Path, names: &[String], count: usize) {
    let (handoff_db, clean_db) = (TestDb::new().await, TestDb::new().await);
    let partial = prefix_folder_failing_last(dir, names, count);
    let nelo_partial = Migrator::new(partial.path());
    match nelo_partial.deploy(&handoff_db.url, ignore_events).await {
        Err(nelo_migrate::Error::MigrationFailed(failure)) => {
            assert_eq!(failure.migration, names[count], "{failure}");
        }
        other => panic!("expected `{}` to fail, got {other:?}", names[count]),
    }
    let refused = Prisma::new(dir).deploy(&handoff_db.url).await.unwrap_err();
    let PrismaError::FoundFailedMigrations { details } = &refused else {
        panic!("expected P3009, got {refused:?}");
    };
    assert!(details.contains(&names[count]), "{details}");
    nelo_partial
        .resolve_rolled_back(&handoff_db.url, &names[count])
        .await
        .unwrap();
    assert_eq!(prisma_deploy(dir, &handoff_db).await, names[count..]);
    assert_eq!(prisma_deploy(dir, &clean_db).await, names);
    assert_same_catalog(
        &clean_db.url,
        &handoff_db.url,
        "clean prisma vs nelo then prisma",
    )
    .await;
    assert_up_to_date(dir, &handoff_db, "the database handed to Prisma").await;
}

#[tokio::test]
async fn realistic_history_goes_from_prisma_to_nelo() {
    let (dir, names) = realistic(HANDOFF_REALISTIC_COUNT);
    prisma_then_nelo(dir.path(), &names, HANDOFF_REALISTIC_COUNT / 2).await;
}

#[tokio::test]
async fn realistic_history_goes_from_nelo_to_prisma() {
    let (dir, names) = realistic(HANDOFF_REALISTIC_COUNT);
    nelo_then_prisma(dir.path(), &names, HANDOFF_REALISTIC_COUNT / 2).await;
}

/// Prisma applies the odd names and the index migrations; nelo takes over at the enum
/// changes, the session changes and the rest.
#[tokio::test]
async fn compat_history_goes_from_prisma_to_nelo() {
    let (dir, names, _role) = compat(DataLoad::Insert);
    let count = position(&names, "20250106080000_remove_moderator_role");
    prisma_then_nelo(dir.path(), &names, count).await;
}

/// nelo applies the odd names and the index migrations; Prisma takes over at the enum
/// changes, the session changes and the rest.
#[tokio::test]
async fn compat_history_goes_from_nelo_to_prisma() {
    let (dir, names, _role) = compat(DataLoad::Insert);
    let count = position(&names, "20250106080000_remove_moderator_role");
    nelo_then_prisma(dir.path(), &names, count).await;
}

fn position(names: &[String], name: &str) -> usize {
    names
        .iter()
        .position(|candidate| candidate == name)
        .unwrap_or_else(|| panic!("`{name}` is not in the folder"))
}

/// A migration that leaves its session changed in every way it can.
const SWITCH_SESSION: &str = r#"DO $$
BEGIN
    CREATE ROLE "nelo_compat_limited" NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
CREATE SCHEMA "vault";
GRANT USAGE, CREATE ON SCHEMA "vault" TO "nelo_compat_limited";
SELECT pg_catalog.set_config('search_path', '', false);
SET ROLE "nelo_compat_limited";
SET nelo.compat_marker = 'leaked';
CREATE TEMPORARY TABLE "scratch" ("id" integer);
CREATE TABLE "vault"."Secret" ("id" integer);
"#;

// What Prisma does not do: nelo keeps every migration in a session of its own.

/// A migration leaves the session changed (no privileges on the history table for the
/// role, an empty search path, a setting, a temporary table); neither nelo's history
/// writes nor the next migration see any of it.
#[tokio::test]
async fn session_state_does_not_leak_into_history_or_the_next_migration() {
    let role = TestRole::new();
    let db = TestDb::new().await;
    let switch_session = SWITCH_SESSION.replace("nelo_compat_limited", &role.name);
    let dir = common::folder(&[
        ("20250301000000_switch_session", &switch_session),
        (
            "20250302000000_after_switch",
            r#"DO $$
BEGIN
    IF current_user <> session_user THEN
        RAISE EXCEPTION 'the role leaked: %', current_user;
    END IF;
    IF coalesce(current_setting('nelo.compat_marker', true), '') <> '' THEN
        RAISE EXCEPTION 'a setting leaked';
    END IF;
    IF to_regclass('pg_temp.scratch') IS NOT NULL THEN
        RAISE EXCEPTION 'a temporary table leaked';
    END IF;
END $$;
CREATE TABLE "AfterSwitch" ("id" integer);
"#,
        ),
    ]);
    let applied = nelo_deploy(dir.path(), &db).await;
    assert_eq!(applied.len(), 2);
    assert!(db.table_exists("public.\"AfterSwitch\"").await);
    let owner_is_session_user: bool = db
        .scalar("SELECT pg_get_userbyid(relowner) = session_user FROM pg_class WHERE oid = 'public.\"AfterSwitch\"'::regclass")
        .await;
    assert!(owner_is_session_user);
    let history = db.history().await;
    assert!(history.iter().all(|row| row.1 && !row.2), "{history:?}");
    assert_up_to_date(dir.path(), &db, "the database").await;
    // The catalog query sees the schema, not the session.
    assert!(
        catalog(&db.url)
            .await
            .iter()
            .any(|line| line.contains("Secret"))
    );
}

/// Prisma stops at a directory without `migration.sql` (P3015); nelo names it.
#[tokio::test]
async fn a_directory_without_migration_sql_is_an_error_naming_it() {
    let (nelo_db, prisma_db) = (TestDb::new().await, TestDb::new().await);
    let (dir, _, _role) = compat(DataLoad::Insert);
    std::fs::create_dir(dir.path().join("20250104090000_forgotten")).unwrap();
    let error = Migrator::new(dir.path())
        .deploy(&nelo_db.url, ignore_events)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("20250104090000_forgotten"), "{error}");
    assert!(error.contains("migration.sql"), "{error}");
    let prisma_error = Prisma::new(dir.path())
        .deploy(&prisma_db.url)
        .await
        .unwrap_err();
    assert_eq!(prisma_error.code(), "P3015");
}

/// Baselining: a database made without migrations, its first migration recorded with
/// `resolve --applied` by one tool (a row with `logs` '' and `applied_steps_count` 0 from
/// Prisma), the rest deployed by the other.
#[tokio::test]
async fn a_baseline_recorded_by_either_tool_is_applied_for_the_other() {
    let migrations = [
        (
            "20250101000000_baseline",
            "CREATE TABLE \"Base\" (\"id\" integer PRIMARY KEY);\n",
        ),
        (
            "20250102000000_add_name",
            "ALTER TABLE \"Base\" ADD COLUMN \"name\" TEXT;\n",
        ),
    ];
    let dir = common::folder(&migrations);
    let (from_prisma, from_nelo) = (TestDb::new().await, TestDb::new().await);
    for db in [&from_prisma, &from_nelo] {
        db.execute(migrations[0].1).await;
    }

    Prisma::new(dir.path())
        .resolve_applied(&from_prisma.url, migrations[0].0)
        .await
        .unwrap();
    let baseline = &history_rows(&from_prisma).await[0];
    assert_eq!(
        (baseline.2, baseline.3, baseline.4, baseline.5.as_deref()),
        (true, false, 0, Some(""))
    );
    assert_eq!(
        nelo_deploy(dir.path(), &from_prisma).await,
        [migrations[1].0]
    );
    assert_up_to_date(dir.path(), &from_prisma, "the database Prisma baselined").await;

    Migrator::new(dir.path())
        .resolve_applied(&from_nelo.url, migrations[0].0)
        .await
        .unwrap();
    assert_eq!(
        prisma_deploy(dir.path(), &from_nelo).await,
        [migrations[1].0]
    );
    assert_same_catalog(
        &from_prisma.url,
        &from_nelo.url,
        "baselined by Prisma vs by nelo",
    )
    .await;
}
