//! `cargo xtask db migrate dev --name NAME`: the migrations guide's everyday command, for a
//! person at a terminal. Checks the development database for drift (and offers the reset),
//! writes the change from the migrations to the declared schema as a new migration after
//! showing it (asking first when it loses data), then applies it to the development and
//! test databases after the usual backup.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use nelo_migrate::diff::SchemaDiff;
use nelo_migrate_cli::{
    Confirmation, PlanArgs, confirm, diff_summary, drift_summary, is_interactive,
};

use crate::context::Context;
use crate::workflow::deploy::deploy;
use crate::workflow::reset::{ResetOptions, reset};
use crate::workflow::schema::{
    change_to_schema, drift, drift_diff_command, shown_path, write_migrations,
};
use crate::{docker, ui};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// What the migration does, e.g. `add_scene_summary`.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    plan: PlanArgs,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let schema = &ctx.config.schema_path;
    if !is_interactive() {
        bail!(
            "`db migrate dev` asks questions and nobody can answer here (no terminal on stdin, \
             or CI is set); write the migration with `cargo xtask db migrate create --name {} \
             --from-schema {}`, review it, then apply it with `cargo xtask db migrate deploy` \
             (and `--test`)",
            args.name,
            shown_path(&ctx.root, schema).display()
        );
    }
    let url = &ctx.config.database_url;
    let drift = drift(ctx, url)
        .await
        .context("is the database up (`cargo xtask db status`)?")?;
    if !drift.is_empty() {
        ui::stdout(drift_summary(&drift, &drift_diff_command(ctx, false)));
        confirm(&Confirmation {
            action: "reset",
            database: &url.database(),
            consequence: &format!(
                "`db migrate dev` can reset the drifted database: this drops every schema and \
                 all data in {url} (after a backup), then applies the migrations and seeds"
            ),
        })
        .context("stopped: the development database has drifted and was left as it is")?;
        let options = ResetOptions {
            backup: true,
            seed: true,
        };
        reset(ctx, url, &options).await?;
    }
    let diff = change_to_schema(ctx, schema, args.plan).await?;
    if diff.is_empty() {
        ui::step(format!(
            "the migrations are already in sync with `{}`; nothing to do",
            shown_path(&ctx.root, schema).display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    ui::stdout(migration_text(&args.name, &diff));
    if !diff.plan.warnings.is_empty()
        && !nelo_migrate_cli::yes_or_no("this migration loses data; write and apply it?")?
    {
        bail!("cancelled: no migration was written");
    }
    write_migrations(ctx, &args.name, &diff)?;
    let engine = docker::connect().await?;
    for url in [&ctx.config.database_url, &ctx.config.test_database_url] {
        deploy(ctx, Some(&engine), url).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What the person reviews: the differences with the data-loss warnings, then the SQL of
/// each migration that will be written.
fn migration_text(name: &str, diff: &SchemaDiff) -> String {
    let scripts = diff.migration_scripts();
    let mut text = format!("{}\n", diff_summary(diff));
    for script in &scripts {
        text += &format!("-- migration `{name}{}`:\n{}\n", script.suffix, script.sql);
    }
    text
}
