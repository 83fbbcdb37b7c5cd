//! `cargo xtask bench diff`: (a) the catalog introspection of the 300-migration realistic
//! schema beside `pg_dump --schema-only` of the same database (pg_dump 17 inside the server's
//! container, `docker exec`: the host's pg_dump 15 cannot dump a 17 server), and (b) the drift
//! check (`nelo_migrate::diff::drift`) on 1,000 generated and 300 realistic migrations, cold
//! (their template dropped first: a replay) and warm (a template clone). Prints Markdown for
//! BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use nelo_db::testing::{self, names};
use nelo_migrate::diff::{DiffOptions, catalog, drift};
use nelo_migrate::lint::LintMode;
use nelo_migrate::template::{self, Slot, TemplateRequest};
use nelo_migrate::{DatabaseUrl, Migrator, postgres};
use sqlx::Connection;

use crate::bench::machine::Machine;
use crate::bench::stats::{Ms, Summary};
use crate::context::Context;
use crate::ui;

/// A warm drift check at 1,000 migrations should take less than this.
const WARM_TARGET: Duration = Duration::from_secs(1);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Superuser URL of the server's `postgres` database; the bench creates and drops its own
    /// databases and templates
    #[arg(long, env = "NELO_TEST_SERVER_URL", hide_env_values = true)]
    server_url: String,
    /// The Docker container running that server, where pg_dump runs; by default the one that
    /// publishes the URL's port
    #[arg(long)]
    container: Option<String>,
    /// Samples per measurement (introspection, pg_dump, warm drift)
    #[arg(long, default_value_t = 10)]
    iterations: usize,
    /// Samples of the cold drift check (each replays the whole folder)
    #[arg(long, default_value_t = 3)]
    cold_iterations: usize,
}

/// A folder measured, deployed into a live database of its own.
struct Folder {
    label: String,
    path: PathBuf,
    database: String,
    url: String,
    deploy: Duration,
}

struct Drifts {
    label: String,
    cold: Vec<Duration>,
    warm: Vec<Duration>,
}

pub async fn run(_ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.iterations > 0 && args.cold_iterations > 0,
        "`--iterations` and `--cold-iterations` must be at least 1"
    );
    let server = DatabaseUrl::parse(&args.server_url)?;
    let container = match &args.container {
        Some(container) => container.clone(),
        None => container_publishing(server.port())?,
    };
    let mut admin = postgres::connect(&server, postgres::CONNECT_TIMEOUT)
        .await
        .context("cannot connect to the server of --server-url (NELO_TEST_SERVER_URL)")?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut admin)
        .await?;
    admin.close().await.ok();

    let work = tempfile::tempdir().context("cannot create a scratch directory")?;
    let mut folders = Vec::new();
    let outcome = async {
        for (label, count, realistic) in [
            ("300 realistic", 300, true),
            ("1,000 generated", 1000, false),
        ] {
            let bar = ui::spinner(format!("{label}: generate and deploy"));
            let folder = prepare(&server, work.path(), label, count, realistic).await?;
            ui::done(
                &bar,
                format!("{label}: deployed in {:.0}", Ms(folder.deploy)),
            );
            folders.push(folder);
        }
        let machine = Machine::now();
        let bar = ui::spinner("introspection vs pg_dump --schema-only");
        let dumps = measure_dumps(&args, &server, &container, &folders[0]).await?;
        ui::done(&bar, "introspection vs pg_dump measured");
        let mut drifts = Vec::new();
        for folder in &folders {
            let bar = ui::spinner(format!("{}: drift, cold and warm", folder.label));
            drifts.push(measure_drifts(&args, &server, folder).await?);
            ui::done(&bar, format!("{}: drift measured", folder.label));
        }
        print_report(&machine, &version, &args, &folders, &dumps, &drifts);
        anyhow::Ok(())
    }
    .await;
    cleanup(&server, &folders).await;
    outcome?;
    Ok(ExitCode::SUCCESS)
}

