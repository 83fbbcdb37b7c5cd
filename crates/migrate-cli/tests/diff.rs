//! `diff` against a real server: every side materialised in a shadow database, every script
//! verified. Needs NELO_TEST_SERVER_URL.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{TestDb, binary, diff_options, schema_file, server_url};
use nelo_migrate::diff::{DiffOptions, Source, diff};

fn workspace_migrations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

/// The shadow databases of process `pid` on the server.
async fn shadows_of(pid: u32) -> Vec<String> {
    use sqlx::Connection;
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'nelo\\_shadow\\_%' AND datname LIKE $1",
    )
    .bind(format!("%\\_{pid}\\_%"))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    rows.into_iter().map(|(name,)| name).collect()
}

/// Diff empty -> `folder`, apply the script to an empty database, then diff that database
/// with the folder again: no difference.
async fn round_trip(folder: &Path) {
    let from_empty = diff(
        &Source::Empty,
        &Source::Migrations(folder.into()),
        &diff_options(),
    )
    .await
    .unwrap_or_else(|error| panic!("{error:#}"));
    assert!(!from_empty.is_empty());
    let db = TestDb::new().await;
    db.execute(&from_empty.script()).await;
    let again = diff(
        &Source::Url(db.url.clone()),
        &Source::Migrations(folder.into()),
        &diff_options(),
    )
    .await
    .unwrap_or_else(|error| panic!("{error:#}"));
    assert!(again.is_empty(), "{:#?}", again.differences);
}

#[tokio::test]
async fn round_trip_over_nelos_own_migrations() {
    round_trip(&workspace_migrations()).await;
}

#[tokio::test]
async fn round_trip_over_the_realistic_fixture() {
    let dir = tempfile::tempdir().unwrap();
    nelo_fixtures::realistic_folder(dir.path(), 300).unwrap();
    round_trip(dir.path()).await;
}

#[tokio::test]
async fn baseline_script_has_its_gin_and_hnsw_indexes() {
    let result = diff(
        &Source::Empty,
        &Source::Migrations(workspace_migrations()),
        &diff_options(),
    )
    .await
    .unwrap();
    let script = result.script();
    assert!(script.contains("USING hnsw"), "{script}");
    assert!(script.contains("vector_cosine_ops"), "{script}");
    assert!(script.contains("USING gin (to_tsvector("), "{script}");
    assert!(script.find("-- CreateTable").unwrap() < script.find("-- AddForeignKey").unwrap());
}

#[tokio::test]
async fn same_output_twice() {
    let run = || async {
        let result = diff(&case("v1.sql"), &case("v2.sql"), &diff_options())
            .await
            .unwrap();
        (result.script(), serde_json::to_string(&result).unwrap())
    };
    assert_eq!(run().await, run().await);
}

#[tokio::test]
async fn type_change_uses_using_and_keeps_data() {
    let from = schema_file(
        "CREATE TABLE t (id int PRIMARY KEY, age text); CREATE VIEW v AS SELECT age FROM t;",
    );
    let to = schema_file(
        "CREATE TABLE t (id int PRIMARY KEY, age integer); CREATE VIEW v AS SELECT age FROM t;",
    );
    let result = diff(
        &Source::Schema(from.path().into()),
        &Source::Schema(to.path().into()),
        &diff_options(),
    )
    .await
    .unwrap_or_else(|error| panic!("{error:#}"));
    let script = result.script();
    assert!(
        script.contains("ALTER COLUMN \"age\" SET DATA TYPE integer USING \"age\"::integer"),
        "{script}"
    );
    assert!(!script.contains("DROP COLUMN"), "{script}");
    // The view over the column is dropped first and created again.
    assert!(script.find("DROP VIEW \"v\"").unwrap() < script.find("SET DATA TYPE").unwrap());
    assert!(script.find("CREATE VIEW \"v\"").unwrap() > script.find("SET DATA TYPE").unwrap());
    assert!(script.starts_with("/*\n  Warnings:"), "{script}");
    assert!(
        script.contains("will be cast from `text` to `integer`"),
        "{script}"
    );

    // On a database with rows, the data survives.
    let db = TestDb::new().await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, age text); CREATE VIEW v AS SELECT age FROM t; INSERT INTO t VALUES (1, '42');").await;
    db.execute(&script).await;
    assert_eq!(db.scalar::<i32>("SELECT age FROM v").await, 42);
}

