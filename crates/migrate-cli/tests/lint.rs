//! Lint: each rule on by default fires on a migration that breaks it and stays quiet on one
//! that does not; the transaction context; suppression comments; the JSON shape; deploy
//! stopping before anything runs.

mod common;

use std::process::Output;

use common::{TestDb, binary, folder};
use nelo_migrate::lint::{Context, Finding, Level, LintMode, RULES, lint_migration, lint_sql};
use nelo_migrate::{Error, Event, Migrator};

const IN: Context = Context::InTransaction;
const OUT: Context = Context::OutsideTransaction;

fn rules_found(sql: &str, context: Context) -> Vec<String> {
    lint_sql(sql, context)
        .into_iter()
        .map(|finding| finding.rule)
        .collect()
}

/// One test per rule: `fires` must give a finding of `rule`, `quiet` none.
macro_rules! rule_cases {
    ($($test:ident: $rule:literal, $context:expr, fires: $fires:expr, quiet: $quiet:expr;)*) => {
        $(
            #[test]
            fn $test() {
                let found = rules_found($fires, $context);
                assert!(found.iter().any(|rule| rule == $rule), "`{}` not found in {:?} for:\n{}", $rule, found, $fires);
                let found = rules_found($quiet, $context);
                assert!(!found.iter().any(|rule| rule == $rule), "`{}` found for:\n{}", $rule, $quiet);
            }
        )*
        /// The rules the cases above cover.
        const COVERED: &[&str] = &[$($rule),*];
    };
}