/// Generates the folder (its first migration marked with this run's id, so that its
/// templates, and the templates of its prefixes, are this run's alone) and deploys it into
/// a new database.
async fn prepare(
    server: &DatabaseUrl,
    work: &Path,
    label: &str,
    count: usize,
    realistic: bool,
) -> anyhow::Result<Folder> {
    let path = work.join(if realistic { "realistic" } else { "generated" });
    let written = if realistic {
        nelo_fixtures::realistic_folder(&path, count)
    } else {
        nelo_fixtures::generated_folder(&path, count)
    }
    .with_context(|| format!("cannot write {label} migrations"))?;
    let first = path.join(&written[0]).join("migration.sql");
    let sql = std::fs::read_to_string(&first)?;
    let marker = format!("-- bench diff {} {}\n", std::process::id(), now_secs());
    std::fs::write(&first, format!("{marker}{sql}"))?;

    let database = names::test_database_name(
        now_secs(),
        testing::this_host_tag(),
        std::process::id(),
        u32::try_from(count)?,
    );
    let mut admin = postgres::connect(server, postgres::CONNECT_TIMEOUT).await?;
    postgres::create_database(&mut admin, &database, None).await?;
    admin.close().await.ok();
    let url = server.with_database(&database).as_str().to_string();
    let started = Instant::now();
    Migrator::new(&path)
        .lint(LintMode::Off)
        .deploy(&url, |_event| {})
        .await
        .with_context(|| format!("cannot deploy the {label} migrations"))?;
    Ok(Folder {
        label: label.to_string(),
        path,
        database,
        url,
        deploy: started.elapsed(),
    })
}

