//! `cargo xtask bench up`: `db up` from nothing (image present) to both databases migrated,
//! the no-op `db up`, and the restart after `db down`, against the hand-made reference:
//! `docker run` + `psql` creating the same databases and extension, and `docker start` +
//! readiness. Each iteration uses its own container, volume and port; the two sides alternate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::process::Command;

use crate::bench::machine::Machine;
use crate::bench::stats::{Ms, Summary};
use crate::context::Context;
use crate::{docker, server, ui};

const PASSWORD: &str = "bench";
/// How often the reference polls with `psql` while the server starts.
const POLL: Duration = Duration::from_millis(20);
const READY_DEADLINE: Duration = Duration::from_secs(120);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Iterations of each scenario.
    #[arg(long, default_value_t = 5)]
    iterations: usize,
}

#[derive(Default)]
struct Samples {
    cold: Vec<Duration>,
    noop: Vec<Duration>,
    restart: Vec<Duration>,
    raw_cold: Vec<Duration>,
    raw_restart: Vec<Duration>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.iterations > 0, "`--iterations` must be at least 1");
    let docker_cli = which::which("docker").context("the reference needs the docker CLI")?;
    let psql = which::which("psql").context("the reference needs the psql client on the host")?;
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;
    let image = ctx.config.image.clone();
    let engine = docker::connect().await?;
    server::ensure_image(ctx, &engine, &image).await?;
    let backups = tempfile::tempdir()?;

    let machine = Machine::now();
    let mut samples = Samples::default();
    for iteration in 1..=args.iterations {
        let bar = ui::spinner(format!("iteration {iteration}/{}", args.iterations));
        let id = uuid::Uuid::new_v4().simple().to_string();
        let nelo = Sandbox::new(&format!("nelo_bench_up_{}", &id[..8]))?;
        let result = measure_nelo(&xtask, &nelo, &image, backups.path(), &mut samples).await;
        nelo.remove(&engine).await;
        result?;
        let raw = Sandbox::new(&format!("nelo_bench_raw_{}", &id[..8]))?;
        let result = measure_raw(&docker_cli, &psql, &raw, &image, &mut samples).await;
        raw.remove(&engine).await;
        result?;
        ui::clear(&bar);
    }
    print_report(&machine, &xtask, &image, args.iterations, &samples);
    Ok(ExitCode::SUCCESS)
}

struct Sandbox {
    name: String,
    volume: String,
    port: u16,
}

impl Sandbox {
    fn new(name: &str) -> anyhow::Result<Sandbox> {
        Ok(Sandbox {
            name: name.to_string(),
            volume: format!("{name}_data"),
            port: server::free_port()?,
        })
    }

