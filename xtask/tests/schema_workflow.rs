//! The schema workflow against a real container: `db migrate diff`, `db migrate dev` (in a
//! terminal, through `script`), drift in `db status` and `db migrate status`, `db migrate
//! create --from-schema` and `db push`, on a copy of Nelo's migrations and `schema.sql`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Run, Sandbox, in_a_terminal, with_input};

/// A copy of the repository's migrations and declared schema in the sandbox's folder, which
/// the commands use instead of the repository's.
struct Project {
    migrations: PathBuf,
    schema: PathBuf,
}

impl Project {
    fn new(sandbox: &Sandbox) -> Project {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let migrations = sandbox.workdir.path().join("migrations");
        copy_folder(&repo.join("migrations"), &migrations);
        let schema = sandbox.workdir.path().join("schema.sql");
        std::fs::copy(repo.join("schema.sql"), &schema).unwrap();
        Project { migrations, schema }
    }

    fn configure<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command
            .env("NELO_MIGRATIONS_DIR", &self.migrations)
            .env("NELO_SCHEMA", &self.schema)
    }

    fn run(&self, sandbox: &Sandbox, args: &[&str]) -> Run {
        let mut command = sandbox.command(args);
        Run::from(self.configure(&mut command).output().unwrap())
    }

    /// `args` in a terminal, with `input` typed; what the terminal showed.
    fn in_a_terminal(&self, sandbox: &Sandbox, args: &str, input: &str) -> Run {
        let mut command = in_a_terminal(sandbox, args);
        self.configure(&mut command);
        Run::from(with_input(command, input))
    }

    fn append_to_schema(&self, sql: &str) {
        let text = std::fs::read_to_string(&self.schema).unwrap();
        std::fs::write(&self.schema, text + sql).unwrap();
    }

    fn replace_in_schema(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.schema).unwrap();
        assert!(text.contains(from), "`{from}` is not in schema.sql");
        std::fs::write(&self.schema, text.replace(from, to)).unwrap();
    }

    /// The migration folders' names, in order.
    fn migration_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.migrations)
            .unwrap()
            .flatten()
            .filter(|entry| entry.path().is_dir())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn table_exists(url: &str, table: &'static str) -> bool {
    let sql: &'static str =
        Box::leak(format!("SELECT to_regclass('public.\"{table}\"') IS NOT NULL").into_boxed_str());
    common::query_one(url, sql)
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}\n{}", run.stdout, run.stderr))
}

#[test]
fn dev_refuses_without_a_terminal_or_in_ci_and_status_skips_drift_without_a_server() {
    let sandbox = Sandbox::new();
    let project = Project::new(&sandbox);
    project.append_to_schema("CREATE TABLE \"ItRefused\" (id integer PRIMARY KEY);\n");
    let before = project.migration_names();

    let piped = project.run(&sandbox, &["db", "migrate", "dev", "--name", "refused"]);
    assert_eq!(piped.code, Some(1), "{}", piped.stderr);
    for command in [
        "cargo xtask db migrate create --name refused --from-schema",
        "cargo xtask db migrate deploy",
    ] {
        assert!(piped.stderr.contains(command), "{}", piped.stderr);
    }

    let mut in_ci = in_a_terminal(&sandbox, "db migrate dev --name refused");
    project.configure(&mut in_ci).env("CI", "true");
    let in_ci = Run::from(with_input(in_ci, ""));
    assert_eq!(in_ci.code, Some(1), "{}", in_ci.stdout);
    assert!(
        in_ci
            .stdout
            .contains("db migrate create --name refused --from-schema"),
        "{}",
        in_ci.stdout
    );
    assert_eq!(project.migration_names(), before, "nothing is written");

    // No server: `db status` says that the drift was not checked, and why.
    let status = project.run(&sandbox, &["db", "status", "--json"]);
    assert_eq!(status.code, Some(1), "{}", status.stderr);
    for database in json(&status)["databases"].as_array().unwrap() {
        assert!(database["drift"].is_null(), "{database}");
        assert_eq!(database["drift_not_checked"], "the database is unavailable");
    }
}

