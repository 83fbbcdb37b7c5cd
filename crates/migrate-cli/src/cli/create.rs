//! `nelo-migrate create`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use nelo_migrate_cli::{PlanArgs, print_stdout, schema_change, write_schema_change};

use super::args::{MigrationsArgs, ShadowArgs};
use super::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Name of the migration; it is turned into snake_case
    #[arg(long)]
    name: String,
    #[command(flatten)]
    migrations: MigrationsArgs,
    /// Write the verified difference between the migrations and this SQL schema (a file, or
    /// a folder of .sql files) as the migration; nothing is written when there is none
    #[arg(long, value_name = "PATH")]
    from_schema: Option<PathBuf>,
    #[command(flatten)]
    shadow: ShadowArgs,
    #[command(flatten)]
    plan: PlanArgs,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, hide = true)]
    database_url: Option<String>,
    /// Seconds to keep retrying while the shadow server is unreachable or starting up
    #[arg(long, env = "NELO_CONNECT_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = super::args::parse_seconds)]
    connect_timeout: Duration,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = &args.migrations.dir;
    let Some(schema) = &args.from_schema else {
        let path = nelo_migrate::create_migration(
            dir,
            &args.name,
            nelo_migrate::EMPTY_MIGRATION,
            chrono::Utc::now(),
        )
        .with_context(|| format!("cannot create migration `{}`", args.name))?;
        print_stdout(&format!("{}\n", path.display()))?;
        return Ok(ExitCode::SUCCESS);
    };
    let options = args.plan.apply(
        args.shadow
            .options(args.database_url.as_deref(), args.connect_timeout),
    );
    let diff = schema_change(dir, schema, &options).await?;
    let cannot_tell: Vec<String> = diff
        .cannot_tell()
        .iter()
        .map(|object| object.describe(nelo_migrate::diff::side_text))
        .collect();
    if !cannot_tell.is_empty() {
        ui::warning(&format!(
            "cannot tell whether the migrations and `{}` are the same: these objects of kinds nelo does not compare exist on one side only or differ, and no migration written by nelo holds them (write them by hand):\n  {}",
            schema.display(),
            cannot_tell.join("\n  ")
        ));
        if diff.is_empty() {
            return Ok(ExitCode::from(2));
        }
    }
    if diff.is_empty() {
        ui::note(&format!(
            "the migrations are already in sync with `{}`; no migration created",
            schema.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let written = write_schema_change(dir, &args.name, &diff)?;
    eprint!("{}", written.findings_text);
    if let Some(note) = written.findings_note() {
        ui::note(&note);
    }
    if let Some(note) = &written.split_note {
        ui::note(note);
    }
    for path in &written.paths {
        print_stdout(&format!("{}\n", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
