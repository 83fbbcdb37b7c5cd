//! `cargo xtask db migrate lint`.

use std::process::ExitCode;

use nelo_migrate::lint::{Level, finding_text, lint_migration};

use crate::context::Context;
use crate::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Migrations to lint, by folder name (default: all).
    names: Vec<String>,
}

/// Lints the named migrations (all when none is named) and prints each finding.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let names = &args.names;
    let dir = &ctx.config.migrations_dir;
    let migrations = nelo_migrate::load(dir)?;
    if let Some(unknown) = names
        .iter()
        .find(|name| !migrations.iter().any(|m| &m.name == *name))
    {
        anyhow::bail!("no migration `{unknown}` in {}", dir.display());
    }
    let mut errors = 0;
    let mut count = 0;
    for migration in &migrations {
        if names.is_empty() || names.contains(&migration.name) {
            let lint = lint_migration(migration);
            lint.findings
                .iter()
                .for_each(|finding| ui::stdout(finding_text(&lint.path, finding)));
            errors += lint.count(Level::Error);
            count += 1;
        }
    }
    ui::step(format!(
        "linted {}: {}",
        ui::count(count, "migration"),
        ui::count(errors, "error")
    ));
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