/// Introspection (connect, read the catalog, close) and `docker exec pg_dump --schema-only`,
/// interleaved, with `docker exec true` as the floor of an exec.
async fn measure_dumps(
    args: &Args,
    server: &DatabaseUrl,
    container: &str,
    folder: &Folder,
) -> anyhow::Result<[(&'static str, Vec<Duration>); 3]> {
    let url = DatabaseUrl::parse(&folder.url)?;
    let (mut ours, mut dump, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.iterations {
        let started = Instant::now();
        let mut conn = postgres::connect(&url, postgres::CONNECT_TIMEOUT).await?;
        let model = catalog::introspect(&mut conn, "public").await?;
        conn.close().await.ok();
        ours.push(started.elapsed());
        anyhow::ensure!(!model.tables.is_empty(), "the introspection found no table");

        let started = Instant::now();
        let bytes = docker_exec(
            container,
            &[
                "pg_dump",
                "-U",
                &server.user(),
                "--schema-only",
                &folder.database,
            ],
        )?;
        dump.push(started.elapsed());
        anyhow::ensure!(bytes > 0, "pg_dump printed nothing");

        let started = Instant::now();
        docker_exec(container, &["true"])?;
        floor.push(started.elapsed());
    }
    Ok([
        ("introspection (connect, catalog read, close)", ours),
        ("`docker exec pg_dump --schema-only`", dump),
        ("`docker exec true` (the exec alone)", floor),
    ])
}

/// Cold: the folder's template dropped first, so the check replays every migration (and
/// builds the template again). Warm: the template is there, the check clones it.
async fn measure_drifts(
    args: &Args,
    server: &DatabaseUrl,
    folder: &Folder,
) -> anyhow::Result<Drifts> {
    let options = DiffOptions {
        shadow_server_url: Some(args.server_url.clone()),
        connect_timeout: postgres::CONNECT_TIMEOUT,
        concurrent_indexes: false,
    };
    let template = template_name(&folder.path)?;
    let check = || async {
        let started = Instant::now();
        let found = drift(&folder.url, &folder.path, &options).await?;
        anyhow::ensure!(found.is_empty(), "drift found: {:?}", found.differences);
        anyhow::Ok(started.elapsed())
    };
    let mut drifts = Drifts {
        label: folder.label.clone(),
        cold: Vec::new(),
        warm: Vec::new(),
    };
    for _ in 0..args.cold_iterations {
        drop_template(server, &template).await?;
        drifts.cold.push(check().await?);
    }
    for _ in 0..args.iterations {
        drifts.warm.push(check().await?);
    }
    Ok(drifts)
}

/// The template a drift check of a fully migrated database of `dir` clones.
fn template_name(dir: &Path) -> anyhow::Result<String> {
    let folder = template::canonical_folder(dir)?;
    let migrations = nelo_migrate::load(&folder)?;
    Ok(TemplateRequest {
        folder: &folder,
        migrations: &migrations,
        schema: "public",
        slot: Slot::Full,
        lint: LintMode::Off,
    }
    .name())
}

async fn drop_template(server: &DatabaseUrl, name: &str) -> anyhow::Result<()> {
    let mut admin = postgres::connect(server, postgres::CONNECT_TIMEOUT).await?;
    postgres::drop_template(&mut admin, name)
        .await
        .with_context(|| format!("cannot drop the template `{name}`"))?;
    admin.close().await.ok();
    Ok(())
}

/// Drops the live databases and the templates; what fails is left to the next run's sweeps.
async fn cleanup(server: &DatabaseUrl, folders: &[Folder]) {
    let Ok(mut admin) = postgres::connect(server, postgres::CONNECT_TIMEOUT).await else {
        return;
    };
    for folder in folders {
        postgres::drop_database(&mut admin, &folder.database)
            .await
            .ok();
        if let Ok(name) = template_name(&folder.path) {
            postgres::drop_template(&mut admin, &name).await.ok();
        }
    }
    admin.close().await.ok();
}

/// Runs `argv` in `container`; the number of bytes it printed.
fn docker_exec(container: &str, argv: &[&str]) -> anyhow::Result<usize> {
    let output = Command::new("docker")
        .arg("exec")
        .arg(container)
        .args(argv)
        .stdin(Stdio::null())
        .output()
        .context("cannot run `docker`")?;
    if !output.status.success() {
        bail!(
            "`docker exec {container} {}` failed ({}): {}",
            argv.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout.len())
}

/// The running container that publishes host port `port`.
fn container_publishing(port: u16) -> anyhow::Result<String> {
    let output = Command::new("docker")
        .args(["ps", "--filter", &format!("publish={port}")])
        .args(["--format", "{{.Names}}"])
        .output()
        .context("cannot run `docker ps`")?;
    let names = String::from_utf8_lossy(&output.stdout);
    match names.lines().next() {
        Some(name) if output.status.success() => Ok(name.to_string()),
        _ => bail!("no running container publishes port {port}; pass --container NAME"),
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn print_report(
    machine: &Machine,
    version: &str,
    args: &Args,
    folders: &[Folder],
    dumps: &[(&'static str, Vec<Duration>); 3],
    drifts: &[Drifts],
) {
    println!("### Introspection vs `pg_dump --schema-only`, and the drift check\n");
    println!(
        "{machine} · PostgreSQL {version} · {} samples per row ({} for cold drift), interleaved\n",
        args.iterations, args.cold_iterations
    );
    println!("Schema of the 300 realistic migrations:\n");
    println!("| Method | Median | p95 | Min | ÷ pg_dump |");
    println!("|---|---:|---:|---:|---:|");
    let reference = Summary::of(&dumps[1].1).median;
    for (method, samples) in dumps {
        let summary = Summary::of(samples);
        println!(
            "| {method} | {:.1} | {:.1} | {:.1} | {:.2}x |",
            Ms(summary.median),
            Ms(summary.p95),
            Ms(summary.min),
            summary.median.as_secs_f64() / reference.as_secs_f64()
        );
    }
    println!(
        "\nDrift check (`nelo_migrate::diff::drift` of a database holding every migration):\n"
    );
    println!("| Folder | Shadow | Median | p95 | Min |");
    println!("|---|---|---:|---:|---:|");
    for drift in drifts {
        for (shadow, samples) in [
            ("cold: replay (template dropped first)", &drift.cold),
            ("warm: template clone", &drift.warm),
        ] {
            let summary = Summary::of(samples);
            println!(
                "| {} | {shadow} | {:.0} | {:.0} | {:.0} |",
                drift.label,
                Ms(summary.median),
                Ms(summary.p95),
                Ms(summary.min)
            );
        }
    }
    println!();
    for folder in folders {
        println!(
            "- deploy of {} into the live database (setup, not measured above): {:.0}",
            folder.label,
            Ms(folder.deploy)
        );
    }
    let ours = Summary::of(&dumps[0].1).median;
    println!(
        "- target: introspection faster than `pg_dump --schema-only`: {} ({:.1} vs {:.1})",
        if ours < reference { "met" } else { "not met" },
        Ms(ours),
        Ms(reference)
    );
    let warm = drifts
        .iter()
        .find(|drift| drift.label.starts_with("1,000"))
        .map(|drift| Summary::of(&drift.warm).median)
        .unwrap_or_default();
    println!(
        "- target: a warm drift check under {} s at 1,000 migrations: {} ({:.0})",
        WARM_TARGET.as_secs(),
        if warm < WARM_TARGET { "met" } else { "not met" },
        Ms(warm)
    );
}