rule_cases! {
    ban_concurrent_index_creation_in_transaction: "ban-concurrent-index-creation-in-transaction", IN,
        fires: "CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY a_id ON b (id);",
        quiet: "CREATE INDEX CONCURRENTLY a_id ON b (id);";
    transaction_nesting: "transaction-nesting", IN,
        fires: "BEGIN;\nALTER TABLE a ADD COLUMN b text;\nCOMMIT;",
        quiet: "ALTER TABLE a ADD COLUMN b text;";
    ban_uncommitted_transaction: "ban-uncommitted-transaction", OUT,
        fires: "BEGIN;\nALTER TABLE a ADD COLUMN b text;",
        quiet: "BEGIN;\nALTER TABLE a ADD COLUMN b text;\nCOMMIT;";
    require_concurrent_index_creation: "require-concurrent-index-creation", IN,
        fires: "CREATE INDEX a_b ON a (b);",
        quiet: "CREATE TABLE a (b int);\nCREATE INDEX a_b ON a (b);";
    require_concurrent_index_deletion: "require-concurrent-index-deletion", IN,
        fires: "DROP INDEX a_b;",
        quiet: "DROP INDEX CONCURRENTLY a_b;";
    require_concurrent_reindex: "require-concurrent-reindex", IN,
        fires: "REINDEX INDEX a_b;",
        quiet: "REINDEX INDEX CONCURRENTLY a_b;";
    require_concurrent_partition_detach: "require-concurrent-partition-detach", IN,
        fires: "ALTER TABLE p DETACH PARTITION p1;",
        quiet: "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;";
    adding_foreign_key_constraint: "adding-foreign-key-constraint", IN,
        fires: "ALTER TABLE a ADD CONSTRAINT a_b_fkey FOREIGN KEY (b_id) REFERENCES b (id);",
        quiet: "ALTER TABLE a ADD CONSTRAINT a_b_fkey FOREIGN KEY (b_id) REFERENCES b (id) NOT VALID;";
    constraint_missing_not_valid: "constraint-missing-not-valid", IN,
        fires: "ALTER TABLE a ADD CONSTRAINT a_b_positive CHECK (b > 0);",
        quiet: "ALTER TABLE a ADD CONSTRAINT a_b_positive CHECK (b > 0) NOT VALID;";
    changing_column_type: "changing-column-type", IN,
        fires: "ALTER TABLE a ALTER COLUMN b TYPE bigint;",
        quiet: "ALTER TABLE a ALTER COLUMN b SET DEFAULT 0;";
    adding_required_field: "adding-required-field", IN,
        fires: "ALTER TABLE a ADD COLUMN b int NOT NULL;",
        quiet: "ALTER TABLE a ADD COLUMN b int NOT NULL DEFAULT 0;";
    adding_not_nullable_field: "adding-not-nullable-field", OUT,
        fires: "ALTER TABLE a ALTER COLUMN b SET NOT NULL;",
        quiet: "ALTER TABLE a ADD CONSTRAINT a_b_not_null CHECK (b IS NOT NULL) NOT VALID;\nALTER TABLE a VALIDATE CONSTRAINT a_b_not_null;\nALTER TABLE a ALTER COLUMN b SET NOT NULL;";
    adding_field_with_default: "adding-field-with-default", IN,
        fires: "ALTER TABLE a ADD COLUMN b uuid DEFAULT gen_random_uuid();",
        quiet: "ALTER TABLE a ADD COLUMN b int DEFAULT 0;";
    adding_serial_primary_key_field: "adding-serial-primary-key-field", IN,
        fires: "ALTER TABLE a ADD PRIMARY KEY (id);",
        quiet: "ALTER TABLE a ADD CONSTRAINT a_pkey PRIMARY KEY USING INDEX a_id;";
    disallowed_unique_constraint: "disallowed-unique-constraint", IN,
        fires: "ALTER TABLE a ADD CONSTRAINT a_b_key UNIQUE (b);",
        quiet: "ALTER TABLE a ADD CONSTRAINT a_b_key UNIQUE USING INDEX a_b;";
    ban_drop_column: "ban-drop-column", IN,
        fires: "ALTER TABLE a DROP COLUMN b;",
        quiet: "ALTER TABLE a ADD COLUMN b text;";
    ban_drop_table: "ban-drop-table", IN,
        fires: "DROP TABLE a;",
        quiet: "CREATE TABLE a (id int);";
    ban_drop_database: "ban-drop-database", OUT,
        fires: "DROP DATABASE a;",
        quiet: "CREATE DATABASE a;";
    ban_truncate_cascade: "ban-truncate-cascade", IN,
        fires: "TRUNCATE a CASCADE;",
        quiet: "TRUNCATE a;";
    ban_duplicate_column_assignments: "ban-duplicate-column-assignments", IN,
        fires: "UPDATE a SET b = 1, b = 2;",
        quiet: "UPDATE a SET b = 1, c = 2;";
    identifier_too_long: "identifier-too-long", IN,
        fires: "CREATE TABLE a_12345678901234567890123456789012345678901234567890123456789012 (id int);",
        quiet: "CREATE TABLE a_1234567890123456789012345678901234567890123456789012345678901 (id int);";
    renaming_column: "renaming-column", IN,
        fires: "ALTER TABLE a RENAME COLUMN b TO c;",
        quiet: "ALTER TABLE a ADD COLUMN c text;";
    renaming_table: "renaming-table", IN,
        fires: "ALTER TABLE a RENAME TO b;",
        quiet: "CREATE TABLE b (id int);";
    renaming_object: "renaming-object", IN,
        fires: "ALTER TABLE a RENAME CONSTRAINT a_b_key TO a_c_key;",
        quiet: "ALTER TABLE a RENAME COLUMN b TO b;";
    ban_drop_not_null: "ban-drop-not-null", IN,
        fires: "ALTER TABLE a ALTER COLUMN b DROP NOT NULL;",
        quiet: "ALTER TABLE a ALTER COLUMN b SET DEFAULT 0;";
    ban_drop_view: "ban-drop-view", IN,
        fires: "DROP VIEW v;",
        quiet: "CREATE VIEW v AS SELECT 1;";
    ban_drop_function: "ban-drop-function", IN,
        fires: "DROP FUNCTION f();",
        quiet: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';";
    ban_drop_type: "ban-drop-type", IN,
        fires: "DROP TYPE t;",
        quiet: "CREATE TYPE t AS ENUM ('a');";
    ban_drop_default: "ban-drop-default", IN,
        fires: "ALTER TABLE a ALTER COLUMN b DROP DEFAULT;",
        quiet: "ALTER TABLE a ALTER COLUMN b SET DEFAULT 0;";
    ban_drop_sequence: "ban-drop-sequence", IN,
        fires: "DROP SEQUENCE s;",
        quiet: "CREATE SEQUENCE s;";
    ban_drop_schema: "ban-drop-schema", IN,
        fires: "DROP SCHEMA s;",
        quiet: "CREATE SCHEMA s;";
    ban_drop_domain: "ban-drop-domain", IN,
        fires: "DROP DOMAIN d;",
        quiet: "CREATE DOMAIN d AS int;";
    ban_drop_constraint: "ban-drop-constraint", IN,
        fires: "ALTER TABLE a DROP CONSTRAINT a_b_key;",
        quiet: "ALTER TABLE a ADD COLUMN c text;";
    ban_drop_generated_expression: "ban-drop-generated-expression", IN,
        fires: "ALTER TABLE a ALTER COLUMN b DROP EXPRESSION;",
        quiet: "ALTER TABLE a ALTER COLUMN b SET DEFAULT 0;";
    ban_drop_extension: "ban-drop-extension", IN,
        fires: "DROP EXTENSION hstore;",
        quiet: "CREATE EXTENSION IF NOT EXISTS vector;";
    ban_set_schema: "ban-set-schema", IN,
        fires: "ALTER TABLE a SET SCHEMA s;",
        quiet: "ALTER TABLE a ADD COLUMN c text;";
    ban_alter_identity: "ban-alter-identity", IN,
        fires: "ALTER TABLE a ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;",
        quiet: "CREATE TABLE a (id int GENERATED ALWAYS AS IDENTITY);";
    ban_char_field: "ban-char-field", IN,
        fires: "CREATE TABLE a (code char(4));",
        quiet: "CREATE TABLE a (code text);";
    ban_create_domain_with_constraint: "ban-create-domain-with-constraint", IN,
        fires: "CREATE DOMAIN positive AS int CHECK (VALUE > 0);",
        quiet: "CREATE DOMAIN positive AS int;";
    ban_alter_domain_with_add_constraint: "ban-alter-domain-with-add-constraint", IN,
        fires: "ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0);",
        quiet: "ALTER DOMAIN positive SET DEFAULT 1;";
    unused_ignore: "unused-ignore", IN,
        fires: "-- squawk-ignore no-such-rule\nALTER TABLE a ADD COLUMN c text;",
        quiet: "-- squawk-ignore ban-drop-table\nDROP TABLE a;";
    syntax_error: "syntax-error", IN,
        fires: "ALTER TABLE a ADD COLUMN;",
        quiet: "ALTER TABLE a ADD COLUMN c text;";
}