#[tokio::test]
async fn dropped_and_added_column_is_flagged_as_a_possible_rename() {
    let from = schema_file("CREATE TABLE t (id int PRIMARY KEY, name text);");
    let to = schema_file("CREATE TABLE t (id int PRIMARY KEY, full_name text);");
    let result = diff(
        &Source::Schema(from.path().into()),
        &Source::Schema(to.path().into()),
        &diff_options(),
    )
    .await
    .unwrap();
    assert_eq!(result.possible_renames.len(), 1);
    let script = result.script();
    assert!(script.contains("if this is a rename"), "{script}");
    assert!(
        script.contains("You are about to drop the column `name` on the `t` table"),
        "{script}"
    );
}

/// Row-level security and policies are compared and planned (issue 21: "a new policy in
/// `schema.sql` gives already in sync").
#[tokio::test]
async fn row_level_security_and_policies_are_compared_and_planned() {
    let from = schema_file("CREATE TABLE t (id int PRIMARY KEY);");
    let to = schema_file(
        "CREATE TABLE t (id int PRIMARY KEY, note text);
         ALTER TABLE t ENABLE ROW LEVEL SECURITY;
         CREATE POLICY t_read ON t FOR SELECT USING (true);",
    );
    let result = diff(
        &Source::Schema(from.path().into()),
        &Source::Schema(to.path().into()),
        &diff_options(),
    )
    .await
    .unwrap();
    let shown: Vec<String> = result.differences.iter().map(ToString::to_string).collect();
    assert!(
        shown.contains(&"changed table `public.t` (row level security: off -> on)".to_string()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"added policy `t_read` on `public.t`".to_string()),
        "{shown:?}"
    );
    assert!(result.cannot_tell().is_empty(), "{:?}", result.not_compared);
    let script = result.script();
    assert!(
        script.contains("ALTER TABLE \"t\" ENABLE ROW LEVEL SECURITY"),
        "{script}"
    );
    assert!(
        script.contains(
            "CREATE POLICY \"t_read\" ON \"t\" AS PERMISSIVE FOR SELECT TO PUBLIC USING (true)"
        ),
        "{script}"
    );
}

#[tokio::test]
async fn schema_file_error_names_file_line_and_column_and_leaves_no_shadow() {
    let broken = schema_file("CREATE TABLE t (id int);\n\nCREATE TABLE u (id nosuchtype);\n");
    let child = binary()
        .args(["diff", "--from-empty", "--to-schema"])
        .arg(broken.path())
        .args(["--shadow-database-url", &server_url()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let location = format!("{}:3:", broken.path().display());
    assert!(stderr.contains(&location), "{stderr}");
    assert!(stderr.contains("nosuchtype"), "{stderr}");
    let left = shadows_of(pid).await;
    assert!(left.is_empty(), "shadows left behind: {left:?}");
}

/// `pg_dump --schema-only` output is a schema file: the `\\restrict KEY` and `\\unrestrict KEY`
/// lines pg_dump writes around it are skipped; another psql meta-command is refused by
/// file:line.
#[tokio::test]
async fn pg_dump_output_is_a_schema_file_and_other_meta_commands_are_refused() {
    let dumped = schema_file(
        "\\restrict K3y\n\
         SET statement_timeout = 0;\n\
         SELECT pg_catalog.set_config('search_path', '', false);\n\
         CREATE TABLE public.note (id bigint NOT NULL);\n\
         \n\
         \\unrestrict K3y\n",
    );
    let planned = diff(
        &Source::Empty,
        &Source::Schema(dumped.path().into()),
        &diff_options(),
    )
    .await
    .unwrap_or_else(|error| panic!("{error:#}"));
    let shown: Vec<String> = planned
        .differences
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown, ["added table `public.note`"]);

    let meta = schema_file("CREATE TABLE a (id int);\n\\connect other\nCREATE TABLE b (id int);\n");
    let error = diff(
        &Source::Empty,
        &Source::Schema(meta.path().into()),
        &diff_options(),
    )
    .await
    .unwrap_err();
    let text = anyhow::Error::from(error)
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains(&format!(
            "{}:2:1: psql meta-command `\\connect other`",
            meta.path().display()
        )),
        "{text}"
    );
}

