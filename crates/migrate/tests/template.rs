//! Template databases of migrations folders (`nelo_migrate::template`) and their use by
//! `diff` and drift, against a real server. Needs NELO_TEST_SERVER_URL.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    TestDb, TestRole, diff_options, folder, ignore_events, on_own_runtime, server_url,
    write_migration,
};
use nelo_migrate::diff::{DiffOptions, Source, diff, drift};
use nelo_migrate::lint::LintMode;
use nelo_migrate::template::{self, Built, Slot, TemplateRequest};
use nelo_migrate::{DatabaseUrl, Migration, Migrator, postgres};
use sqlx::{Connection, PgConnection};

const FIRST: &str = "CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL);\n";
const SECOND: &str = "CREATE INDEX note_body_idx ON note (body);\n";
const THIRD: &str = "ALTER TABLE note ADD COLUMN title text;\n";

/// A folder of `migrations` whose first one carries a marker of its own: templates are keyed
/// by content, so tests running at once must not share one.
fn own_folder(migrations: &[(&str, &str)]) -> tempfile::TempDir {
    let marker = format!("-- {}\n", uuid::Uuid::new_v4().simple());
    let dir = folder(migrations);
    let (name, sql) = migrations[0];
    write_migration(dir.path(), name, &format!("{marker}{sql}"));
    dir
}

fn loaded(dir: &Path) -> (std::path::PathBuf, Vec<Migration>) {
    let folder = template::canonical_folder(dir).unwrap();
    let migrations = nelo_migrate::load(&folder).unwrap();
    (folder, migrations)
}

fn request<'a>(
    folder: &'a Path,
    migrations: &'a [Migration],
    schema: &'a str,
    slot: Slot,
) -> TemplateRequest<'a> {
    TemplateRequest {
        folder,
        migrations,
        schema,
        slot,
        lint: LintMode::Warn,
    }
}

/// The name of the template of every migration of `dir`, deployed into `public`.
fn full_template(dir: &Path) -> String {
    let (folder, migrations) = loaded(dir);
    request(&folder, &migrations, "public", Slot::Full).name()
}

/// `(is_template, allows_connections)` of a database, `None` when it does not exist.
async fn flags(name: &str) -> Option<(bool, bool)> {
    let mut admin = PgConnection::connect(&server_url()).await.unwrap();
    let flags =
        sqlx::query_as("SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut admin)
            .await
            .unwrap();
    let _ = admin.close().await;
    flags
}

/// Drops the templates named, even when the test fails.
struct DropTemplates(Vec<String>);

impl Drop for DropTemplates {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.0);
        on_own_runtime(move || async move {
            let mut admin = PgConnection::connect(&server_url()).await?;
            for name in names {
                postgres::drop_template(&mut admin, &name).await?;
            }
            admin.close().await
        });
    }
}

fn server() -> DatabaseUrl {
    DatabaseUrl::parse(&server_url()).unwrap()
}

#[tokio::test]
async fn a_second_diff_clones_the_template_and_equals_a_direct_deploy() {
    let dir = own_folder(&[("1_first", FIRST), ("2_second", SECOND)]);
    let name = full_template(dir.path());
    let _cleanup = DropTemplates(vec![name.clone()]);
    assert_eq!(flags(&name).await, None);

    let source = Source::Migrations(dir.path().to_path_buf());
    let first = diff(&Source::Empty, &source, &diff_options())
        .await
        .unwrap();
    assert_eq!(
        flags(&name).await,
        Some((true, false)),
        "the first diff leaves a finished template nobody can connect to"
    );
    let second = diff(&Source::Empty, &source, &diff_options())
        .await
        .unwrap();
    assert_eq!(first.script(), second.script());

    // The cold path: the same folder deployed straight into a database.
    let db = TestDb::new().await;
    Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    let direct = diff(
        &Source::Empty,
        &Source::Url(db.url.clone()),
        &diff_options(),
    )
    .await
    .unwrap();
    assert_eq!(second.script(), direct.script());
    assert!(
        second.script().contains("note_body_idx"),
        "{}",
        second.script()
    );
    let none = diff(&source, &Source::Url(db.url.clone()), &diff_options())
        .await
        .unwrap();
    assert!(none.is_empty(), "{:?}", none.differences);
}

