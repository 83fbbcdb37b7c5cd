//! `cargo xtask db up`: PostgreSQL + pgvector in Docker, the development and test databases
//! with `vector` installed and every migration applied. Every step converges, so a second run
//! with nothing to do only checks and says so. A volume nelo did not create is used only with
//! `--adopt-volume`; a volume of nelo's that holds an interrupted first start (no data) is
//! recreated; a refused password is explained against what the volume was initialised with.

mod credentials;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::context::Context;
use crate::decision::{self, Decision, Field, Health, VolumeDecision};
use crate::docker::{self, Engine};
use crate::spec::{self, ContainerSpec};
use crate::workflow::database::{ensure_database_ready, seed_target};
use crate::{server, ui};

/// Set by the integration tests to the pid of the test process; see [`spec::TEST_RUN_LABEL`].
const TEST_RUN_PID_VAR: &str = "NELO_TEST_RUN_PID";

/// How long a new container may take to initialise its data directory and start.
const CREATE_DEADLINE: Duration = Duration::from_secs(90);
/// How long a container another `db up` is creating may take to appear.
const APPEAR_DEADLINE: Duration = Duration::from_secs(30);
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
    /// Use the data volume (NELO_PG_VOLUME) although nelo did not create it; nelo will never
    /// remove it.
    #[arg(long)]
    adopt_volume: bool,
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
    match converge(ctx, &engine, &spec, &args).await {
        Err(error) if credentials::is_password_refusal(&error) => {
            let volume = spec.volume().unwrap_or_default();
            match credentials::explain(&engine, &spec.name, volume, &config.database_url).await {
                Some(hint) => Err(error.context(hint)),
                None => Err(error),
            }
        }
        result => result,
    }
}