#[test]
fn cli_exit_codes_and_outputs() {
    let same = schema_file("CREATE TABLE t (id int PRIMARY KEY);");
    let other = schema_file("CREATE TABLE t (id int PRIMARY KEY, name text);");
    let run = |from: &Path, to: &Path, extra: &[&str]| {
        binary()
            .args(["diff", "--from-schema"])
            .arg(from)
            .arg("--to-schema")
            .arg(to)
            .args(["--shadow-database-url", &server_url()])
            .args(extra)
            .output()
            .unwrap()
    };
    let none = run(same.path(), same.path(), &["--exit-code"]);
    assert_eq!(none.status.code(), Some(0), "{none:?}");
    assert!(String::from_utf8_lossy(&none.stdout).contains("No difference"));
    let some = run(same.path(), other.path(), &["--exit-code"]);
    assert_eq!(some.status.code(), Some(2), "{some:?}");
    assert!(String::from_utf8_lossy(&some.stdout).contains("[+] added column `name`"));
    let without_flag = run(same.path(), other.path(), &[]);
    assert_eq!(without_flag.status.code(), Some(0));
    let script = run(same.path(), other.path(), &["--script"]);
    assert!(
        String::from_utf8_lossy(&script.stdout)
            .contains("ALTER TABLE \"t\" ADD COLUMN \"name\" text;")
    );
    let json = run(same.path(), other.path(), &["--json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["differences"][0]["kind"], "column");
    assert_eq!(value["differences"][0]["change"], "added");
    let missing = binary()
        .args([
            "diff",
            "--from-empty",
            "--to-schema",
            "/nonexistent/schema.sql",
        ])
        .args(["--shadow-database-url", &server_url()])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/schema.sql"));
}

#[tokio::test]
async fn a_role_that_cannot_create_databases_is_told_both_fixes() {
    let db = TestDb::new().await;
    let role = format!("nelo_nocreate_{}", std::process::id());
    db.execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'pw' NOCREATEDB"
    ))
    .await;
    let mut url = url::Url::parse(&server_url()).unwrap();
    url.set_username(&role).unwrap();
    url.set_password(Some("pw")).unwrap();
    url.set_path(&db.name);
    let error = diff(
        &Source::Empty,
        &Source::Empty,
        &DiffOptions {
            shadow_server_url: Some(url.to_string()),
            connect_timeout: Duration::from_secs(5),
            concurrent_indexes: false,
        },
    )
    .await
    .unwrap_err();
    db.execute(&format!("DROP ROLE {role}")).await;
    let text = error.to_string();
    assert!(
        text.contains("CREATEDB") && text.contains("another server"),
        "{text}"
    );
}