#[test]
fn every_rule_on_by_default_has_a_case() {
    for policy in RULES.iter().filter(|policy| policy.level != Level::Off) {
        assert!(
            // `unrunnable` is nelo's own: the_run_mode_gives_the_transaction_context.
            COVERED.contains(&policy.name) || policy.name == "unrunnable",
            "rule `{}` is on by default but has no case in tests/lint.rs",
            policy.name
        );
    }
}

#[test]
fn rules_that_restate_prismas_style_are_off() {
    // What Prisma generates for Int, autoincrement, DateTime, String @db.VarChar and an enum
    // value added later.
    let prisma = "CREATE TABLE \"Post\" (\n    \"id\" SERIAL NOT NULL,\n    \"views\" INTEGER NOT NULL,\n    \"rank\" SMALLINT NOT NULL,\n    \"title\" VARCHAR(200) NOT NULL,\n    \"createdAt\" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,\n    CONSTRAINT \"Post_pkey\" PRIMARY KEY (\"id\")\n);\nALTER TYPE \"Role\" ADD VALUE 'EDITOR';\n";
    assert_eq!(lint_sql(prisma, IN), Vec::<Finding>::new());
    for off in [
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
        "prefer-identity",
        "prefer-text-field",
        "prefer-timestamp-tz",
        "prefer-robust-stmts",
        "require-enum-value-ordering",
        "require-lock-timeout",
        "require-statement-timeout",
    ] {
        let policy = nelo_migrate::lint::policy(off).unwrap();
        assert_eq!(policy.level, Level::Off, "{off}");
    }
}

fn migration(name: &str, sql: &str) -> (tempfile::TempDir, nelo_migrate::Migration) {
    let dir = folder(&[(name, sql)]);
    let loaded = nelo_migrate::load(dir.path()).unwrap().remove(0);
    (dir, loaded)
}

