//! `cargo xtask bench status`: `nelo-migrate status` on a history of 10,000 applied migrations,
//! wall and CPU time of the process, against another `nelo-migrate` binary (a build of an
//! earlier commit) run interleaved with it on the same database.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::machine::{self, Machine};
use super::scratch::{create_scratch, drop_scratch, server_url};
use super::stats::{Ms, Summary};
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::ui;

/// `status` on the large history: its CPU time (user + system) under this.
const CPU_TARGET: Duration = Duration::from_millis(100);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Superuser URL of the server's `postgres` database; the bench creates and drops its own
    /// database [default: $NELO_TEST_SERVER_URL]
    #[arg(long, env = "NELO_BENCH_SERVER_URL", hide_env_values = true)]
    server_url: Option<String>,
    /// Runs of each binary
    #[arg(long, default_value_t = 15)]
    iterations: usize,
    /// The `nelo-migrate` binary to measure [default: built with `cargo build --release`]
    #[arg(long, value_name = "PATH")]
    nelo_migrate: Option<PathBuf>,
    /// Another `nelo-migrate` binary (say, built from the commit before) to measure
    /// interleaved with it, as the reference
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,
    /// Applied migrations in the history
    #[arg(long, default_value_t = 10_000)]
    migrations: usize,
}

struct Binary {
    label: String,
    path: PathBuf,
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.iterations > 0, "`--iterations` must be at least 1");
    let server = server_url(args.server_url.as_deref())?;
    let mut admin = crate::postgres::connect(&server, ctx.config.connect_timeout).await?;
    let measured = match args.nelo_migrate {
        Some(path) => absolute(path)?,
        None => crate::image::migrator_release_binary(&ctx.root).await?,
    };
    let mut binaries = vec![Binary::new(
        "`nelo-migrate status` (this checkout)",
        measured,
    )];
    if let Some(baseline) = args.baseline {
        binaries.push(Binary::new(
            format!("`nelo-migrate status` (baseline `{}`)", baseline.display()),
            absolute(baseline)?,
        ));
    }
    let machine = Machine::now();
    let work = tempfile::tempdir().context("cannot create a scratch directory")?;
    let dir = work.path().join(format!("status_{}", args.migrations));
    nelo_fixtures::generated_folder(&dir, args.migrations)?;
    let (name, url) = create_scratch(&mut admin, &server).await?;
    let outcome = measure(&mut binaries, &dir, &url, args.iterations).await;
    drop_scratch(&mut admin, &name).await?;
    let deploy = outcome?;
    print!(
        "{}",
        markdown(
            &machine,
            &binaries,
            args.migrations,
            args.iterations,
            deploy
        )
    );
    Ok(ExitCode::SUCCESS)
}

impl Binary {
    fn new(label: impl Into<String>, path: PathBuf) -> Self {
        Self {
            label: label.into(),
            path,
            wall: Vec::new(),
            cpu: Vec::new(),
        }
    }
}

fn absolute(path: PathBuf) -> anyhow::Result<PathBuf> {
    // Absolute, because the children run in the scratch directory.
    std::fs::canonicalize(&path).with_context(|| format!("`{}` does not exist", path.display()))
}

/// Deploys the folder once, then runs `status` with each binary in turn, rotating which goes
/// first; returns how long the deploy took.
async fn measure(
    binaries: &mut [Binary],
    dir: &std::path::Path,
    url: &DatabaseUrl,
    iterations: usize,
) -> anyhow::Result<Duration> {
    let bar = ui::spinner("deploying the migrations once");
    let started = Instant::now();
    nelo_migrate::Migrator::new(dir)
        .deploy(url.as_str(), |_| {})
        .await?;
    let deploy = started.elapsed();
    ui::done(&bar, format!("deployed in {:.1} s", deploy.as_secs_f64()));
    let bar = ui::spinner("status");
    let count = binaries.len();
    // One warm-up run each: the first reads the folder from disk.
    for binary in binaries.iter() {
        run_status(&binary.path, dir, url).await?;
    }
    for iteration in 0..iterations {
        for offset in 0..count {
            let binary = &mut binaries[(iteration + offset) % count];
            let cpu_before = crate::os::children_cpu_time();
            let started = Instant::now();
            run_status(&binary.path, dir, url).await?;
            binary.wall.push(started.elapsed());
            binary
                .cpu
                .push(crate::os::children_cpu_time().saturating_sub(cpu_before));
        }
    }
    ui::done(&bar, "status");
    Ok(deploy)
}

async fn run_status(
    binary: &std::path::Path,
    dir: &std::path::Path,
    url: &DatabaseUrl,
) -> anyhow::Result<()> {
    let output = tokio::process::Command::new(binary)
        .args(["status", "--database-url", url.as_str(), "--migrations"])
        .arg(dir)
        .current_dir(dir.parent().unwrap_or(dir))
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {}", binary.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "`{} status` exited with {}: {}",
        binary.display(),
        output.status,
        crate::config::redact(String::from_utf8_lossy(&output.stderr).trim())
    );
    Ok(())
}

fn markdown(
    machine: &Machine,
    binaries: &[Binary],
    migrations: usize,
    iterations: usize,
    deploy: Duration,
) -> String {
    let mut text = String::from("### `cargo xtask bench status`\n\n");
    let _ = writeln!(
        text,
        "{machine}, {} at the end · {migrations} applied migrations (deployed once in {:.1} s) \
         · {iterations} runs of each, interleaved, after one warm-up run each\n",
        machine::load_average(),
        deploy.as_secs_f64()
    );
    text.push_str("| Binary | CPU median | CPU min | Wall median | Wall p95 | Wall min |\n");
    text.push_str("|---|---:|---:|---:|---:|---:|\n");
    for binary in binaries {
        let (cpu, wall) = (Summary::of(&binary.cpu), Summary::of(&binary.wall));
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} |",
            binary.label,
            Ms(cpu.median),
            Ms(cpu.min),
            Ms(wall.median),
            Ms(wall.p95),
            Ms(wall.min)
        );
    }
    let cpu = Summary::of(&binaries[0].cpu).median;
    let _ = writeln!(
        text,
        "\nCPU is user + system time of the process (`getrusage` of the waited-for child).\n\n\
         - status CPU median {} {} (target < {})",
        Ms(cpu),
        if cpu < CPU_TARGET {
            "(met)"
        } else {
            "(**missed**)"
        },
        Ms(CPU_TARGET)
    );
    text
}
