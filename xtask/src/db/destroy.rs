//! `cargo xtask db destroy`: removes the container and its volume. Without `--force` it only
//! says what would be lost and fails. A container or a volume nelo did not create (no
//! `dev.nelo.managed` label, even one adopted with `db up --adopt-volume`) is never removed.

use std::process::ExitCode;

use anyhow::bail;

use crate::context::Context;
use crate::spec::MANAGED_LABEL;
use crate::{docker, postgres, ui};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Really remove the container and its volume, with every database in it.
    #[arg(long)]
    force: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = &ctx.config;
    let container = &config.container;
    let engine = docker::connect().await?;
    let observed = engine.inspect_container(container).await?;
    if let Some(observed) = &observed
        && !observed.is_managed()
    {
        bail!("container `{container}` was not created by nelo; nelo will not remove it");
    }
    // The volume the container really uses, should the configuration have changed since.
    let volume = &observed
        .as_ref()
        .and_then(|observed| observed.volume.clone())
        .unwrap_or_else(|| config.volume.clone());
    let observed_volume = engine.inspect_volume(volume).await?;
    if let Some(foreign) = observed_volume.as_ref().filter(|volume| !volume.is_ours()) {
        bail!(
            "volume `{volume}` was not created by nelo (it has no `{MANAGED_LABEL}` label; {}): \
             nelo never removes a volume it did not create, so nothing was removed; it may hold \
             another tool's data: remove it yourself with `docker volume rm {volume}` only if \
             you are sure{}",
            foreign.describe(),
            if observed.is_some() {
                format!(", and the container alone with `docker rm --force {container}`")
            } else {
                String::new()
            }
        );
    }
    let volume_exists = observed_volume.is_some();
    if observed.is_none() && !volume_exists {
        ui::step(format!(
            "neither container `{container}` nor volume `{volume}` exists"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if !args.force {
        let running = observed.as_ref().is_some_and(|observed| observed.running);
        let mut lost = Vec::new();
        if observed.is_some() {
            lost.push(format!("container `{container}`"));
        }
        if volume_exists {
            lost.push(format!("volume `{volume}` with all its data"));
        }
        eprintln!("`db destroy` would remove {}", lost.join(" and "));
        if running {
            match database_sizes(ctx).await {
                Ok(sizes) => {
                    for (name, size) in sizes {
                        eprintln!("  - database `{name}` ({size})");
                    }
                }
                Err(error) => eprintln!("  (cannot list the databases: {error})"),
            }
        }
        bail!(
            "refusing to destroy without --force: run `cargo xtask db destroy --force` (take a \
             `cargo xtask db backup` first if the data matters)"
        );
    }
    if engine.remove_container(container).await? {
        ui::step(format!("removed container `{container}`"));
    }
    if engine.remove_volume(volume).await? {
        ui::step(format!("removed volume `{volume}`"));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every database of the server and its size, as PostgreSQL prints it.
async fn database_sizes(ctx: &Context) -> anyhow::Result<Vec<(String, String)>> {
    let mut conn =
        postgres::connect_maintenance(&ctx.config.database_url, postgres::PROBE_TIMEOUT).await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT datname::text, pg_size_pretty(pg_database_size(datname)) FROM pg_database \
         WHERE NOT datistemplate ORDER BY datname",
    )
    .fetch_all(&mut conn)
    .await?;
    Ok(rows)
}
