//! Nelo's declared schema (`schema.sql` at the workspace root) equals what `migrations/` builds:
//! the guide's rule "always create migrations before deploying", enforced by the suite.

use std::path::PathBuf;
use std::time::Duration;

use nelo_migrate::diff::{DiffOptions, Source, diff};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

fn options() -> DiffOptions {
    DiffOptions {
        shadow_server_url: Some(
            std::env::var(nelo_db::testing::SERVER_URL_VAR)
                .expect("NELO_TEST_SERVER_URL is not set; run the tests with `cargo xtask test`"),
        ),
        connect_timeout: Duration::from_secs(10),
        concurrent_indexes: false,
    }
}

#[tokio::test]
async fn the_declared_schema_is_what_the_migrations_build() {
    let root = workspace_root();
    let migrations = Source::Migrations(root.join("migrations"));
    let schema = Source::Schema(root.join("schema.sql"));
    let difference = diff(&migrations, &schema, &options())
        .await
        .expect("diff migrations/ with schema.sql");
    let lines: Vec<String> = difference
        .differences
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        difference.is_empty(),
        "schema.sql and migrations/ disagree:\n  {}\n\
         when schema.sql is the change, write its migration with \
         `cargo run -p nelo-migrate -- create --name NAME --from-schema schema.sql`; \
         when a migration is, declare it in schema.sql. The migration that would follow:\n{}",
        lines.join("\n  "),
        difference.script()
    );
}

#[tokio::test]
async fn a_declared_change_that_has_no_migration_is_caught() {
    // The check above could pass vacuously if the schema side were not read at all: declare one
    // more index in a copy of schema.sql and the same diff must see it.
    let root = workspace_root();
    let declared = std::fs::read_to_string(root.join("schema.sql")).expect("read schema.sql");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let changed = dir.path().join("schema.sql");
    std::fs::write(
        &changed,
        format!("{declared}\nCREATE INDEX \"Project_title_idx\" ON \"Project\"(\"title\");\n"),
    )
    .expect("write the changed schema");
    let difference = diff(
        &Source::Migrations(root.join("migrations")),
        &Source::Schema(changed),
        &options(),
    )
    .await
    .expect("diff migrations/ with the changed schema");
    assert_eq!(
        difference.differences.len(),
        1,
        "{:?}",
        difference.differences
    );
    assert!(
        difference.script().contains("\"Project_title_idx\""),
        "{}",
        difference.script()
    );
}