#[test]
fn the_run_mode_gives_the_transaction_context() {
    // A lone CREATE INDEX CONCURRENTLY runs alone, as Prisma sends it: right as it is.
    let (_dir, alone) = migration("1_alone", "CREATE INDEX CONCURRENTLY a_b ON a (b);\n");
    let lint = lint_migration(&alone);
    assert_eq!(lint.run_mode, Some(nelo_migrate::RunMode::Alone));
    assert_eq!(lint.findings, Vec::new());

    // Under the marker, several run outside a transaction: also right.
    let sql = "-- nelo:no-transaction\nCREATE INDEX CONCURRENTLY a_b ON a (b);\nCREATE INDEX CONCURRENTLY a_c ON a (c);\n";
    let (_dir, marked) = migration("2_marked", sql);
    let lint = lint_migration(&marked);
    assert_eq!(
        lint.run_mode,
        Some(nelo_migrate::RunMode::StatementByStatement)
    );
    assert_eq!(lint.findings, Vec::new());

    // Without it, the file is one transaction: deploy refuses it, and lint says why.
    let sql = "CREATE INDEX CONCURRENTLY a_b ON a (b);\nCREATE INDEX CONCURRENTLY a_c ON a (c);\n";
    let (_dir, mixed) = migration("3_mixed", sql);
    let lint = lint_migration(&mixed);
    assert_eq!(lint.run_mode, None);
    let rules: Vec<_> = lint.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        rules,
        [
            "unrunnable",
            "ban-concurrent-index-creation-in-transaction",
            "ban-concurrent-index-creation-in-transaction"
        ]
    );
    assert!(lint.findings.iter().all(|f| f.blocks_deploy));
    assert_eq!((lint.findings[0].line, lint.findings[0].column), (1, 1));
    assert!(
        lint.findings[0].message.contains("-- nelo:no-transaction"),
        "{}",
        lint.findings[0].message
    );

    // Statement by statement, a `BEGIN` opens a block: the CIC inside it would fail.
    let sql = "-- nelo:no-transaction\nBEGIN;\nCREATE TABLE a (b int);\nCREATE INDEX CONCURRENTLY a_b ON a (b);\nCOMMIT;\n";
    let (_dir, own) = migration("4_own", sql);
    let lint = lint_migration(&own);
    assert_eq!(
        lint.run_mode,
        Some(nelo_migrate::RunMode::StatementByStatement)
    );
    let rules: Vec<_> = lint.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["ban-concurrent-index-creation-in-transaction"]);
    assert_eq!((lint.findings[0].line, lint.findings[0].column), (4, 14));
}

#[test]
fn suppression_comments_are_honoured() {
    let sql = "ALTER TABLE a DROP COLUMN b;\n-- squawk-ignore ban-drop-column -- backfilled into c in 20250101\nALTER TABLE a DROP COLUMN c;\n";
    let findings = lint_sql(sql, IN);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        (findings[0].rule.as_str(), findings[0].line),
        ("ban-drop-column", 1)
    );

    // Several rules on one line; one comment covers only the statement below it.
    let sql = "-- squawk-ignore ban-drop-column, renaming-column\nALTER TABLE a DROP COLUMN b;\nALTER TABLE a RENAME COLUMN c TO d;\n";
    let rules = rules_found(sql, IN);
    assert_eq!(rules, ["renaming-column"]);

    // File-wide: one rule, or every rule.
    let sql = "-- squawk-ignore-file ban-drop-column\nALTER TABLE a DROP COLUMN b;\nDROP TABLE t;\nALTER TABLE a DROP COLUMN c;\n";
    assert_eq!(rules_found(sql, IN), ["ban-drop-table"]);
    let sql = "-- squawk-ignore-file\nALTER TABLE a DROP COLUMN b;\nDROP TABLE t;\n";
    assert_eq!(rules_found(sql, IN), Vec::<String>::new());
}

#[test]
fn positions_count_characters_and_survive_a_byte_order_mark() {
    let sql = "\u{feff}-- é\nDROP TABLE \"été\";\n";
    let findings = lint_sql(sql, IN);
    assert_eq!(findings.len(), 1, "{findings:?}");
    let finding = &findings[0];
    assert_eq!((finding.line, finding.column), (2, 1));
    // The end is just past the statement, its semicolon included.
    assert_eq!((finding.end_line, finding.end_column), (2, 18));
}

#[test]
fn lint_modes_stop_what_they_say() {
    let (_dir, lint) = migration(
        "1_a",
        "CREATE INDEX a_b ON a (b);\nALTER TABLE a RENAME COLUMN c TO d;\n",
    );
    let lint = lint_migration(&lint);
    let levels: Vec<_> = lint.findings.iter().map(|f| f.level).collect();
    assert_eq!(levels, [Level::Error, Level::Warning]);
    let lints = [lint];
    assert_eq!(
        nelo_migrate::lint::refusals(&lints, LintMode::Warn).len(),
        0
    );
    assert_eq!(
        nelo_migrate::lint::refusals(&lints, LintMode::Deny).len(),
        1
    );
    assert_eq!(nelo_migrate::lint::refusals(&lints, LintMode::Off).len(), 0);
    assert_eq!("DENY".parse(), Ok(LintMode::Deny));
    assert!("strict".parse::<LintMode>().is_err());
}

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    binary()
        .env_remove("NELO_LINT")
        .args(args)
        .arg("--migrations")
        .arg(dir)
        .output()
        .expect("run nelo-migrate")
}