async fn converge(
    ctx: &Context,
    engine: &Engine,
    spec: &ContainerSpec,
    args: &Args,
) -> anyhow::Result<ExitCode> {
    let config = &ctx.config;
    let mut changed = ensure_container(ctx, engine, spec, args.adopt_volume).await?;

    let backup_with = (!args.no_backup).then_some(engine);
    for url in [&config.database_url, &config.test_database_url] {
        changed |= ensure_database_ready(ctx, backup_with, url).await?;
    }
    // Diff shadows and drift checks clone it: built here by the superuser, `vector` included.
    let template = nelo_migrate::template::ensure_folder_template(
        &config.database_url,
        nelo_migrate::postgres::CONNECT_TIMEOUT,
        &config.migrations_dir,
    );
    let template = template
        .await
        .context("cannot build the template of the migrations")?;
    if template.built != nelo_migrate::template::Built::Existing {
        ui::step(format!("built `{}` for diff shadows", template.name));
        changed = true;
    }
    if args.seed {
        seed_target(ctx, &config.database_url)
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

/// Creates, starts or keeps the container, then waits until the server answers; returns
/// whether anything was done.
async fn ensure_container(
    ctx: &Context,
    engine: &Engine,
    spec: &ContainerSpec,
    adopt_volume: bool,
) -> anyhow::Result<bool> {
    let observed = engine.inspect_container(&spec.name).await?;
    let decision = decision::decide(spec, observed.as_ref());
    if let Some(observed) = &observed {
        for difference in decision::differences(spec, observed) {
            if difference.field == Field::Image {
                ui::warn(format!(
                    "container `{}`: {difference}; keeping it",
                    spec.name
                ));
            }
        }
    }
    let deadline = match &decision {
        // Started by another `db up` a moment ago, the server may still be initialising.
        Decision::AlreadyRunning
            if observed.as_ref().and_then(|o| o.health) == Some(Health::Starting) =>
        {
            wait_until_ready(ctx, engine, spec, CREATE_DEADLINE).await?;
            return Ok(false);
        }
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
            ensure_volume_usable(engine, spec, adopt_volume).await?;
            match create(ctx, engine, spec).await {
                Ok(true) => CREATE_DEADLINE,
                Ok(false) => return join_created_meanwhile(ctx, engine, spec).await,
                // Its port taken by the container another `db up` just started.
                Err(error) if created_meanwhile(engine, spec).await => {
                    drop(error);
                    return join_created_meanwhile(ctx, engine, spec).await;
                }
                Err(error) => return Err(error),
            }
        }
        Decision::Start => {
            server::ensure_port_free(spec.host_port)?;
            server::start(engine, spec).await?;
            ui::step(format!("started container `{}`", spec.name));
            START_DEADLINE
        }
    };
    let Err(error) = wait_until_ready(ctx, engine, spec, deadline).await else {
        return Ok(true);
    };
    if stopped_on_interrupted_initialisation(engine, &spec.name).await {
        recreate_interrupted_volume(ctx, engine, spec).await?;
        if let Err(error) = wait_until_ready(ctx, engine, spec, CREATE_DEADLINE).await {
            return Err(remove_failed(engine, spec, error).await);
        }
        return Ok(true);
    }
    if decision == Decision::Create && !credentials::is_password_refusal(&error) {
        return Err(remove_failed(engine, spec, error).await);
    }
    Err(error.context("`cargo xtask db logs` shows the server's whole log"))
}

/// A volume nelo did not create is used only when the user says so, and never silently.
async fn ensure_volume_usable(
    engine: &Engine,
    spec: &ContainerSpec,
    adopt_volume: bool,
) -> anyhow::Result<()> {
    let Some(volume) = spec.volume() else {
        return Ok(());
    };
    let observed = engine.inspect_volume(volume).await?;
    match decision::decide_volume(observed.as_ref(), adopt_volume) {
        VolumeDecision::Create | VolumeDecision::UseOurs => Ok(()),
        VolumeDecision::Adopt => {
            let found = observed.expect("adopting an existing volume").describe();
            ui::warn(format!(
                "adopting volume `{volume}`, which nelo did not create ({found}): PostgreSQL \
                 uses what it holds as its data directory, and nelo will never remove it"
            ));
            Ok(())
        }
        VolumeDecision::NotOurs => bail!(
            "volume `{volume}` exists but was not created by nelo (it has no `{}` label; {}): \
             it may hold another tool's data, so nelo does not use it on its own: pass \
             --adopt-volume to use it as PostgreSQL's data directory (nelo will then never \
             remove it), or set NELO_PG_VOLUME to another name",
            spec::MANAGED_LABEL,
            observed.expect("a foreign volume exists").describe()
        ),
    }
}

/// Creates and starts the container; returns whether this run created it (`false`: another
/// `db up` created it at the same moment).
async fn create(ctx: &Context, engine: &Engine, spec: &ContainerSpec) -> anyhow::Result<bool> {
    server::ensure_port_free(spec.host_port)?;
    server::ensure_image(ctx, engine, &spec.image).await?;
    let created = server::create_and_start(engine, spec).await?;
    if created {
        ui::step(format!(
            "created container `{}` from `{}`, data in volume `{}`",
            spec.name, spec.image, ctx.config.volume
        ));
    }
    Ok(created)
}

/// Whether nelo's container exists now although it did not when this run decided to create
/// it: another `db up` (another terminal) created it in the meantime.
async fn created_meanwhile(engine: &Engine, spec: &ContainerSpec) -> bool {
    matches!(
        engine.inspect_container(&spec.name).await,
        Ok(Some(observed))
            if matches!(decision::decide(spec, Some(&observed)), Decision::AlreadyRunning | Decision::Start)
    )
}

/// Another `db up` created the container at the same moment: both converge on it. It is
/// started (a no-op when it runs) and waited for; it is never removed from here, since this
/// run did not create it.
async fn join_created_meanwhile(
    ctx: &Context,
    engine: &Engine,
    spec: &ContainerSpec,
) -> anyhow::Result<bool> {
    ui::note(format!(
        "container `{}` was created by another `db up` at the same moment; using it",
        spec.name
    ));
    // Docker reserves the name (409) before the container can be inspected or started.
    let appeared = Instant::now();
    while engine.inspect_container(&spec.name).await?.is_none() {
        if appeared.elapsed() > APPEAR_DEADLINE {
            bail!(
                "container `{}` was being created by another process but never appeared; run \
                 `cargo xtask db up` again",
                spec.name
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server::start(engine, spec).await?;
    wait_until_ready(ctx, engine, spec, CREATE_DEADLINE)
        .await
        .context("`cargo xtask db logs` shows the server's whole log")?;
    Ok(false)
}

/// Waits until the development database's server answers, with a spinner.
async fn wait_until_ready(
    ctx: &Context,
    engine: &Engine,
    spec: &ContainerSpec,
    deadline: Duration,
) -> anyhow::Result<()> {
    let url = crate::postgres::maintenance_url(&ctx.config.database_url);
    let started = Instant::now();
    let bar = ui::spinner(format!(
        "waiting for PostgreSQL on 127.0.0.1:{}",
        spec.host_port
    ));
    match server::wait_ready(engine, &spec.name, &url, deadline).await {
        Ok(_conn) => {
            ui::done(
                &bar,
                format!(
                    "PostgreSQL is ready on 127.0.0.1:{} ({:.1} s)",
                    spec.host_port,
                    started.elapsed().as_secs_f64()
                ),
            );
            Ok(())
        }
        Err(error) => {
            ui::failed(&bar);
            Err(error)
        }
    }
}

/// Whether the container stopped because its volume holds an interrupted first start.
async fn stopped_on_interrupted_initialisation(engine: &Engine, container: &str) -> bool {
    let Ok(Some(observed)) = engine.inspect_container(container).await else {
        return false;
    };
    if observed.running {
        return false;
    }
    let log = engine.log_tail(container, 10).await.unwrap_or_default();
    decision::is_interrupted_initialisation(observed.exit_code, &log)
}

/// Replaces a volume of nelo's that holds only an interrupted initialisation (no server
/// ever ran on it, so no data) with a new one, and starts the container on it.
async fn recreate_interrupted_volume(
    ctx: &Context,
    engine: &Engine,
    spec: &ContainerSpec,
) -> anyhow::Result<()> {
    let volume = spec.volume().context("`db up`'s container has a volume")?;
    let ours = engine
        .inspect_volume(volume)
        .await?
        .is_some_and(|observed| observed.is_ours());
    if !ours {
        let _ = engine.remove_container(&spec.name).await;
        bail!(
            "volume `{volume}` holds an interrupted first initialisation (initdb never finished \
             and no server ran on it, so it holds no data), but nelo did not create it and will \
             not remove it: remove it yourself with `docker volume rm {volume}`, or set \
             NELO_PG_VOLUME to another name"
        );
    }
    ui::warn(format!(
        "volume `{volume}` holds a first start that was interrupted: initdb never finished and \
         no server ran on it, so it holds no data; recreating it"
    ));
    engine.remove_container(&spec.name).await?;
    engine.remove_volume(volume).await?;
    create(ctx, engine, spec).await.map(|_| ())
}

/// A container that never started keeps nothing worth keeping: it is removed (the volume
/// stays), and the error says so.
async fn remove_failed(
    engine: &Engine,
    spec: &ContainerSpec,
    error: anyhow::Error,
) -> anyhow::Error {
    match engine.remove_container(&spec.name).await {
        Ok(_) => error.context(format!(
            "container `{}` never became ready and was removed (its volume stays); fix the \
             cause shown below and run `cargo xtask db up` again",
            spec.name
        )),
        Err(_) => error.context("`cargo xtask db logs` shows the server's whole log"),
    }
}
