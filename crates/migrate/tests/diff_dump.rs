//! The diff engine checked by `pg_dump --schema-only`, which sees every kind of object, also
//! the ones the model does not compare: a database built by diff(empty -> migrations)'s script
//! dumps the same schema as one built by replaying the migrations; and a database and its
//! dump-and-restore copy have no difference. Needs NELO_TEST_SERVER_URL and NELO_TEST_IMAGE
//! (`pg_dump` 17 runs from the server's image: the host's client may be older than the
//! server).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{TestDb, diff_options, ignore_events};
use nelo_migrate::Migrator;
use nelo_migrate::diff::{Source, diff};

fn image() -> String {
    std::env::var("NELO_TEST_IMAGE").unwrap_or_else(|_| {
        panic!("these tests run pg_dump from the server's image: set NELO_TEST_IMAGE or run `cargo xtask test`")
    })
}

/// A PostgreSQL 17 client program of the server's image, on the host's network.
fn client(program: &str) -> Command {
    let mut command = Command::new("docker");
    command.args([
        "run",
        "--rm",
        "-i",
        "--network",
        "host",
        "--entrypoint",
        program,
    ]);
    command.arg(image());
    command
}

/// `pg_dump --schema-only` of `url` without the history table, reduced to its statements
/// (comments, session settings and `\restrict` keys dropped).
fn schema_dump(url: &str) -> String {
    let output = client("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges"])
        .args([
            "--exclude-table",
            "public._prisma_migrations",
            "--dbname",
            url,
        ])
        .output()
        .expect("run pg_dump in a container");
    assert!(
        output.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("a UTF-8 dump")
        .lines()
        .filter(|line| {
            !(line.is_empty()
                || line.starts_with("--")
                || line.starts_with("SET ")
                || line.starts_with("SELECT pg_catalog.set_config")
                || line.starts_with("\\restrict")
                || line.starts_with("\\unrestrict"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn replayed(folder: &Path) -> TestDb {
    let db = TestDb::new().await;
    Migrator::new(folder)
        .deploy(&db.url, ignore_events)
        .await
        .unwrap_or_else(|error| panic!("deploy {}: {error}", folder.display()));
    db
}

async fn built_by_the_diff_script(folder: &Path) -> TestDb {
    let script = diff(
        &Source::Empty,
        &Source::Migrations(folder.into()),
        &diff_options(),
    )
    .await
    .unwrap_or_else(|error| panic!("{error:#}"));
    let db = TestDb::new().await;
    for part in script.migration_scripts() {
        db.execute(&part.sql).await;
    }
    db
}

fn assert_same_dump(replayed: &TestDb, built: &TestDb, what: &str) {
    let (expected, actual) = (schema_dump(&replayed.url), schema_dump(&built.url));
    assert!(
        expected.contains("CREATE TABLE"),
        "{what}: the replayed dump holds no table:\n{expected}"
    );
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{what}: the schema the script builds differs from the replayed one at dump line {first}:\n\
             replayed: {:?}\nscript:   {:?}",
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

fn workspace_migrations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

#[tokio::test]
async fn nelos_migrations_and_their_diff_script_dump_the_same_schema() {
    let folder = workspace_migrations();
    let (replayed, built) = (
        replayed(&folder).await,
        built_by_the_diff_script(&folder).await,
    );
    assert_same_dump(&replayed, &built, "Nelo's migrations");
}

#[tokio::test]
async fn the_realistic_history_and_its_diff_script_dump_the_same_schema() {
    let folder = tempfile::tempdir().unwrap();
    nelo_fixtures::realistic_folder(folder.path(), 300).unwrap();
    let (replayed, built) = (
        replayed(folder.path()).await,
        built_by_the_diff_script(folder.path()).await,
    );
    assert_same_dump(&replayed, &built, "the realistic fixture");
}

#[tokio::test]
async fn a_database_and_its_dump_and_restore_copy_have_no_difference() {
    let folder = tempfile::tempdir().unwrap();
    nelo_fixtures::realistic_folder(folder.path(), 300).unwrap();
    let original = replayed(folder.path()).await;
    let copy = TestDb::new().await;
    let dump = client("pg_dump")
        .args(["--no-owner", "--no-privileges", "--dbname", &original.url])
        .output()
        .expect("run pg_dump in a container");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let mut restore = client("psql")
        .args(["--quiet", "--set", "ON_ERROR_STOP=1", "--dbname", &copy.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run psql in a container");
    std::io::Write::write_all(restore.stdin.as_mut().unwrap(), &dump.stdout).unwrap();
    drop(restore.stdin.take());
    let restored = restore.wait_with_output().unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let difference = diff(
        &Source::Url(original.url.clone()),
        &Source::Url(copy.url.clone()),
        &diff_options(),
    )
    .await
    .unwrap_or_else(|error| panic!("{error:#}"));
    assert!(
        difference.is_empty(),
        "a restored copy differs: {:?}",
        difference.differences
    );
}