#[tokio::test]
async fn leftover_shadows_of_dead_processes_are_swept() {
    let host = nelo_migrate::shadow::host_tag();
    // A pid that cannot be alive: above the kernel's pid_max.
    let name = nelo_migrate::shadow::shadow_name("from", 1, &host, 4_194_305, 0);
    let db = TestDb::new().await;
    db.execute(&format!("CREATE DATABASE \"{name}\"")).await;
    diff(&Source::Empty, &Source::Empty, &diff_options())
        .await
        .unwrap();
    let left: bool = db
        .scalar(&format!(
            "SELECT EXISTS (SELECT FROM pg_database WHERE datname = '{name}')"
        ))
        .await;
    assert!(!left, "`{name}` was not swept");
}

/// Between two prefixes of the realistic history, both ways (adds, alters, drops, views and
/// triggers over changed tables): the verified script brings one to the other.
#[tokio::test]
async fn prefixes_of_the_realistic_history_diff_both_ways() {
    let short = tempfile::tempdir().unwrap();
    let long = tempfile::tempdir().unwrap();
    nelo_fixtures::realistic_folder(short.path(), 120).unwrap();
    nelo_fixtures::realistic_folder(long.path(), 300).unwrap();
    let (short, long) = (
        Source::Migrations(short.path().into()),
        Source::Migrations(long.path().into()),
    );
    for (from, to) in [(&short, &long), (&long, &short)] {
        let result = diff(from, to, &diff_options())
            .await
            .unwrap_or_else(|error| panic!("{from} -> {to}: {error}"));
        assert!(!result.is_empty());
    }
}

#[test]
fn create_from_schema_writes_the_difference_once() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    let schema = schema_file("CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL);");
    let create = |name: &str| {
        binary()
            .args(["create", "--name", name, "--migrations"])
            .arg(&migrations)
            .arg("--from-schema")
            .arg(schema.path())
            .args(["--shadow-database-url", &server_url()])
            .output()
            .unwrap()
    };
    let first = create("init");
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let written = PathBuf::from(String::from_utf8_lossy(&first.stdout).trim());
    let sql = std::fs::read_to_string(&written).unwrap();
    assert!(sql.contains("CREATE TABLE \"t\""), "{sql}");
    // A new table locks nothing: the generated migration lints clean.
    assert!(
        !String::from_utf8_lossy(&first.stderr).contains("lint:"),
        "{first:?}"
    );
    // An index on it is linted as deploy will run it (in a transaction, not concurrently).
    std::fs::write(
        schema.path(),
        "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL);\nCREATE INDEX t_name ON t (name);\n",
    )
    .unwrap();
    // Migration folders are stamped to the second: wait for the next one.
    let stamped = chrono::Utc::now().timestamp();
    while chrono::Utc::now().timestamp() == stamped {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let indexed = create("index");
    assert_eq!(indexed.status.code(), Some(0), "{indexed:?}");
    let stderr = String::from_utf8_lossy(&indexed.stderr);
    assert!(
        stderr.contains("require-concurrent-index-creation"),
        "{stderr}"
    );
    assert!(
        stderr.contains("lint: 1 finding in the generated migration"),
        "{stderr}"
    );
    // In sync now: nothing more is written.
    let second = create("again");
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    assert!(String::from_utf8_lossy(&second.stderr).contains("already in sync"));
    let folders = std::fs::read_dir(&migrations)
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(folders, 2);
}

fn case(name: &str) -> Source {
    Source::Schema(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/diff_cases")
            .join(name),
    )
}

/// Every kind, both ways and from and to empty: each script is verified on a shadow.
#[tokio::test]
async fn every_kind_changes_both_ways() {
    for (from, to) in [
        (Source::Empty, case("v1.sql")),
        (case("v1.sql"), case("v2.sql")),
        (case("v2.sql"), case("v1.sql")),
        (case("v2.sql"), Source::Empty),
    ] {
        let result = diff(&from, &to, &diff_options())
            .await
            .unwrap_or_else(|error| panic!("{from} -> {to}: {error}"));
        assert!(!result.is_empty(), "{from} -> {to}");
    }
}

