//! Drift: a live database against what its applied migrations build, one test per kind of
//! drift, against a real server. Needs NELO_TEST_SERVER_URL.

mod common;

use common::{TestDb, diff_options, folder, ignore_events, write_migration};
use nelo_migrate::Migrator;
use nelo_migrate::diff::{Drift, drift};

const FIRST: &str = "CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL);\n\
                     CREATE INDEX note_body_idx ON note (body);\n";
const SECOND: &str = "ALTER TABLE note ADD COLUMN title text;\n";

/// A database with `1_first` and `2_second` deployed from a fresh folder, and the folder.
async fn deployed() -> (TestDb, tempfile::TempDir) {
    let db = TestDb::new().await;
    let dir = folder(&[("1_first", FIRST), ("2_second", SECOND)]);
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .expect("deploy");
    (db, dir)
}

fn shown(drift: &Drift) -> Vec<String> {
    drift.differences.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn a_database_built_by_its_migrations_has_no_drift() {
    let (db, dir) = deployed().await;
    let found = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
    assert!(found.is_empty(), "{:?}", shown(&found));
    assert_eq!(found.replayed, ["1_first", "2_second"]);
}

#[tokio::test]
async fn pending_migrations_are_not_drift() {
    let (db, dir) = deployed().await;
    write_migration(
        dir.path(),
        "3_third",
        "CREATE TABLE tag (id bigint PRIMARY KEY);\n",
    );
    let found = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
    assert!(found.is_empty(), "{:?}", shown(&found));
    assert_eq!(found.replayed, ["1_first", "2_second"]);
}

#[tokio::test]
async fn a_reset_database_has_no_drift() {
    // `reset` recreates `public` with PostgreSQL's own comment, under a new oid.
    let (db, dir) = deployed().await;
    Migrator::new(dir.path())
        .reset(&db.url, ignore_events)
        .await
        .expect("reset");
    let found = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
    assert!(found.is_empty(), "{:?}", shown(&found));
}

#[tokio::test]
async fn a_table_created_by_hand_is_drift() {
    let (db, dir) = deployed().await;
    db.execute("CREATE TABLE audit (id bigint)").await;
    let found = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
    assert_eq!(shown(&found), ["added table `public.audit`"]);
}

#[tokio::test]
async fn a_column_changed_by_hand_is_drift() {
    let (db, dir) = deployed().await;
    db.execute("ALTER TABLE note ALTER COLUMN title SET NOT NULL")
        .await;
    let found = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
    let shown = shown(&found);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with("changed column `title` of table `public.note` (not null"),
        "{shown:?}"
    );
}

#[tokio::test]
async fn an_index_dropped_by_hand_is_drift() {
    let (db, dir) = deployed().await;
    db.execute("DROP INDEX note_body_idx").await;
    let found = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
    let shown = shown(&found);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with("removed index") && shown[0].contains("note_body_idx"),
        "{shown:?}"
    );
}

#[tokio::test]
async fn a_migration_edited_after_apply_is_replayed_as_it_is_now_and_named() {
    let (db, dir) = deployed().await;
    write_migration(
        dir.path(),
        "2_second",
        "ALTER TABLE note ADD COLUMN title varchar(80);\n",
    );
    let found = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
    assert_eq!(found.modified, ["2_second"]);
    let shown = shown(&found);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].contains(
            "column `title` of table `public.note` (type: character varying(80) -> text)"
        ),
        "{shown:?}"
    );
}

#[tokio::test]
async fn an_applied_migration_missing_from_the_folder_is_an_error_naming_it() {
    let (db, dir) = deployed().await;
    std::fs::remove_dir_all(dir.path().join("2_second")).unwrap();
    let error = drift(&db.url, dir.path(), &diff_options())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("2_second") && text.contains("missing"),
        "{text}"
    );
}

#[tokio::test]
async fn drift_is_read_in_the_urls_schema() {
    let db = TestDb::new().await;
    let url = format!("{}?schema=app", db.url);
    let dir = folder(&[("1_first", FIRST)]);
    Migrator::new(dir.path())
        .deploy(&url, ignore_events)
        .await
        .expect("deploy into schema app");
    // Objects in another schema are not this history's concern.
    db.execute("CREATE TABLE public.elsewhere (id bigint)")
        .await;
    let found = drift(&url, dir.path(), &diff_options()).await.unwrap();
    assert!(found.is_empty(), "{:?}", shown(&found));
    db.execute("CREATE TABLE app.extra (id bigint)").await;
    let found = drift(&url, dir.path(), &diff_options()).await.unwrap();
    assert_eq!(shown(&found), ["added table `app.extra`"]);
}

/// One change by hand per kind the model compares beyond tables, columns and indexes: each is
/// drift, named by its kind.
#[tokio::test]
async fn each_kind_changed_by_hand_is_drift_of_that_kind() {
    let base = "CREATE TYPE mood AS ENUM ('calm', 'angry');\n\
                CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL CHECK (body <> ''), m mood);\n\
                CREATE SEQUENCE note_number;\n\
                CREATE FUNCTION shout(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(t) $$;\n\
                CREATE VIEW loud AS SELECT shout(body) AS body FROM note;\n\
                CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
                CREATE TRIGGER note_touch BEFORE UPDATE ON note FOR EACH ROW EXECUTE FUNCTION touch();\n\
                COMMENT ON TABLE note IS 'a note';\n";
    let cases = [
        ("ALTER TYPE mood ADD VALUE 'happy'", "enum"),
        (
            "ALTER TABLE note DROP CONSTRAINT note_body_check",
            "constraint",
        ),
        ("ALTER SEQUENCE note_number INCREMENT BY 10", "sequence"),
        (
            "CREATE OR REPLACE FUNCTION shout(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(t) $$",
            "function",
        ),
        (
            "CREATE OR REPLACE VIEW loud AS SELECT shout(body) AS body FROM note WHERE id > 0",
            "view",
        ),
        ("DROP TRIGGER note_touch ON note", "trigger"),
        ("COMMENT ON TABLE note IS 'changed by hand'", "comment"),
    ];
    for (change, kind) in cases {
        let db = TestDb::new().await;
        let dir = folder(&[("1_init", base)]);
        Migrator::new(dir.path())
            .deploy(&db.url, ignore_events)
            .await
            .expect("deploy");
        let before = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
        assert!(before.is_empty(), "{kind}: {:?}", shown(&before));
        db.execute(change).await;
        let found = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
        let shown = shown(&found);
        assert!(
            !shown.is_empty(),
            "{kind}: `{change}` was not seen as drift"
        );
        assert!(
            shown.iter().any(|line| line.contains(kind)),
            "{kind}: `{change}` shown as {shown:?}"
        );
    }
}
