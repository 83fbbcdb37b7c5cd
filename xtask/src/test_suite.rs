//! `cargo xtask test`: the whole suite against a throwaway PostgreSQL container on a free port,
//! with its data in memory; the container goes away afterwards, also on failure or Ctrl-C, and
//! leftovers of killed runs are swept up before starting.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::{self, Engine, LabelledResource};
use crate::spec::{self, TEST_RUN_LABEL};
use crate::{os, server, ui};

/// How long the throwaway server may take to initialise and start.
const READY_DEADLINE: Duration = Duration::from_secs(90);
/// Resources of a run older than this are leftovers even if their pid was reused.
const STALE_AFTER: Duration = Duration::from_secs(2 * 60 * 60);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Extra arguments for `cargo test` (after `--`).
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let engine = docker::connect().await?;
    sweep_leftovers(&engine).await?;
    let image = &ctx.config.image;
    server::ensure_image(ctx, &engine, image).await?;

    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("nelo_test_{}", &suffix[..12]);
    let password = uuid::Uuid::new_v4().simple().to_string();
    let port = server::free_port()?;
    let spec = spec::test_container_spec(&name, image, port, &password, std::process::id());
    let server_url = DatabaseUrl::parse(&format!(
        "postgresql://postgres:{password}@127.0.0.1/postgres"
    ))?
    .with_port(port);

    let outcome = run_suite(ctx, &engine, &spec, &server_url, &args.cargo_args).await;
    if engine.remove_container(&name).await.is_ok() {
        ui::step(format!("removed test container `{name}`"));
    } else {
        ui::warn(format!(
            "could not remove test container `{name}`; the next run sweeps it up"
        ));
    }
    // What killed tests left behind (their pid is gone by now).
    if let Err(error) = sweep_leftovers(&engine).await {
        ui::warn(format!(
            "cannot sweep up leftovers of killed tests: {error:#}"
        ));
    }
    outcome
}

/// Starts the server, then runs `cargo test --workspace` against it; Ctrl-C kills the tests
/// and returns so that the caller cleans up.
async fn run_suite(
    ctx: &Context,
    engine: &Engine,
    spec: &spec::ContainerSpec,
    server_url: &DatabaseUrl,
    cargo_args: &[String],
) -> anyhow::Result<ExitCode> {
    let bar = ui::spinner(format!(
        "starting test server `{}` on 127.0.0.1:{}",
        spec.name, spec.host_port
    ));
    let started = async {
        server::create_and_start(engine, spec).await?;
        server::wait_ready(engine, &spec.name, server_url, READY_DEADLINE).await
    };
    let started = tokio::select! {
        started = started => started,
        _ = tokio::signal::ctrl_c() => {
            ui::failed(&bar);
            ui::warn("interrupted");
            return Ok(ExitCode::from(130));
        }
    };
    match started {
        Ok(_conn) => ui::done(
            &bar,
            format!("test server `{}` is ready on {server_url}", spec.name),
        ),
        Err(error) => {
            ui::failed(&bar);
            return Err(error.context("cannot start the test server"));
        }
    }

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = tokio::process::Command::new(cargo)
        .args(["test", "--workspace"])
        .args(cargo_args)
        .current_dir(&ctx.root)
        .env("NELO_TEST_SERVER_URL", server_url.as_str())
        .env("NELO_TEST_IMAGE", &spec.image)
        .kill_on_drop(true)
        .spawn()
        .context("cannot run `cargo test`")?;
    tokio::select! {
        status = child.wait() => {
            let status = status.context("cannot wait for `cargo test`")?;
            Ok(ExitCode::from(status.code().map_or(1, |code| code.clamp(0, 255) as u8)))
        }
        _ = tokio::signal::ctrl_c() => {
            let _ = child.kill().await;
            ui::warn("interrupted; removing the test server");
            Ok(ExitCode::from(130))
        }
    }
}

/// Removes containers and volumes of earlier runs that were killed before cleaning up.
async fn sweep_leftovers(engine: &Engine) -> anyhow::Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    for container in engine.containers_labelled(TEST_RUN_LABEL).await? {
        if is_leftover(&container, now, os::is_alive) {
            engine.remove_container(&container.name).await?;
            ui::note(format!(
                "removed `{}`, left over by an earlier test run",
                container.name
            ));
        }
    }
    for volume in engine.volumes_labelled(TEST_RUN_LABEL).await? {
        if is_leftover(&volume, now, os::is_alive)
            && engine.remove_volume(&volume.name).await.is_ok()
        {
            ui::note(format!(
                "removed volume `{}`, left over by an earlier test run",
                volume.name
            ));
        }
    }
    Ok(())
}

/// A test resource is a leftover when the run that made it is gone or it is older than
/// [`STALE_AFTER`].
fn is_leftover(resource: &LabelledResource, now_unix: i64, alive: impl Fn(u32) -> bool) -> bool {
    let run_pid = resource
        .labels
        .get(TEST_RUN_LABEL)
        .and_then(|pid| pid.parse::<u32>().ok());
    let too_old = resource
        .created_unix
        .is_some_and(|created| now_unix - created > STALE_AFTER.as_secs() as i64);
    match run_pid {
        Some(pid) => too_old || !alive(pid),
        None => too_old,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn resource(pid: &str, created: Option<i64>) -> LabelledResource {
        LabelledResource {
            name: "nelo_test_x".to_string(),
            labels: BTreeMap::from([(TEST_RUN_LABEL.to_string(), pid.to_string())]),
            created_unix: created,
        }
    }

    #[test]
    fn resources_of_a_gone_run_are_leftovers() {
        assert!(is_leftover(&resource("41", Some(1000)), 1010, |_| false));
        assert!(!is_leftover(&resource("41", Some(1000)), 1010, |_| true));
    }

    #[test]
    fn resources_older_than_two_hours_are_leftovers_even_if_the_pid_lives() {
        assert!(is_leftover(&resource("41", Some(0)), 3 * 3600, |_| true));
    }
}