/// v1 -> v2 on a database with rows: the data that the script keeps is kept.
#[tokio::test]
async fn every_kind_change_applies_to_a_database_with_rows() {
    let result = diff(&case("v1.sql"), &case("v2.sql"), &diff_options())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let script = result.script();
    for expected in [
        "ALTER TYPE \"Role\" ADD VALUE 'EDITOR' BEFORE 'ADMIN'",
        "ALTER TYPE \"mood\" RENAME TO \"mood_old\"",
        "TYPE \"mood\"[] USING (\"moods\"::text[]::\"mood\"[])",
        "SET DATA TYPE integer USING \"age\"::integer",
        "SET EXPRESSION AS (upper(title))",
        "SET GENERATED BY DEFAULT",
        "ALTER TABLE \"Post\" ALTER COLUMN \"id\" SET INCREMENT BY 1 SET MINVALUE 1 SET MAXVALUE 9223372036854775807 SET START WITH 1000 SET CACHE 10 SET NO CYCLE",
        "SET LOGGED",
        "DROP TRIGGER \"user_touch_age\"",
        "DISABLE TRIGGER \"user_touch\"",
        "DROP VIEW \"writer_emails\"",
        "DROP PROCEDURE \"cleanup\"()",
        "DROP SCHEMA \"audit\"",
        "COMMENT ON COLUMN public.\"User\".email IS NULL",
    ] {
        assert!(
            script.contains(expected),
            "`{expected}` missing from\n{script}"
        );
    }
    let db = TestDb::new().await;
    db.execute(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff_cases/v1.sql"),
        )
        .unwrap(),
    )
    .await;
    db.execute(
        "INSERT INTO \"User\" (email, role, mood, age) VALUES ('a@b', 'WRITER', 'happy', '42');
         INSERT INTO \"Post\" (\"authorId\", title) SELECT id, 'Hello' FROM \"User\";",
    )
    .await;
    db.execute(&script).await;
    assert_eq!(db.scalar::<i32>("SELECT age FROM writers").await, 42);
    assert_eq!(
        db.scalar::<String>("SELECT title_slug FROM \"Post\"").await,
        "HELLO"
    );
    let after = diff(
        &Source::Url(db.url.clone()),
        &case("v2.sql"),
        &diff_options(),
    )
    .await
    .unwrap();
    assert!(after.is_empty(), "{:#?}", after.differences);
}

/// A state the script cannot reach (an invalid index, as a failed `CREATE INDEX
/// CONCURRENTLY` leaves): an error that lists what remains, nothing printed, no shadow left.
#[tokio::test]
async fn an_unreachable_target_is_an_error_that_shows_what_remains() {
    let db = TestDb::new().await;
    db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, name text);
         CREATE INDEX t_name ON t (name);
         UPDATE pg_index SET indisvalid = false WHERE indexrelid = 't_name'::regclass;",
    )
    .await;
    let child = binary()
        .args(["diff", "--from-empty", "--to-url", &db.url, "--script"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not reach the `to` side"), "{stderr}");
    assert!(
        stderr.contains("changed index `public.t_name` (valid: true -> false)"),
        "{stderr}"
    );
    let left = shadows_of(pid).await;
    assert!(left.is_empty(), "shadows left behind: {left:?}");
}

/// From a live database to a schema: the `from` side is rebuilt in a shadow with the
/// planner's own script before the plan is checked there.
#[tokio::test]
async fn from_a_live_database_the_plan_is_verified_too() {
    let db = TestDb::new().await;
    db.execute(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff_cases/v1.sql"),
        )
        .unwrap(),
    )
    .await;
    let result = diff(
        &Source::Url(db.url.clone()),
        &case("v2.sql"),
        &diff_options(),
    )
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert!(!result.is_empty());
    db.execute(&result.script()).await;
    let after = diff(
        &Source::Url(db.url.clone()),
        &case("v2.sql"),
        &diff_options(),
    )
    .await
    .unwrap();
    assert!(after.is_empty(), "{:#?}", after.differences);
}

