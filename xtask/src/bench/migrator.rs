//! `cargo xtask bench migrator`: the `nelo-migrate` image's size beside the published sizes of
//! other migrators' images, and a no-op deploy (a database already up to date) from start to
//! exit as `docker run --rm nelo-migrate deploy` against the `nelo-migrate deploy` binary run
//! directly, alternating, in the same run, on the same scratch database; and the floor of any
//! container, `docker run --rm nelo-migrate --version`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::process::Command;

use super::scratch::{create_scratch, drop_scratch, server_url};
use crate::bench::machine::{Machine, load_average};
use crate::bench::stats::{Ms, Summary};
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::{docker, ui};

/// Published sizes of other migrators' images, as issue 20 cites them (not measured here).
const ANCHORS: &[(&str, &str)] = &[
    ("Flyway (`flyway/flyway`)", "591 MB"),
    ("Liquibase (`liquibase/liquibase`)", "434 MB"),
    (
        "Prisma Migrate (no image: Node plus the Prisma CLI)",
        "65-200 MB",
    ),
];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Superuser URL of the server's `postgres` database, reachable from a container on the
    /// host network at the same address [default: $NELO_TEST_SERVER_URL]
    #[arg(long, env = "NELO_BENCH_SERVER_URL", hide_env_values = true)]
    server_url: Option<String>,
    /// The image to measure (`cargo xtask image migrator` builds it)
    #[arg(long, default_value = "nelo-migrate:latest")]
    image: String,
    /// The binary run directly [default: built with `cargo build --release`, the one the
    /// image is built from]
    #[arg(long, value_name = "PATH")]
    nelo_migrate: Option<PathBuf>,
    /// Runs of each, alternating (after one unmeasured run of each)
    #[arg(long, default_value_t = 15)]
    iterations: usize,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.iterations > 0, "`--iterations` must be at least 1");
    let server = server_url(args.server_url.as_deref())?;
    let engine = docker::connect().await?;
    let Some(image) = engine.inspect_image(&args.image).await? else {
        bail!(
            "there is no image `{}`: build it with `cargo xtask image migrator`",
            args.image
        );
    };
    let docker_cli = which::which("docker").context("the measurement runs the docker CLI")?;
    let binary = match &args.nelo_migrate {
        Some(path) => path.clone(),
        None => crate::image::migrator_release_binary(&ctx.root).await?,
    };
    let mut admin = crate::postgres::connect(&server, ctx.config.connect_timeout).await?;
    let (name, url) = create_scratch(&mut admin, &server).await?;
    let outcome = measure(
        &args,
        &docker_cli,
        &binary,
        &ctx.config.migrations_dir,
        &url,
    )
    .await;
    drop_scratch(&mut admin, &name).await?;
    let (machine, samples, load_at_end) = outcome?;
    print_report(&args, &image, &binary, &machine, &samples, &load_at_end);
    Ok(ExitCode::SUCCESS)
}

struct Samples {
    image: Vec<Duration>,
    direct: Vec<Duration>,
    /// `docker run --rm IMAGE --version`: what a container costs with no database work.
    floor: Vec<Duration>,
}

async fn measure(
    args: &Args,
    docker_cli: &Path,
    binary: &Path,
    migrations: &Path,
    url: &DatabaseUrl,
) -> anyhow::Result<(Machine, Samples, String)> {
    let in_docker = |command_args: &[&str]| {
        let mut command = Command::new(docker_cli);
        command
            .args(["run", "--rm", "--network", "host", "--read-only"])
            .args(["-e", "DATABASE_URL"])
            .arg(&args.image)
            .args(command_args)
            .env("DATABASE_URL", url.as_str());
        command
    };
    let direct = || {
        let mut command = Command::new(binary);
        command
            .arg("deploy")
            .arg("--migrations")
            .arg(migrations)
            .env("DATABASE_URL", url.as_str());
        command
    };
    // Brings the database up to date, then warms both paths once.
    let bar = ui::spinner("deploying, then one unmeasured run of each");
    timed(direct()).await?;
    timed(in_docker(&["deploy"])).await?;
    ui::clear(&bar);

    let machine = Machine::now();
    let mut samples = Samples {
        image: Vec::new(),
        direct: Vec::new(),
        floor: Vec::new(),
    };
    for iteration in 0..args.iterations {
        let bar = ui::spinner(format!("iteration {}/{}", iteration + 1, args.iterations));
        // Alternate which goes first, so neither always follows the other.
        if iteration % 2 == 0 {
            samples.image.push(timed(in_docker(&["deploy"])).await?);
            samples.direct.push(timed(direct()).await?);
        } else {
            samples.direct.push(timed(direct()).await?);
            samples.image.push(timed(in_docker(&["deploy"])).await?);
        }
        samples.floor.push(timed(in_docker(&["--version"])).await?);
        ui::clear(&bar);
    }
    Ok((machine, samples, load_average()))
}

/// Runs the command to its end; how long it took, or its failure with stderr.
async fn timed(mut command: Command) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = command
        .output()
        .await
        .context("cannot run a measured step")?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            command.as_std().get_program(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(elapsed)
}

fn print_report(
    args: &Args,
    image: &docker::ImageFacts,
    binary: &Path,
    machine: &Machine,
    samples: &Samples,
    load_at_end: &str,
) {
    let label = |key: &str| {
        image
            .labels
            .get(&format!("org.opencontainers.image.{key}"))
            .map_or("?", String::as_str)
    };
    println!("### Image size");
    println!();
    println!(
        "`{}` · version {} · revision {} · built {}",
        args.image,
        label("version"),
        label("revision"),
        label("created")
    );
    println!();
    println!("| Image | Size | Where the figure comes from |");
    println!("|---|---:|---|");
    println!(
        "| `{}` | {:.1} MB | measured: `docker image inspect` size (uncompressed) |",
        args.image,
        image.size as f64 / 1e6
    );
    for (name, size) in ANCHORS {
        println!("| {name} | {size} | published figure cited in issue 20, not measured here |");
    }
    println!();
    println!("### A no-op deploy from start to exit");
    println!();
    println!(
        "{machine}, {load_at_end} at the end · {} runs of each, alternating, after one \
         unmeasured run of each · a scratch database with Nelo's migrations applied · the \
         binary `{}`",
        args.iterations,
        binary.display()
    );
    println!();
    println!("| Command | median | p95 | min |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, samples: &[Duration]| {
        let summary = Summary::of(samples);
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} |",
            Ms(summary.median),
            Ms(summary.p95),
            Ms(summary.min)
        );
    };
    row(
        &format!(
            "`docker run --rm --network host --read-only {} deploy`",
            args.image
        ),
        &samples.image,
    );
    row(
        "reference: `nelo-migrate deploy` run directly",
        &samples.direct,
    );
    row(
        &format!(
            "floor: `docker run --rm --network host --read-only {} --version` (no database)",
            args.image
        ),
        &samples.floor,
    );
    let image_median = Summary::of(&samples.image).median;
    let direct_median = Summary::of(&samples.direct).median;
    println!();
    println!(
        "The container costs {:.0} more at the median ({:.1}x the binary run directly); \
         starting and removing a container with no database work costs {:.0}.",
        Ms(image_median.saturating_sub(direct_median)),
        image_median.as_secs_f64() / direct_median.as_secs_f64().max(f64::EPSILON),
        Ms(Summary::of(&samples.floor).median)
    );
}