    fn url(&self, database: &str) -> String {
        format!(
            "postgresql://nelo:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    async fn remove(&self, engine: &docker::Engine) {
        let _ = engine.remove_container(&self.name).await;
        let _ = engine.remove_volume(&self.volume).await;
    }
}

async fn measure_nelo(
    xtask: &Path,
    sandbox: &Sandbox,
    image: &str,
    backups: &Path,
    samples: &mut Samples,
) -> anyhow::Result<()> {
    let db = |args: &[&str]| {
        let mut command = Command::new(xtask);
        command
            .arg("db")
            .args(args)
            .env("DATABASE_URL", sandbox.url("nelo"))
            .env("TEST_DATABASE_URL", sandbox.url("nelo_test"))
            .env("NELO_PG_IMAGE", image)
            .env("NELO_PG_CONTAINER", &sandbox.name)
            .env("NELO_PG_VOLUME", &sandbox.volume)
            .env("NELO_BACKUP_DIR", backups);
        command
    };
    samples.cold.push(timed(db(&["up"])).await?);
    samples.noop.push(timed(db(&["up"])).await?);
    timed(db(&["down"])).await?;
    samples.restart.push(timed(db(&["up"])).await?);
    Ok(())
}

async fn measure_raw(
    docker_cli: &Path,
    psql: &Path,
    sandbox: &Sandbox,
    image: &str,
    samples: &mut Samples,
) -> anyhow::Result<()> {
    let docker = |args: &[&str]| {
        let mut command = Command::new(docker_cli);
        command.args(args);
        command
    };
    let psql_on = |database: &str, sql: &str| {
        let mut command = Command::new(psql);
        command
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .arg(sandbox.url(database));
        command
    };
    let started = Instant::now();
    let publish = format!("127.0.0.1:{}:5432", sandbox.port);
    let mount = format!("{}:/var/lib/postgresql/data", sandbox.volume);
    #[rustfmt::skip]
    let run = docker(&[
        "run", "-d", "--name", &sandbox.name, "-p", &publish, "-v", &mount,
        "-e", "POSTGRES_USER=nelo", "-e", &format!("POSTGRES_PASSWORD={PASSWORD}"),
        "-e", "POSTGRES_DB=nelo", image,
    ]);
    timed(run).await?;
    wait_for_psql(&psql_on, "nelo").await?;
    timed(psql_on("postgres", "CREATE DATABASE nelo_test")).await?;
    for database in ["nelo", "nelo_test"] {
        timed(psql_on(database, "CREATE EXTENSION IF NOT EXISTS vector")).await?;
    }
    samples.raw_cold.push(started.elapsed());

    timed(docker(&["stop", &sandbox.name])).await?;
    let started = Instant::now();
    timed(docker(&["start", &sandbox.name])).await?;
    wait_for_psql(&psql_on, "nelo").await?;
    samples.raw_restart.push(started.elapsed());
    Ok(())
}

/// Polls with `psql -c 'SELECT 1'` until it succeeds, as a script would.
async fn wait_for_psql(
    psql_on: &impl Fn(&str, &str) -> Command,
    database: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let output = psql_on(database, "SELECT 1").output().await?;
        if output.status.success() {
            return Ok(());
        }
        if started.elapsed() > READY_DEADLINE {
            bail!(
                "the reference server did not answer: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Runs the command to its end and returns how long it took; a failure carries its stderr.
async fn timed(mut command: Command) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = command
        .output()
        .await
        .context("cannot run a benchmark step")?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            command.as_std(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(elapsed)
}

fn print_report(
    machine: &Machine,
    xtask: &Path,
    image: &str,
    iterations: usize,
    samples: &Samples,
) {
    let ms = |duration: Duration| format!("{:.0}", Ms(duration));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let binary: PathBuf = xtask.to_path_buf();
    println!("### `db up`");
    println!();
    println!(
        "{machine} · binary `{}` ({profile}) · image `{image}` · {iterations} iterations; \
         median and p95",
        binary.display()
    );
    println!();
    println!(
        "| scenario | nelo median | nelo p95 | reference | ref median | ref p95 | ratio | target |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let row = |scenario: &str,
               ours: &[Duration],
               reference: &str,
               theirs: Option<&[Duration]>,
               target: &str| {
        let Summary { median, p95, .. } = Summary::of(ours);
        let (ref_median, ref_p95, ratio) = match theirs {
            Some(theirs) => {
                let reference = Summary::of(theirs);
                let ratio = median.as_secs_f64() / reference.median.as_secs_f64().max(f64::EPSILON);
                (
                    ms(reference.median),
                    ms(reference.p95),
                    format!("{ratio:.2}x"),
                )
            }
            None => ("-".to_string(), "-".to_string(), "-".to_string()),
        };
        println!(
            "| {scenario} | {} | {} | {reference} | {ref_median} | {ref_p95} | {ratio} | {target} |",
            ms(median),
            ms(p95)
        );
    };
    row(
        "cold: `db up` from nothing to both databases migrated",
        &samples.cold,
        "`docker run` + `psql`: wait, create `nelo_test`, `vector` in both",
        Some(&samples.raw_cold),
        "≤ 1.25x",
    );
    row("no-op: `db up` again", &samples.noop, "-", None, "< 300 ms");
    row(
        "restart: `db up` after `db down`",
        &samples.restart,
        "`docker start` + `psql` readiness",
        Some(&samples.raw_restart),
        "≤ 1.25x",
    );
}