/// A function whose result type changes is dropped and created again: the index, check
/// constraint and column default that call it go before and come back after.
#[tokio::test]
async fn what_calls_a_replaced_function_is_recreated_around_it() {
    let table =
        "CREATE TABLE t (a text DEFAULT norm('X'), CONSTRAINT t_a_check CHECK (norm(a) <> ''));
         CREATE INDEX t_norm ON t (norm(a));";
    let from = schema_file(&format!(
        "CREATE FUNCTION norm(text) RETURNS text IMMUTABLE LANGUAGE sql AS 'SELECT lower($1)';\n{table}"
    ));
    let to = schema_file(&format!(
        "CREATE FUNCTION norm(text) RETURNS varchar IMMUTABLE LANGUAGE sql AS 'SELECT lower($1)';\n{table}"
    ));
    let result = diff(
        &Source::Schema(from.path().into()),
        &Source::Schema(to.path().into()),
        &diff_options(),
    )
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let script = result.script();
    let position = |text: &str| {
        script
            .find(text)
            .unwrap_or_else(|| panic!("`{text}` missing from\n{script}"))
    };
    let dropped = position("DROP FUNCTION \"norm\"(text)");
    assert!(position("DROP INDEX \"t_norm\"") < dropped);
    assert!(position("DROP CONSTRAINT \"t_a_check\"") < dropped);
    assert!(position("ALTER COLUMN \"a\" DROP DEFAULT") < dropped);
    let created = position("CREATE OR REPLACE FUNCTION public.norm(text)");
    assert!(created > dropped);
    assert!(position("CREATE INDEX t_norm") > created);
    assert!(position("ADD CONSTRAINT \"t_a_check\"") > created);
    assert!(position("ALTER COLUMN \"a\" SET DEFAULT") > created);
}

/// Settings of compared tables that nelo does not diff are listed, not ignored.
#[tokio::test]
async fn table_settings_outside_the_model_are_listed_as_not_compared() {
    let from = schema_file("CREATE TABLE t (id int PRIMARY KEY, body text);");
    let to = schema_file(
        "CREATE TABLE t (id int PRIMARY KEY, body text) WITH (toast.autovacuum_enabled = false);
         ALTER TABLE t REPLICA IDENTITY FULL;
         ALTER TABLE t ALTER COLUMN body SET STORAGE EXTERNAL;
         ALTER TABLE t CLUSTER ON t_pkey;",
    );
    let result = diff(
        &Source::Schema(from.path().into()),
        &Source::Schema(to.path().into()),
        &diff_options(),
    )
    .await
    .unwrap();
    assert!(result.is_empty(), "{:#?}", result.differences);
    let listed: Vec<String> = result
        .not_compared
        .iter()
        .map(|object| {
            format!(
                "{} {} ({}) {}",
                object.kind, object.identity, object.definition, object.side
            )
        })
        .collect();
    for expected in [
        "toast storage parameters public.t (autovacuum_enabled=false) to",
        "replica identity public.t (full) to",
        "column settings public.t.body (storage external) to",
        "clustered index public.t (t_pkey) to",
    ] {
        assert!(
            listed.iter().any(|line| line == expected),
            "{expected} not in {listed:#?}"
        );
    }
}

/// The before/after pairs of `tests/diff_cases/<group>`, one folder each (`from.sql`,
/// `to.sql`; a blank file is the empty database), in name order.
fn corpus(group: &str) -> Vec<(String, Source, Source)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/diff_cases")
        .join(group);
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let side = |path: PathBuf| {
        let text = std::fs::read_to_string(&path).unwrap();
        if text.trim().is_empty() {
            Source::Empty
        } else {
            Source::Schema(path)
        }
    };
    names
        .into_iter()
        .map(|name| {
            let from = side(root.join(&name).join("from.sql"));
            let to = side(root.join(&name).join("to.sql"));
            (name, from, to)
        })
        .collect()
}

