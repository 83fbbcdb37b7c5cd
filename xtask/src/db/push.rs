//! `cargo xtask db push`: the declared schema applied directly to the development (or
//! `--test`) database, without a migration (prototyping, as `prisma db push`). A change that
//! loses data is refused without `--accept-data-loss`, and backed up first with it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use nelo_migrate::diff::{PushOptions, push_with_locks};
use nelo_migrate_cli::{difference_lines, push_json};

use crate::config::TargetDatabase;
use crate::context::Context;
use crate::workflow::deploy::backup_first;
use crate::workflow::schema::{shadow_options, shown_path};
use crate::{docker, ui};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Push to the test database (TEST_DATABASE_URL).
    #[arg(long)]
    test: bool,
    /// The declared schema: a SQL file, or a folder of .sql files applied in name order
    /// (default: NELO_SCHEMA, else `schema.sql` at the workspace root).
    #[arg(long, value_name = "PATH")]
    schema: Option<PathBuf>,
    /// Apply the change even when a step loses data (a dropped table or column, a narrowed
    /// type); the database is backed up first.
    #[arg(long)]
    accept_data_loss: bool,
    /// Print what was applied as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let url = ctx
        .config
        .target_url(TargetDatabase::from_test_flag(args.test));
    let schema = args
        .schema
        .unwrap_or_else(|| ctx.config.schema_path.clone());
    if args.accept_data_loss {
        let engine = docker::connect().await?;
        backup_first(ctx, &engine, url, "pre-push").await?;
    }
    let options = PushOptions {
        diff: shadow_options(ctx),
        accept_data_loss: args.accept_data_loss,
        lock_timeout: ctx.config.lock_timeout,
    };
    let bar = ui::spinner(format!(
        "pushing `{}` to {}",
        schema.display(),
        url.database()
    ));
    let pushed = push_with_locks(url.as_str(), &schema, &options, ctx.config.ddl_locks).await;
    ui::clear(&bar);
    let pushed = pushed.with_context(|| {
        format!(
            "cannot push `{}` to {url} (--accept-data-loss applies a change that loses data)",
            schema.display()
        )
    })?;
    let diff = &pushed.diff;
    if args.json {
        ui::stdout_line(serde_json::to_string_pretty(&push_json(diff))?);
    } else if diff.is_empty() {
        ui::step(format!(
            "{} is already in sync with `{}`; nothing to apply",
            url.database(),
            schema.display()
        ));
    } else {
        ui::stdout(difference_lines(&diff.differences));
        for warning in &diff.plan.warnings {
            ui::warn(format!("applied with data loss: {warning}"));
        }
        ui::step(format!(
            "{} is now in sync with `{}` (no migration was recorded: write one with `cargo xtask \
             db migrate create --name NAME --from-schema {}` before deploying)",
            url.database(),
            schema.display(),
            shown_path(&ctx.root, &schema).display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
