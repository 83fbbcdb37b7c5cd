//! `cargo xtask db migrate create`: an empty migration folder, or with `--from-schema` the
//! verified change from the migrations to the declared schema (two folders when the change
//! uses enum values it adds), as `nelo-migrate create` writes them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use nelo_migrate_cli::PlanArgs;

use crate::context::Context;
use crate::ui;
use crate::workflow::schema::{change_to_schema, write_migrations};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// What the migration does, e.g. `add_scene_summary`.
    #[arg(long)]
    name: String,
    /// Write the change from the migrations to this declared schema (a SQL file, or a folder
    /// of .sql files; without PATH, NELO_SCHEMA or `schema.sql`); nothing is written when
    /// there is none.
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    from_schema: Option<Option<PathBuf>>,
    #[command(flatten)]
    plan: PlanArgs,
}

/// Prints the path of each `migration.sql` written.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let Some(schema) = args.from_schema else {
        let path = nelo_migrate::create_migration(
            &ctx.config.migrations_dir,
            &args.name,
            nelo_migrate::EMPTY_MIGRATION,
            chrono::Utc::now(),
        )
        .with_context(|| format!("cannot create migration `{}`", args.name))?;
        ui::stdout_line(path.display());
        return Ok(ExitCode::SUCCESS);
    };
    let schema = schema.unwrap_or_else(|| ctx.config.schema_path.clone());
    let diff = change_to_schema(ctx, &schema, args.plan).await?;
    if diff.is_empty() {
        ui::note(format!(
            "the migrations are already in sync with `{}`; no migration created",
            schema.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    write_migrations(ctx, &args.name, &diff)?;
    Ok(ExitCode::SUCCESS)
}
