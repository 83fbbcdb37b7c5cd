//! A declared schema written as migrations (`create --from-schema`, and `cargo xtask db
//! migrate dev`): the difference between the migrations folder and the schema, then the
//! folders that hold it, linted as deploy will run them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use nelo_migrate::diff::{DiffOptions, SchemaDiff, Source};

/// The verified difference from what the migrations folder `dir` builds (an empty database
/// when the folder does not exist yet) to the schema at `schema` (a file, or a folder of
/// `.sql` files). Shadows go where `options` says.
pub async fn schema_change(
    dir: &Path,
    schema: &Path,
    options: &DiffOptions,
) -> anyhow::Result<SchemaDiff> {
    let from = if dir.exists() {
        Source::Migrations(dir.to_path_buf())
    } else {
        Source::Empty
    };
    let to = Source::Schema(schema.to_path_buf());
    nelo_migrate::diff::diff(&from, &to, options)
        .await
        .with_context(|| format!("cannot diff {from} with {to}"))
}

/// Migrations just written, and what lint found in them.
#[derive(Debug)]
pub struct Written {
    /// Each `migration.sql`, in order.
    pub paths: Vec<PathBuf>,
    /// Lint's findings, as `finding_text` renders them (for stderr).
    pub findings_text: String,
    /// How many findings.
    pub findings: usize,
    /// Why the change is more than one migration, when it is.
    pub split_note: Option<String>,
}

/// Writes `diff` as migrations `name` (and `<name>_after_enum_values` when the change uses
/// enum values it adds) in `dir`, then lints them: a generated step can still lock a large
/// table or lose data.
pub fn write_schema_change(dir: &Path, name: &str, diff: &SchemaDiff) -> anyhow::Result<Written> {
    let scripts = diff.migration_scripts();
    let paths = nelo_migrate::create_migrations(dir, name, &scripts, chrono::Utc::now())
        .with_context(|| format!("cannot create migration `{name}` in {}", dir.display()))?;
    let migrations = nelo_migrate::load(dir).context("cannot read the migrations just written")?;
    let mut written = Written {
        paths,
        findings_text: String::new(),
        findings: 0,
        split_note: split_note(&scripts),
    };
    for migration in migrations
        .iter()
        .filter(|migration| written.paths.contains(&migration.path))
    {
        let lint = nelo_migrate::lint::lint_migration(migration);
        for finding in &lint.findings {
            written.findings_text += &nelo_migrate::lint::finding_text(&migration.path, finding);
        }
        written.findings += lint.findings.len();
    }
    Ok(written)
}

impl Written {
    /// The note on lint's findings, when there are any.
    pub fn findings_note(&self) -> Option<String> {
        (self.findings > 0).then(|| {
            format!(
                "lint: {} in the generated migration; review them before deploying",
                crate::count(self.findings, "finding")
            )
        })
    }
}

/// Why a change's scripts are several migrations: enum values used where they are added, and
/// indexes built concurrently.
fn split_note(scripts: &[nelo_migrate::diff::MigrationScript]) -> Option<String> {
    let mut reasons = Vec::new();
    if scripts
        .iter()
        .any(|script| script.suffix == nelo_migrate::diff::AFTER_ENUM_VALUES_SUFFIX)
    {
        reasons.push(
            "the change uses enum values it adds: its `_after_enum_values` migration runs after the first commits"
                .to_string(),
        );
    }
    let concurrent = scripts
        .iter()
        .filter(|script| script.suffix.starts_with("_index_"))
        .count();
    if concurrent > 0 {
        let indexes = if concurrent == 1 {
            "1 index".to_string()
        } else {
            format!("{concurrent} indexes")
        };
        reasons.push(format!(
            "{indexes} built CONCURRENTLY, each in a migration of its own that runs outside a transaction"
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}