#[test]
fn cli_exit_codes_and_human_output() {
    let dir = folder(&[
        ("1_clean", "CREATE TABLE a (b int);\n"),
        ("2_warning", "ALTER TABLE a RENAME COLUMN b TO c;\n"),
        ("3_error", "CREATE INDEX a_c ON a (c);\n"),
    ]);
    let clean = run(&["lint", "1_clean", "2_warning"], dir.path());
    assert_eq!(clean.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&clean.stdout);
    assert!(
        stdout.contains("2_warning/migration.sql:1:15: warning[renaming-column]: "),
        "{stdout}"
    );

    let all = run(&["lint"], dir.path());
    assert_eq!(all.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&all.stdout);
    assert!(
        stdout.contains("3_error/migration.sql:1:1: error[require-concurrent-index-creation]: "),
        "{stdout}"
    );
    assert!(stdout.contains("\n  help: "), "{stdout}");

    let unknown = run(&["lint", "4_nope"], dir.path());
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no migration `4_nope`"), "{stderr}");

    let missing_folder = run(&["lint"], &dir.path().join("nope"));
    assert_eq!(missing_folder.status.code(), Some(2));

    let pending_without_url = run(&["lint", "--pending"], dir.path());
    assert_eq!(pending_without_url.status.code(), Some(2));
}

#[test]
fn json_shape_is_stable() {
    let dir = folder(&[(
        "1_a",
        "-- squawk-ignore ban-drop-table\nDROP TABLE t;\nALTER TABLE a DROP COLUMN b;\n",
    )]);
    let output = run(&["lint", "--json"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let mut json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let path = dir.path().join("1_a").join("migration.sql");
    assert_eq!(
        json["migrations"][0]["path"].take(),
        serde_json::json!(path.display().to_string())
    );
    let message = json["migrations"][0]["findings"][0]["message"].take();
    assert!(message.is_string());
    assert_eq!(
        json,
        serde_json::json!({
            "errors": 1,
            "warnings": 0,
            "migrations": [{
                "name": "1_a",
                "path": null,
                "run_mode": "in_transaction",
                "findings": [{
                    "rule": "ban-drop-column",
                    "level": "error",
                    "blocks_deploy": false,
                    "message": null,
                    "help": null,
                    "line": 3,
                    "column": 15,
                    "end_line": 3,
                    "end_column": 28,
                }],
            }],
        })
    );
}

#[tokio::test]
async fn deploy_stops_before_anything_runs_on_a_finding_that_would_fail() {
    let db = TestDb::new().await;
    // The second migration runs statement by statement, opens a transaction block and builds
    // an index concurrently in it.
    let dir = folder(&[
        ("20250101000000_a", "CREATE TABLE a (b int);\n"),
        (
            "20250102000000_b",
            "-- nelo:no-transaction\nBEGIN;\nCREATE TABLE c (d int);\nCREATE INDEX CONCURRENTLY c_d ON c (d);\nCOMMIT;\n",
        ),
    ]);
    let error = Migrator::new(dir.path())
        .deploy(&db.url, common::ignore_events)
        .await
        .unwrap_err();
    let Error::LintRefused(refusal) = &error else {
        panic!("expected a lint refusal, got {error}");
    };
    assert_eq!(refusal.findings.len(), 1);
    assert_eq!(refusal.findings[0].migration, "20250102000000_b");
    let text = error.to_string();
    assert!(
        text.contains("20250102000000_b/migration.sql:4:14: error[ban-concurrent-index-creation-in-transaction]"),
        "{text}"
    );
    // Nothing ran, not even the first, clean migration; no history table.
    assert!(!db.table_exists("a").await);
    assert!(!db.table_exists("_prisma_migrations").await);

    // `--lint off` lets it run, and PostgreSQL refuses the statement, as lint said.
    let error = Migrator::new(dir.path())
        .lint(LintMode::Off)
        .deploy(&db.url, common::ignore_events)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::MigrationFailed(_)), "{error}");
}