/// Every modelled pair of the corpus, both ways: a difference, a script verified on a
/// shadow (the diff fails otherwise), nothing left that cannot be told.
#[tokio::test]
async fn corpus_pairs_are_planned_and_verified_both_ways() {
    let cases = corpus("pairs");
    assert!(cases.len() >= 12, "{}", cases.len());
    for (name, from, to) in &cases {
        for (a, b, way) in [(from, to, "forward"), (to, from, "backward")] {
            let result = diff(a, b, &diff_options())
                .await
                .unwrap_or_else(|error| panic!("{name} ({way}): {error:#}"));
            assert!(!result.is_empty(), "{name} ({way}): no difference");
            let unknown: Vec<String> = result
                .cannot_tell()
                .iter()
                .map(|object| format!("{} {}", object.kind, object.identity))
                .collect();
            assert!(
                unknown.is_empty(),
                "{name} ({way}): cannot tell {unknown:?}"
            );
            assert!(result.unverified.is_none(), "{name} ({way})");
        }
    }
}

/// Every pair of kinds nelo does not model, both ways: never "in sync", the object named
/// with its kind, and `--exit-code` exits 2.
#[tokio::test]
async fn corpus_unmodelled_kinds_are_never_in_sync() {
    let cases = corpus("cannot_tell");
    for (name, from, to) in &cases {
        for (a, b, way) in [(from, to, "forward"), (to, from, "backward")] {
            let result = diff(a, b, &diff_options())
                .await
                .unwrap_or_else(|error| panic!("{name} ({way}): {error:#}"));
            assert!(!result.is_in_sync(), "{name} ({way}): called in sync");
            assert!(
                !result.cannot_tell().is_empty(),
                "{name} ({way}): {:#?}",
                result.differences
            );
            let script = result.script();
            assert!(
                script.contains("-- CANNOT TELL"),
                "{name} ({way}): {script}"
            );
        }
    }
    // A pair whose only difference is of a kind not modelled.
    let (_, from, to) = cases
        .iter()
        .find(|(name, _, _)| name == "toast_storage_parameters")
        .unwrap();
    let path = |source: &Source| match source {
        Source::Schema(path) => path.clone(),
        _ => unreachable!(),
    };
    let output = binary()
        .args(["diff", "--exit-code", "--from-schema"])
        .arg(path(from))
        .arg("--to-schema")
        .arg(path(to))
        .args(["--shadow-database-url", &server_url()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Cannot tell whether they are the same"),
        "{stdout}"
    );
}

/// Honest casts: a widening is no data-loss warning; a narrowing to a shorter varchar has no
/// truncating `USING`, so on a value that does not fit the server raises an error and the
/// value stays; equivalent defaults are no difference.
#[tokio::test]
async fn widenings_are_safe_narrowings_fail_loudly_and_equivalent_defaults_are_equal() {
    let pair = |from: &str, to: &str| (schema_file(from), schema_file(to));
    let planned = |from: &tempfile::NamedTempFile, to: &tempfile::NamedTempFile| {
        let (from, to) = (from.path().to_path_buf(), to.path().to_path_buf());
        async move {
            diff(&Source::Schema(from), &Source::Schema(to), &diff_options())
                .await
                .unwrap_or_else(|error| panic!("{error:#}"))
        }
    };
    let (narrow, wide) = pair(
        "CREATE TABLE t (id int PRIMARY KEY, n int, code varchar(20));",
        "CREATE TABLE t (id int PRIMARY KEY, n bigint, code varchar(3));",
    );
    let result = planned(&narrow, &wide).await;
    let script = result.script();
    assert!(
        script.contains("ALTER COLUMN \"code\" SET DATA TYPE character varying(3)"),
        "{script}"
    );
    assert!(!script.contains("USING \"code\""), "{script}");
    assert!(
        script.contains("ALTER COLUMN \"n\" SET DATA TYPE bigint USING \"n\"::bigint"),
        "{script}"
    );
    assert_eq!(result.plan.warnings.len(), 1, "{:?}", result.plan.warnings);
    assert!(
        result.plan.warnings[0].contains("`code`"),
        "{:?}",
        result.plan.warnings
    );
    let db = TestDb::new().await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, n int, code varchar(20)); INSERT INTO t VALUES (1, 7, 'abcdef');")
        .await;
    let mut conn = db.connect().await;
    let script = result.plan.runnable_script();
    let error = {
        use sqlx::Executor;
        (&mut conn).execute(sqlx::raw_sql(&script)).await
    };
    assert!(
        error
            .as_ref()
            .is_err_and(|error| error.to_string().contains("value too long")),
        "{error:?}"
    );
    drop(conn);
    assert_eq!(db.scalar::<String>("SELECT code FROM t").await, "abcdef");

    let (only_wider, _) = pair(
        "CREATE TABLE t (id int PRIMARY KEY, n int, code varchar(20));",
        "",
    );
    let (wider, _) = pair(
        "CREATE TABLE t (id int PRIMARY KEY, n bigint, code varchar(40));",
        "",
    );
    let widened = planned(&only_wider, &wider).await;
    assert!(!widened.is_empty());
    assert!(
        widened.plan.warnings.is_empty(),
        "{:?}",
        widened.plan.warnings
    );

    let (now, current) = pair(
        "CREATE TABLE t (id int PRIMARY KEY, at timestamptz DEFAULT now());",
        "CREATE TABLE t (id int PRIMARY KEY, at timestamptz DEFAULT CURRENT_TIMESTAMP);",
    );
    let same = planned(&now, &current).await;
    assert!(same.is_in_sync(), "{:#?}", same.differences);
}

