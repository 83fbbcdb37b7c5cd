//! `cargo xtask db restore FILE`: the safest command there is. It checks the whole file
//! before touching anything (the `.sha256` when there is one; an archive's table of
//! contents; a plain script's pg_dump header and closing line), backs up a target that holds
//! tables (`--force`), restores into a scratch database, and only once that succeeded swaps
//! it in by renaming. Killed at any point, the target is as it was (or already the complete
//! restore), and a rerun works: the scratch database a killed run left is dropped first.
//! A dump from another environment restores whole: what it gives to roles that do not exist
//! here (ownership, privileges) is left out and listed, unless `--keep-roles`.

mod databases;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::Utc;
use sqlx::{Connection as _, PgConnection};

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::{self, Engine};
use crate::dump::check::scratch_database_name;
use crate::dump::name::restored_database_name;
use crate::dump::programs::Format;
use crate::dump::roles::{Dropped, RoleFilter, describe_dropped};
use crate::postgres;
use crate::ui;
use crate::workflow::backup::backup_before_change;
use crate::workflow::restore::check_file;
use crate::workflow::restore::stream::restore_filtered;
use crate::workflow::restore::{drop_database, drop_database_on, restore_into, table_row_counts};
use databases::{create_database, ensure_sole_restore, swap_in};
use validate::{check_whole_file, target_name_problem};

const CONNECT_DEADLINE: Duration = postgres::CONNECT_TIMEOUT;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The dump: a custom archive (`.dump`) or a plain SQL script (`.sql`).
    file: PathBuf,
    /// The database to restore into (default: a new `nelo_restored_<time>`).
    #[arg(long, value_name = "NAME")]
    into: Option<String>,
    /// Replace a target that holds tables (it is backed up first).
    #[arg(long)]
    force: bool,
    /// Restore every owner and privilege as the dump has them, for a dump of this same
    /// server (fails when a role it names does not exist here). By default what belongs to
    /// missing roles is left out, and said.
    #[arg(long)]
    keep_roles: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let format = check_file(&args.file)?;
    let file_name = args
        .file
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    let target = args
        .into
        .clone()
        .unwrap_or_else(|| restored_database_name(file_name, Utc::now()));
    if let Some(problem) = target_name_problem(&target) {
        bail!("{problem}; nothing was changed");
    }
    let url = ctx.config.database_url.with_database(&target);
    let engine = docker::connect().await?;
    check_whole_file(ctx, &engine, &args.file, format).await?;

    let mut admin = postgres::connect(&admin_url(&url), CONNECT_DEADLINE).await?;
    ensure_sole_restore(&mut admin, &target).await?;
    ensure_not_a_system_database(&mut admin, &target).await?;
    let target_exists = postgres::database_exists(&mut admin, &target).await?;
    if target_exists && target_has_tables(&url).await? {
        if !args.force {
            bail!(
                "database `{target}` is not empty: restore into another one with --into NAME, or \
                 pass --force to replace it (it is backed up first)"
            );
        }
        let backup = backup_before_change(ctx, &engine, &url, "pre-restore")
            .await?
            .context("the target held tables but nothing was backed up")?;
        ui::step(format!(
            "backed up `{target}` to {} before replacing it",
            backup.display()
        ));
    }

    let scratch = scratch_database_name(&target);
    if drop_database_on(&mut admin, &scratch).await? {
        ui::note(format!(
            "dropped `{scratch}`, left by a restore that was interrupted"
        ));
    }
    // The roles are known before anything is created, so that a failure leaves nothing.
    let existing_roles = if args.keep_roles {
        None
    } else {
        Some(server_roles(&mut admin).await?)
    };
    create_database(&mut admin, &scratch).await?;
    // Interrupted before the swap, the scratch database goes; after it, it no longer exists
    // under that name (the swap is one transaction), so the cleanup does nothing.
    let _drop_scratch = {
        let (url, scratch) = (url.clone(), scratch.clone());
        crate::signal::on_interrupt(move || async move {
            let _ = drop_database(&url, &scratch).await;
        })
    };
    let started = Instant::now();
    let restored =
        restore_scratch(ctx, &engine, &args.file, format, &scratch, existing_roles).await;
    let dropped = match restored {
        Ok(dropped) => dropped,
        Err(error) => {
            let _ = drop_database_on(&mut admin, &scratch).await;
            return Err(error.context(format!(
                "nothing was changed: `{target}` is as it was before the restore"
            )));
        }
    };
    swap_in(&mut admin, &scratch, &target, target_exists).await?;

    let restored_but = || format!("`{target}` is restored, but its tables cannot be counted");
    let mut conn = postgres::connect(&url, CONNECT_DEADLINE)
        .await
        .with_context(restored_but)?;
    let counts = table_row_counts(&mut conn)
        .await
        .with_context(restored_but)?;
    let rows: i64 = counts.iter().map(|(_, rows)| rows).sum();
    ui::step(format!(
        "restored {} into `{target}`: {} tables, {rows} rows in {:.1} s",
        args.file.display(),
        counts.len(),
        started.elapsed().as_secs_f64()
    ));
    if !dropped.is_empty() {
        ui::warn(
            "left out what belongs to roles that do not exist here (for a dump of this same \
             server, --keep-roles keeps it):",
        );
        for line in describe_dropped(&dropped, &ctx.config.database_url.user()) {
            eprintln!("    {line}");
        }
    }
    ui::stdout_line(target);
    Ok(ExitCode::SUCCESS)
}

