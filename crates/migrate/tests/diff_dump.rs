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

/// A container of the server's image that stays up for many `pg_dump`s (`docker exec` is
/// much quicker than `docker run` per dump); removed when dropped, also on a panic.
struct DumpHost {
    name: String,
}

impl DumpHost {
    fn start() -> DumpHost {
        let name = format!(
            "nelo_test_dump_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let started = Command::new("docker")
            .args(["run", "-d", "--rm", "--network", "host", "--name", &name])
            .args(["--entrypoint", "sleep"])
            .arg(image())
            .arg("900")
            .output()
            .expect("start the pg_dump container");
        assert!(
            started.status.success(),
            "{}",
            String::from_utf8_lossy(&started.stderr)
        );
        DumpHost { name }
    }

    /// `pg_dump --schema-only --no-owner` of `url` (privileges kept), as a sorted list of its
    /// statement lines without their trailing commas: the same definitions, whatever the
    /// order of objects in the dump or of columns in a table (a column added by
    /// `ALTER TABLE` comes last; the model compares columns by name, as Prisma does).
    fn definitions(&self, url: &str) -> Vec<String> {
        let output = Command::new("docker")
            .args(["exec", &self.name, "pg_dump", "--schema-only", "--no-owner"])
            .args([
                "--exclude-table",
                "public._prisma_migrations",
                "--dbname",
                url,
            ])
            .output()
            .expect("run pg_dump in the container");
        assert!(
            output.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut lines: Vec<String> = String::from_utf8(output.stdout)
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
            .map(|line| unordered_lists(line.trim_end_matches(',')))
            .collect();
        lines.sort();
        lines
    }
}

/// The lists whose order means nothing, sorted: an event trigger's `WHEN TAG IN (...)` and a
/// table's storage parameters `WITH (...)`.
fn unordered_lists(line: &str) -> String {
    for opening in ["WHEN TAG IN (", "WITH ("] {
        if let Some(start) = line.find(opening) {
            let inner_start = start + opening.len();
            if let Some(length) = line[inner_start..].find(')') {
                let mut items: Vec<&str> = line[inner_start..inner_start + length]
                    .split(", ")
                    .collect();
                items.sort_unstable();
                return format!(
                    "{}{}{}",
                    &line[..inner_start],
                    items.join(", "),
                    &line[inner_start + length..]
                );
            }
        }
    }
    line.to_string()
}

impl Drop for DumpHost {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A database holding `side` of a corpus pair (a blank file is the empty database).
async fn holding(path: &Path) -> (TestDb, Source) {
    let db = TestDb::new().await;
    let sql = std::fs::read_to_string(path).unwrap();
    if sql.trim().is_empty() {
        return (db, Source::Empty);
    }
    db.execute(&sql).await;
    (db, Source::Schema(path.into()))
}

/// Every pair of the diff corpus, both ways, proved independently of the catalog comparison:
/// the `from` database with the plan applied dumps (`pg_dump --schema-only`, privileges
/// included) the same definitions as the `to` database.
#[tokio::test]
async fn every_corpus_plan_dumps_the_same_schema_as_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrate-cli/tests/diff_cases/pairs");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 50, "{} pairs", names.len());
    let host = DumpHost::start();
    let mut failures = Vec::new();
    for name in &names {
        for (from, to, way) in [("from", "to", "forward"), ("to", "from", "backward")] {
            let (migrated, _) = holding(&root.join(name).join(format!("{from}.sql"))).await;
            let (target, target_source) = holding(&root.join(name).join(format!("{to}.sql"))).await;
            let plan = diff(
                &Source::Url(migrated.url.clone()),
                &target_source,
                &diff_options(),
            )
            .await
            .unwrap_or_else(|error| panic!("{name} ({way}): {error:#}"));
            for part in plan.migration_scripts() {
                migrated.execute(&part.sql).await;
            }
            let (expected, actual) = (
                host.definitions(&target.url),
                host.definitions(&migrated.url),
            );
            if expected != actual {
                let missing: Vec<&String> = expected
                    .iter()
                    .filter(|line| !actual.contains(line))
                    .collect();
                let extra: Vec<&String> = actual
                    .iter()
                    .filter(|line| !expected.contains(line))
                    .collect();
                failures.push(format!(
                    "{name} ({way}): missing {missing:?}, extra {extra:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
