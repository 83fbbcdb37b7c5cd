//! The declared schema and the databases: where shadow databases go, the drift check of a
//! database, and the commands that print a drift's SQL. `db status`, `db migrate status`,
//! `db migrate dev`, `db migrate diff`, `db migrate create --from-schema` and `db push` share it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use nelo_migrate::diff::{DiffOptions, Drift, SchemaDiff};
use nelo_migrate_cli::{PlanArgs, schema_change, write_schema_change};

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::ui;

/// Shadow databases go on the development server (`DATABASE_URL`'s), whose role created the
/// container and so can create databases.
pub(crate) fn shadow_options(ctx: &Context) -> DiffOptions {
    DiffOptions {
        shadow_server_url: Some(ctx.config.database_url.as_str().to_string()),
        connect_timeout: ctx.config.connect_timeout,
        concurrent_indexes: false,
    }
}

/// Whether `url`'s database is what its applied migrations build: they are replayed into a
/// shadow on the development server and both are compared.
pub(crate) async fn drift(ctx: &Context, url: &DatabaseUrl) -> anyhow::Result<Drift> {
    let bar = ui::spinner(format!("checking {} for drift", url.database()));
    let drift = nelo_migrate::diff::drift(
        url.as_str(),
        &ctx.config.migrations_dir,
        &shadow_options(ctx),
    )
    .await;
    ui::clear(&bar);
    drift.with_context(|| format!("cannot check {url} for drift"))
}

/// The verified change from what the migrations folder builds to the declared schema at
/// `schema`.
pub(crate) async fn change_to_schema(
    ctx: &Context,
    schema: &Path,
    plan: PlanArgs,
) -> anyhow::Result<SchemaDiff> {
    let bar = ui::spinner(format!(
        "comparing the migrations with `{}`",
        schema.display()
    ));
    let options = plan.apply(shadow_options(ctx));
    let diff = schema_change(&ctx.config.migrations_dir, schema, &options).await;
    ui::clear(&bar);
    diff
}

/// Writes `diff` as migration `name` (two when it uses enum values it adds), prints lint's
/// findings on them and each new `migration.sql` on stdout. Returns their paths.
pub(crate) fn write_migrations(
    ctx: &Context,
    name: &str,
    diff: &SchemaDiff,
) -> anyhow::Result<Vec<PathBuf>> {
    let written = write_schema_change(&ctx.config.migrations_dir, name, diff)?;
    eprint!("{}", written.findings_text);
    if let Some(note) = written.findings_note() {
        ui::note(note);
    }
    if let Some(note) = &written.split_note {
        ui::note(note);
    }
    for path in &written.paths {
        ui::stdout_line(path.display());
    }
    Ok(written.paths)
}

/// The command that prints the drift of the development (or, `test`, the test) database as
/// SQL: the text `drift_summary` names.
pub(crate) fn drift_diff_command(ctx: &Context, test: bool) -> String {
    let variable = if test {
        "TEST_DATABASE_URL"
    } else {
        "DATABASE_URL"
    };
    format!(
        "cargo xtask db migrate diff --from-migrations {} --to-url \"${variable}\" --script",
        shown_path(&ctx.root, &ctx.config.migrations_dir).display()
    )
}

/// `path` relative to the workspace root when it is below it (as a person typed it).
pub(crate) fn shown_path<'a>(root: &Path, path: &'a Path) -> &'a Path {
    path.strip_prefix(root).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_the_root_are_shown_relative_to_it() {
        let root = Path::new("/repo");
        assert_eq!(
            shown_path(root, Path::new("/repo/migrations")),
            Path::new("migrations")
        );
        assert_eq!(
            shown_path(root, Path::new("/elsewhere/m")),
            Path::new("/elsewhere/m")
        );
    }
}