/// Refuses a template database or the maintenance database itself as the target: renaming
/// either away breaks the server's own tools, and a template cannot be dropped.
async fn ensure_not_a_system_database(
    admin: &mut PgConnection,
    target: &str,
) -> anyhow::Result<()> {
    let system: Option<bool> = sqlx::query_scalar(
        "SELECT datistemplate OR datname = current_database() FROM pg_database WHERE datname = $1",
    )
    .bind(target)
    .fetch_optional(&mut *admin)
    .await
    .with_context(|| format!("cannot read what `{target}` is"))?;
    if system == Some(true) {
        bail!(
            "`{target}` is a template database or the server's maintenance database; a restore \
             never replaces it: restore into another one with --into NAME; nothing was changed"
        );
    }
    Ok(())
}

/// Every role of the server (`pg_roles`).
async fn server_roles(admin: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    sqlx::query_scalar("SELECT rolname::text FROM pg_roles")
        .fetch_all(&mut *admin)
        .await
        .context("cannot list the roles of the server")
}

/// Restores into the scratch database: as the dump has it (`existing_roles: None`, for
/// `--keep-roles`), or without what belongs to roles not in `existing_roles`; returns what
/// was left out, per role.
async fn restore_scratch(
    ctx: &Context,
    engine: &Engine,
    path: &Path,
    format: Format,
    scratch: &str,
    existing_roles: Option<Vec<String>>,
) -> anyhow::Result<BTreeMap<String, Dropped>> {
    let Some(existing_roles) = existing_roles else {
        restore_into(ctx, engine, path, format, scratch, true).await?;
        return Ok(BTreeMap::new());
    };
    let mut filter = RoleFilter::new(existing_roles);
    restore_filtered(
        engine,
        &ctx.config.container,
        &ctx.config.database_url.user(),
        path,
        format,
        scratch,
        Some(&mut filter),
    )
    .await
    .with_context(|| format!("cannot restore `{}`", path.display()))?;
    Ok(filter.dropped().clone())
}

/// The maintenance database to work from: never the target itself, which gets renamed.
fn admin_url(url: &DatabaseUrl) -> DatabaseUrl {
    let admin = if url.database() == "postgres" {
        "template1"
    } else {
        "postgres"
    };
    url.with_database(admin)
}

async fn target_has_tables(url: &DatabaseUrl) -> anyhow::Result<bool> {
    let mut conn = postgres::connect(url, CONNECT_DEADLINE).await?;
    let has_tables = postgres::has_user_tables(&mut conn).await;
    let _ = conn.close().await;
    has_tables
}