/// Removing an enum value: a function taking the enum is dropped and created again over the
/// new one; a composite type with an attribute of it, which the plan does not rebuild, makes
/// a refusal that carries the server's DETAIL naming the dependent.
#[tokio::test]
async fn enum_value_removal_rebuilds_functions_and_refusals_name_the_dependents() {
    let function = "CREATE FUNCTION calm(m mood) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT m = 'calm' $$;";
    let side = |labels: &str, extra: &str| {
        schema_file(&format!(
            "CREATE TYPE mood AS ENUM ({labels});\n{function}\nCREATE TABLE t (m mood);\n{extra}"
        ))
    };
    let (from, to) = (
        side("'calm', 'angry', 'sad'", ""),
        side("'calm', 'angry'", ""),
    );
    let planned = diff(
        &Source::Schema(from.path().into()),
        &Source::Schema(to.path().into()),
        &diff_options(),
    )
    .await
    .unwrap_or_else(|error| panic!("{error:#}"));
    let script = planned.script();
    let dropped = script.find("DROP FUNCTION \"calm\"(mood)").expect(&script);
    let renamed = script.find("RENAME TO \"mood_old\"").expect(&script);
    let created = script
        .find("CREATE OR REPLACE FUNCTION public.calm(m mood)")
        .expect(&script);
    assert!(dropped < renamed && renamed < created, "{script}");

    let pair = "CREATE TYPE pair AS (m mood, n integer);";
    let (from, to) = (
        side("'calm', 'angry', 'sad'", pair),
        side("'calm', 'angry'", pair),
    );
    let outcome = diff(
        &Source::Schema(from.path().into()),
        &Source::Schema(to.path().into()),
        &diff_options(),
    )
    .await;
    let text = match outcome {
        Err(error) => anyhow::Error::from(error)
            .chain()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        Ok(result) => panic!("planned: {}", result.script()),
    };
    assert!(text.contains("DETAIL: "), "{text}");
    assert!(text.contains("composite type pair"), "{text}");
}