#[test]
fn a_schema_change_goes_from_schema_sql_to_both_databases_and_drift_is_seen() {
    let sandbox = Sandbox::new();
    let project = Project::new(&sandbox);
    let (dev_url, test_url) = (sandbox.database_url(), sandbox.test_database_url());
    project.run(&sandbox, &["db", "up"]).assert_success();

    // In sync: no drift anywhere, and schema.sql is what the migrations build.
    let status = project.run(&sandbox, &["db", "status", "--json"]);
    assert_eq!(status.code, Some(0), "{}{}", status.stdout, status.stderr);
    for database in json(&status)["databases"].as_array().unwrap() {
        assert_eq!(database["drift"]["drifted"], false, "{database}");
        assert!(database["drift_not_checked"].is_null(), "{database}");
    }
    let migrations = project.migrations.to_str().unwrap();
    let schema = project.schema.to_str().unwrap();
    let sides = ["--from-migrations", migrations, "--to-schema", schema];
    let same = project.run(
        &sandbox,
        &[&["db", "migrate", "diff", "--exit-code"], &sides[..]].concat(),
    );
    assert_eq!(same.code, Some(0), "{}", same.stderr);
    assert!(
        same.stdout.contains("No difference detected."),
        "{}",
        same.stdout
    );

    // Edited: the difference, as JSON, and exit 2.
    project.append_to_schema("CREATE TABLE \"ItNote\" (id integer PRIMARY KEY, body text);\n");
    let differs = project.run(
        &sandbox,
        &[
            &["db", "migrate", "diff", "--exit-code", "--json"],
            &sides[..],
        ]
        .concat(),
    );
    assert_eq!(differs.code, Some(2), "{}", differs.stderr);
    let differs = json(&differs);
    assert_eq!(differs["empty"], false);
    assert!(
        differs["script"].as_str().unwrap().contains("\"ItNote\""),
        "{differs}"
    );

    // `dev` writes the migration and applies it to both databases.
    let dev = project.in_a_terminal(&sandbox, "db migrate dev --name add_it_note", "");
    assert_eq!(dev.code, Some(0), "{}", dev.stdout);
    assert!(
        project
            .migration_names()
            .last()
            .unwrap()
            .ends_with("_add_it_note"),
        "{:?}",
        project.migration_names()
    );
    assert!(table_exists(&dev_url, "ItNote") && table_exists(&test_url, "ItNote"));
    let again = project.in_a_terminal(&sandbox, "db migrate dev --name nothing", "");
    assert_eq!(again.code, Some(0), "{}", again.stdout);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);

    // Drift in the development database only.
    common::execute(&dev_url, "CREATE TABLE it_drift (v integer)");
    let migrate_status = project.run(&sandbox, &["db", "migrate", "status"]);
    assert_eq!(migrate_status.code, Some(1), "{}", migrate_status.stderr);
    assert!(
        migrate_status.stdout.contains("Drift detected")
            && migrate_status.stdout.contains("it_drift"),
        "{}",
        migrate_status.stdout
    );
    let test_status = project.run(&sandbox, &["db", "migrate", "status", "--test", "--json"]);
    assert_eq!(test_status.code, Some(0), "{}", test_status.stderr);
    assert_eq!(json(&test_status)["drift"]["drifted"], false);
    let status = project.run(&sandbox, &["db", "status", "--json"]);
    assert_eq!(status.code, Some(1), "{}", status.stderr);
    let status = json(&status);
    assert_eq!(status["databases"][0]["drift"]["drifted"], true, "{status}");
    assert_eq!(
        status["databases"][1]["drift"]["drifted"], false,
        "{status}"
    );

    // `dev` on a drifted database: declined, it stops and keeps the database as it is.
    project.replace_in_schema(
        "CREATE TABLE \"ItNote\" (id integer PRIMARY KEY, body text);\n",
        "",
    );
    let declined = project.in_a_terminal(&sandbox, "db migrate dev --name drop_it_note", "no\n");
    assert_eq!(declined.code, Some(1), "{}", declined.stdout);
    assert!(
        declined.stdout.contains("Drift detected"),
        "{}",
        declined.stdout
    );
    assert!(table_exists(&dev_url, "it_drift"));
    assert!(
        !project
            .migration_names()
            .last()
            .unwrap()
            .ends_with("_drop_it_note")
    );

    // Accepted: reset (after a backup), then the data-loss question, answered yes.
    let accepted = project.in_a_terminal(
        &sandbox,
        "db migrate dev --name drop_it_note",
        "nelo_it\ny\n",
    );
    assert_eq!(accepted.code, Some(0), "{}", accepted.stdout);
    assert!(
        accepted.stdout.contains("backed up nelo_it"),
        "{}",
        accepted.stdout
    );
    assert!(
        accepted.stdout.contains("loses data"),
        "{}",
        accepted.stdout
    );
    assert!(
        !table_exists(&dev_url, "it_drift"),
        "the reset dropped the drift"
    );
    assert!(!table_exists(&dev_url, "ItNote") && !table_exists(&test_url, "ItNote"));
    let after_reset = project.run(&sandbox, &["db", "status"]);
    assert_eq!(
        after_reset.code,
        Some(0),
        "a reset leaves no drift:\n{}",
        after_reset.stdout
    );

    // An enum value used at once: two migrations.
    project.replace_in_schema("'CONCEPT')", "'CONCEPT', 'THEME')");
    project.append_to_schema(
        "CREATE TABLE \"ItTheme\" (id integer PRIMARY KEY, kind \"EntityType\" NOT NULL DEFAULT 'THEME');\n",
    );
    let created = project.run(
        &sandbox,
        &[
            "db",
            "migrate",
            "create",
            "--name",
            "add_theme",
            "--from-schema",
        ],
    );
    created.assert_success();
    let paths: Vec<&str> = created.stdout.lines().collect();
    assert_eq!(paths.len(), 2, "{}", created.stdout);
    assert!(
        paths[1].contains("add_theme_after_enum_values"),
        "{paths:?}"
    );

    // `push` applies the schema directly; data loss only with the flag.
    let pushed = project.run(&sandbox, &["db", "push", "--test", "--json"]);
    pushed.assert_success();
    assert_eq!(json(&pushed)["applied"], true);
    assert!(table_exists(&test_url, "ItTheme"));
    project.replace_in_schema(
        "CREATE TABLE \"ItTheme\" (id integer PRIMARY KEY, kind \"EntityType\" NOT NULL DEFAULT 'THEME');\n",
        "",
    );
    project
        .run(&sandbox, &["db", "push", "--test"])
        .assert_failure_mentions("--accept-data-loss");
    assert!(table_exists(&test_url, "ItTheme"));
    project
        .run(&sandbox, &["db", "push", "--test", "--accept-data-loss"])
        .assert_success();
    assert!(!table_exists(&test_url, "ItTheme"));
}
