//! `cargo xtask db up`: PostgreSQL + pgvector in Docker, the development and test databases
//! with `vector` installed and every migration applied. Every step converges, so a second run
//! with nothing to do only checks and says so.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::context::Context;
use crate::docker::{self, Engine};
use crate::spec::{self, ContainerSpec, Decision};
use crate::{server, ui};

/// Set by the integration tests to the pid of the test process; see [`spec::TEST_RUN_LABEL`].
const TEST_RUN_PID_VAR: &str = "NELO_TEST_RUN_PID";

/// How long a new container may take to initialise its data directory and start.
const CREATE_DEADLINE: Duration = Duration::from_secs(90);
/// How long an existing container may take to start (crash recovery included).
const START_DEADLINE: Duration = Duration::from_secs(60);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Load Nelo's demo data into the development database afterwards.
    #[arg(long)]
    seed: bool,
    /// Skip the backup taken before migrations are applied to a database holding data.
    #[arg(long)]
    no_backup: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = &ctx.config;
    if !config.database_url.is_local() {
        bail!(
            "DATABASE_URL points at `{}`, not this machine: `db up` runs PostgreSQL locally in \
             Docker; point DATABASE_URL at localhost",
            config.database_url.host()
        );
    }
    let engine = docker::connect().await?;
    let mut spec = spec::container_spec(config);
    // Integration tests mark what they create, so that `cargo xtask test` can sweep it up when
    // a test process is killed before its cleanup runs.
    if let Ok(pid) = std::env::var(TEST_RUN_PID_VAR) {
        spec.labels.insert(spec::TEST_RUN_LABEL.to_string(), pid);
    }
    let mut changed = ensure_container(ctx, &engine, &spec).await?;

    let backup_with = (!args.no_backup).then_some(&engine);
    for url in [&config.database_url, &config.test_database_url] {
        changed |= super::ensure_database_ready(ctx, backup_with, url).await?;
    }
    if args.seed {
        super::seed::seed_target(ctx, &config.database_url)
            .await
            .with_context(|| format!("cannot seed `{}`", config.database_url.database()))?;
        changed = true;
    }

    if !changed {
        ui::step(format!(
            "nothing to do: `{}` is running and `{}` and `{}` are up to date",
            spec.name,
            config.database_url.database(),
            config.test_database_url.database()
        ));
    }
    ui::note(format!("DATABASE_URL={}", config.database_url.redacted()));
    ui::note(format!(
        "TEST_DATABASE_URL={}",
        config.test_database_url.redacted()
    ));
    ui::note("`cargo xtask db psql` opens psql; `cargo xtask db down` stops the server");
    Ok(ExitCode::SUCCESS)
}

/// Creates, starts or keeps the container, then waits until the development database answers;
/// returns whether anything was done.
async fn ensure_container(
    ctx: &Context,
    engine: &Engine,
    spec: &ContainerSpec,
) -> anyhow::Result<bool> {
    let observed = engine.inspect_container(&spec.name).await?;
    let decision = spec::decide(spec, observed.as_ref());
    if let Some(observed) = &observed {
        for difference in spec::differences(spec, observed) {
            if difference.what == "the image" {
                ui::warn(format!(
                    "container `{}`: {difference}; keeping it",
                    spec.name
                ));
            }
        }
    }
    let url = &ctx.config.database_url;
    let deadline = match &decision {
        Decision::AlreadyRunning => return Ok(false),
        Decision::NotOurs => bail!(
            "a container named `{}` exists but was not created by nelo (it has no `{}` label); \
             nelo will not touch it: remove or rename it, or set NELO_PG_CONTAINER to another name",
            spec.name,
            spec::MANAGED_LABEL
        ),
        Decision::Conflicting(differences) => {
            let list: Vec<String> = differences.iter().map(|d| format!("  - {d}")).collect();
            bail!(
                "container `{}` does not match the configuration:\n{}\nput the configuration \
                 back, or recreate the container with `cargo xtask db destroy --force` (this \
                 deletes its data; `cargo xtask db backup` first)",
                spec.name,
                list.join("\n")
            )
        }
        Decision::Create => {
            server::ensure_port_free(spec.host_port)?;
            server::ensure_image(ctx, engine, &spec.image).await?;
            server::create_and_start(engine, spec).await?;
            ui::step(format!(
                "created container `{}` from `{}`, data in volume `{}`",
                spec.name, spec.image, ctx.config.volume
            ));
            CREATE_DEADLINE
        }
        Decision::Start => {
            server::ensure_port_free(spec.host_port)?;
            server::start(engine, spec).await?;
            ui::step(format!("started container `{}`", spec.name));
            START_DEADLINE
        }
    };
    let started = Instant::now();
    let bar = ui::spinner(format!(
        "waiting for PostgreSQL on 127.0.0.1:{}",
        spec.host_port
    ));
    let ready =
        server::wait_ready(engine, &spec.name, &url.with_database("postgres"), deadline).await;
    if let Err(error) = ready {
        ui::failed(&bar);
        if decision == Decision::Create {
            // A container that never started keeps nothing worth keeping; a rerun with a fixed
            // configuration creates it anew (the volume stays).
            let _ = engine.remove_container(&spec.name).await;
        }
        return Err(error);
    }
    ui::done(
        &bar,
        format!(
            "PostgreSQL is ready on 127.0.0.1:{} ({:.1} s)",
            spec.host_port,
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(true)
}