#[tokio::test]
async fn deploy_prints_warnings_and_deny_stops_on_errors() {
    let db = TestDb::new().await;
    let dir = folder(&[
        ("20250101000000_a", "CREATE TABLE a (b int);\n"),
        ("20250102000000_b", "CREATE INDEX a_b ON a (b);\n"),
    ]);
    let migrator = Migrator::new(dir.path());
    // Deny: the error-level finding stops it; nothing applied, no history row.
    let error = migrator
        .clone()
        .lint(LintMode::Deny)
        .deploy(&db.url, common::ignore_events)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::LintRefused(_)), "{error}");
    assert!(!db.table_exists("a").await);
    assert!(!db.table_exists("_prisma_migrations").await);

    // Warn (the default): reported as a warning, and applied.
    let mut warnings = Vec::new();
    let report = migrator
        .deploy(&db.url, |event| {
            if let Event::LintWarning {
                migration, finding, ..
            } = event
            {
                warnings.push((migration, finding.rule));
            }
        })
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 2);
    assert_eq!(
        warnings,
        [(
            "20250102000000_b".to_string(),
            "require-concurrent-index-creation".to_string()
        )]
    );

    // Applied migrations are never linted again, even under deny.
    let report = migrator
        .lint(LintMode::Deny)
        .deploy(&db.url, common::ignore_events)
        .await
        .unwrap();
    assert!(report.applied.is_empty());
}

#[tokio::test]
async fn cli_deploy_lint_flag_and_environment() {
    let db = TestDb::new().await;
    let dir = folder(&[("20250101000000_a", "DROP TABLE IF EXISTS t;\n")]);
    let denied = binary()
        .args(["deploy", "--database-url", &db.url, "--migrations"])
        .arg(dir.path())
        .env("NELO_LINT", "deny")
        .output()
        .unwrap();
    assert_eq!(denied.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.contains("lint stopped the deploy before anything ran"),
        "{stderr}"
    );
    assert!(stderr.contains("error[ban-drop-table]"), "{stderr}");
    assert!(!db.table_exists("_prisma_migrations").await);

    let warned = binary()
        .args([
            "deploy",
            "--lint",
            "warn",
            "--database-url",
            &db.url,
            "--migrations",
        ])
        .arg(dir.path())
        .env("NELO_LINT", "deny")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&warned.stderr);
    assert_eq!(warned.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("error[ban-drop-table]"), "{stderr}");
    assert_eq!(db.history().await.len(), 1);

    // `lint --pending` lints only what deploy would still apply: nothing now.
    let pending = run(
        &["lint", "--pending", "--database-url", &db.url],
        dir.path(),
    );
    assert_eq!(pending.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&pending.stderr);
    assert!(stderr.contains("linted 0 migrations"), "{stderr}");
}

#[test]
fn a_large_folder_is_linted_in_order() {
    let names: Vec<String> = (0..100).map(|index| format!("{index:03}_m")).collect();
    let dir = folder(
        &names
            .iter()
            .map(|name| (name.as_str(), "CREATE INDEX a_b ON a (b);\n"))
            .collect::<Vec<_>>(),
    );
    let migrations = nelo_migrate::load(dir.path()).unwrap();
    let lints = nelo_migrate::lint::lint_migrations(&migrations.iter().collect::<Vec<_>>());
    let linted: Vec<_> = lints.iter().map(|lint| lint.name.clone()).collect();
    assert_eq!(linted, names);
    assert!(lints.iter().all(|lint| lint.findings.len() == 1));
}

#[test]
fn what_prisma_runs_is_not_stopped_by_default() {
    // A bare COMMIT ends the implicit transaction Prisma sends the file in, so the enum
    // value can be used after it: it runs (tests/compat.rs), so lint must not stop it.
    let sql =
        "ALTER TYPE \"Role\" ADD VALUE 'OWNER';\nCOMMIT;\nUPDATE \"User\" SET role = 'OWNER';\n";
    let (_dir, bare_commit) = migration("1_add_value", sql);
    let lint = lint_migration(&bare_commit);
    assert_eq!(lint.run_mode, Some(nelo_migrate::RunMode::AsWritten));
    let rules: Vec<_> = lint.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["transaction-nesting"]);
    assert!(!LintMode::Warn.stops(&lint.findings[0]));
}