#[tokio::test]
async fn editing_a_migration_changes_the_key_and_drops_the_superseded_template() {
    let dir = own_folder(&[("1_first", FIRST), ("2_second", SECOND)]);
    let before = full_template(dir.path());
    let mut cleanup = DropTemplates(vec![before.clone()]);
    let source = Source::Migrations(dir.path().to_path_buf());
    diff(&Source::Empty, &source, &diff_options())
        .await
        .unwrap();
    assert_eq!(flags(&before).await, Some((true, false)));

    write_migration(dir.path(), "2_second", THIRD);
    let after = full_template(dir.path());
    cleanup.0.push(after.clone());
    assert_ne!(before, after);
    let edited = diff(&Source::Empty, &source, &diff_options())
        .await
        .unwrap();
    assert!(edited.script().contains("title"), "{}", edited.script());
    assert!(!edited.script().contains("note_body_idx"));
    assert_eq!(flags(&after).await, Some((true, false)));
    assert_eq!(
        flags(&before).await,
        None,
        "the superseded template is dropped"
    );
}

#[tokio::test]
async fn a_leftover_half_built_template_is_not_used() {
    let dir = own_folder(&[("1_first", FIRST)]);
    let name = full_template(dir.path());
    let _cleanup = DropTemplates(vec![name.clone()]);
    // What a build killed mid-deploy leaves: the database, not yet a template.
    let mut admin = PgConnection::connect(&server_url()).await.unwrap();
    postgres::create_database(&mut admin, &name, None)
        .await
        .unwrap();
    let _ = admin.close().await;
    let mut leftover = PgConnection::connect(&common::url_for_database(&server_url(), &name))
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE half_built (id int)")
        .execute(&mut leftover)
        .await
        .unwrap();
    let _ = leftover.close().await;

    let source = Source::Migrations(dir.path().to_path_buf());
    let result = diff(&Source::Empty, &source, &diff_options())
        .await
        .unwrap();
    assert!(
        !result.script().contains("half_built"),
        "{}",
        result.script()
    );
    assert!(result.script().contains("note"), "{}", result.script());
    assert_eq!(flags(&name).await, Some((true, false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_build_one_template() {
    let dir = own_folder(&[("1_first", FIRST), ("2_second", SECOND)]);
    let name = full_template(dir.path());
    let _cleanup = DropTemplates(vec![name.clone()]);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let path = dir.path().to_path_buf();
        tasks.push(tokio::spawn(async move {
            let (folder, migrations) = loaded(&path);
            let request = request(&folder, &migrations, "public", Slot::Full);
            template::ensure_template(&server(), Duration::from_secs(10), &request).await
        }));
    }
    let mut built = Vec::new();
    for task in tasks {
        built.push(task.await.unwrap().unwrap());
    }
    assert!(
        built.iter().all(|template| template.name == name),
        "{built:?}"
    );
    let builds = built
        .iter()
        .filter(|template| template.built != Built::Existing)
        .count();
    assert_eq!(builds, 1, "{built:?}");

    // And diffs at once of a folder nobody built yet all get the same answer.
    let other = own_folder(&[("1_first", FIRST), ("2_second", THIRD)]);
    let _other_cleanup = DropTemplates(vec![full_template(other.path())]);
    let mut diffs = Vec::new();
    for _ in 0..3 {
        let source = Source::Migrations(other.path().to_path_buf());
        diffs.push(tokio::spawn(async move {
            diff(&Source::Empty, &source, &diff_options()).await
        }));
    }
    let mut scripts = Vec::new();
    for task in diffs {
        scripts.push(task.await.unwrap().unwrap().script());
    }
    assert!(scripts.iter().all(|script| script == &scripts[0]));
}

#[tokio::test]
async fn a_new_migration_builds_from_the_previous_template() {
    let dir = own_folder(&[("1_first", FIRST), ("2_second", SECOND)]);
    let (path, two) = loaded(dir.path());
    let base = request(&path, &two, "public", Slot::Full).name();
    let mut cleanup = DropTemplates(vec![base.clone()]);
    let timeout = Duration::from_secs(10);
    let first = template::ensure_template(
        &server(),
        timeout,
        &request(&path, &two, "public", Slot::Full),
    )
    .await
    .unwrap();
    assert_eq!(first.built, Built::FromEmpty);

    write_migration(dir.path(), "3_third", THIRD);
    let (_, three) = loaded(dir.path());
    let next = request(&path, &three, "public", Slot::Full);
    cleanup.0.push(next.name());
    let second = template::ensure_template(&server(), timeout, &next)
        .await
        .unwrap();
    assert_eq!(
        second.built,
        Built::FromPrefix {
            base: base.clone(),
            reused: 2
        }
    );
    assert_eq!(
        flags(&base).await,
        None,
        "the older template of the folder is dropped"
    );

    // A clone holds all three, and its history says so.
    let db = TestDb::new().await;
    drop(db.connect().await.close().await);
    let mut admin = PgConnection::connect(&server_url()).await.unwrap();
    let clone = format!("{}_clone", db.name);
    postgres::create_database(&mut admin, &clone, Some(&second.name))
        .await
        .unwrap();
    let mut conn = PgConnection::connect(&common::url_for_database(&server_url(), &clone))
        .await
        .unwrap();
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let title: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'note' AND column_name = 'title'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    postgres::drop_database(&mut admin, &clone).await.unwrap();
    let _ = admin.close().await;
    assert_eq!((applied, title), (3, 1));
}

#[tokio::test]
async fn the_schema_is_part_of_the_key() {
    let dir = own_folder(&[("1_first", FIRST)]);
    let (path, migrations) = loaded(dir.path());
    let public = request(&path, &migrations, "public", Slot::Full);
    let app = request(&path, &migrations, "app", Slot::Full);
    assert_ne!(public.name(), app.name());
    let _cleanup = DropTemplates(vec![app.name()]);
    let built = template::ensure_template(&server(), Duration::from_secs(10), &app)
        .await
        .unwrap();
    let db = TestDb::new().await;
    let mut admin = PgConnection::connect(&server_url()).await.unwrap();
    let clone = format!("{}_clone", db.name);
    postgres::create_database(&mut admin, &clone, Some(&built.name))
        .await
        .unwrap();
    let mut conn = PgConnection::connect(&common::url_for_database(&server_url(), &clone))
        .await
        .unwrap();
    let schema: String = sqlx::query_scalar(
        "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'note'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    postgres::drop_database(&mut admin, &clone).await.unwrap();
    let _ = admin.close().await;
    assert_eq!(schema, "app");
}

#[tokio::test]
async fn drift_keeps_its_applied_subset_template_beside_the_full_folders() {
    let dir = own_folder(&[("1_first", FIRST), ("2_second", SECOND)]);
    let db = TestDb::new().await;
    let only_first = folder(&[]);
    let first_sql = std::fs::read_to_string(dir.path().join("1_first/migration.sql")).unwrap();
    write_migration(only_first.path(), "1_first", &first_sql);
    Migrator::new(only_first.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    let (path, migrations) = loaded(dir.path());
    let applied = request(&path, &migrations[..1], "public", Slot::Applied).name();
    let full = full_template(dir.path());
    let _cleanup = DropTemplates(vec![applied.clone(), full.clone()]);

    let found = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
    assert!(found.is_empty(), "{:?}", found.differences);
    assert_eq!(flags(&applied).await, Some((true, false)));
    diff(
        &Source::Empty,
        &Source::Migrations(dir.path().to_path_buf()),
        &diff_options(),
    )
    .await
    .unwrap();
    assert_eq!(flags(&full).await, Some((true, false)));
    assert_eq!(
        flags(&applied).await,
        Some((true, false)),
        "building the full folder's template keeps drift's"
    );
    db.execute("CREATE TABLE by_hand (id int)").await;
    let found = drift(&db.url, dir.path(), &diff_options()).await.unwrap();
    assert_eq!(found.differences.len(), 1, "{:?}", found.differences);
}

#[tokio::test]
async fn a_role_that_cannot_install_vector_clones_the_template_a_superuser_built() {
    let dir = own_folder(&[(
        "1_first",
        "CREATE EXTENSION IF NOT EXISTS vector;\n\
         CREATE TABLE item (id bigint PRIMARY KEY, embedding vector(3));\n",
    )]);
    let _cleanup = DropTemplates(vec![full_template(dir.path())]);
    let role = TestRole::new();
    let mut admin = PgConnection::connect(&server_url()).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE ROLE \"{}\" LOGIN CREATEDB PASSWORD 'role-pw'",
        role.name
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let _ = admin.close().await;
    let mut role_url = url::Url::parse(&server_url()).unwrap();
    role_url.set_username(&role.name).unwrap();
    role_url.set_password(Some("role-pw")).unwrap();
    let as_role = DiffOptions {
        shadow_server_url: Some(role_url.to_string()),
        ..diff_options()
    };
    let source = Source::Migrations(dir.path().to_path_buf());

    let refused = diff(&source, &source, &as_role)
        .await
        .expect_err("a replay as the role cannot install `vector`");
    assert!(format!("{refused:?}").contains("vector"), "{refused:?}");
    // What `cargo xtask db up` does, as the superuser.
    let built = template::ensure_folder_template(&server(), Duration::from_secs(10), dir.path())
        .await
        .unwrap();
    assert_eq!(built.name, full_template(dir.path()));
    let same = diff(&source, &source, &as_role).await.unwrap();
    assert!(same.is_empty(), "{:?}", same.differences);
    let existing = template::ensure_folder_template(&server(), Duration::from_secs(10), dir.path())
        .await
        .unwrap();
    assert_eq!(existing.built, Built::Existing);
}
