//! `cargo xtask bench testdb`: the time to hand a test a fresh, migrated database, with
//! `nelo_db::testing::TestDatabase` (a clone of a template) against what `#[sqlx::test]` does
//! (create an empty database, deploy every migration into it), for Nelo's migrations and for
//! a generated folder of 200. Prints a Markdown table for BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nelo_db::testing::{self, TestDatabase, names};
use nelo_migrate::{DatabaseUrl, postgres};
use sqlx::{Connection, PgConnection};

use crate::bench::machine::Machine;
use crate::bench::stats::{Ms, Summary, millis};
use crate::context::Context;
use crate::ui;

/// What a clone should cost, whatever the number of migrations.
const TARGET: Duration = Duration::from_millis(100);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Superuser URL of the server's `postgres` database; the bench creates and drops its own
    /// databases
    #[arg(long, env = "NELO_TEST_SERVER_URL", hide_env_values = true)]
    server_url: String,
    /// Databases made per method and folder
    #[arg(long, default_value_t = 10)]
    iterations: usize,
    /// Migrations in the generated folder
    #[arg(long, default_value_t = 200)]
    migrations: usize,
}

/// A folder of migrations to measure.
struct Folder {
    label: String,
    path: PathBuf,
}

const METHOD_CLONE: &str = "template clone (`TestDatabase`)";

/// The samples of one method on one folder.
struct Row {
    method: &'static str,
    folder: String,
    create: Vec<Duration>,
    drop: Vec<Duration>,
}

impl Row {
    fn new(method: &'static str, folder: &Folder) -> Row {
        Row {
            method,
            folder: folder.label.clone(),
            create: Vec::new(),
            drop: Vec::new(),
        }
    }
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.iterations > 0, "`--iterations` must be at least 1");
    let mut admin = connect_server(&args.server_url)
        .await
        .context("cannot connect to the server of --server-url (NELO_TEST_SERVER_URL)")?;
    let server = server_settings(&mut admin).await?;
    admin.close().await.ok();

    let work = tempfile::tempdir().context("cannot create a scratch directory")?;
    let generated = work.path().join("generated");
    nelo_fixtures::generated_folder(&generated, args.migrations)
        .with_context(|| format!("cannot generate {} migrations", args.migrations))?;
    let folders = [
        Folder {
            label: "Nelo's baseline".to_string(),
            path: ctx.config.migrations_dir.clone(),
        },
        Folder {
            label: format!("{} generated", args.migrations),
            path: generated,
        },
    ];

    let machine = Machine::now();
    let mut rows = Vec::new();
    let mut first_clones = Vec::new();
    for folder in &folders {
        let bar = ui::spinner(format!("{}: template clone", folder.label));
        // The first database of a folder builds its template when the migrations changed.
        let started = Instant::now();
        drop(make_clone(&args.server_url, &folder.path).await?);
        first_clones.push((folder.label.clone(), started.elapsed()));
        rows.push(measure_clones(&args, folder).await?);
        bar.set_message(format!(
            "{}: bare CREATE DATABASE ... TEMPLATE",
            folder.label
        ));
        rows.push(measure_floor(&args, folder).await?);
        bar.set_message(format!("{}: create + deploy", folder.label));
        rows.push(measure_create_and_deploy(&args, folder).await?);
        ui::done(&bar, format!("{}: measured", folder.label));
    }
    let generated_template = testing::template_name(&folders[1].path)?;
    drop_template(&args.server_url, &generated_template).await?;
    print_report(&machine, &args, &server, &rows, &first_clones);
    Ok(ExitCode::SUCCESS)
}

async fn make_clone(server_url: &str, folder: &Path) -> anyhow::Result<TestDatabase> {
    TestDatabase::create(server_url, folder)
        .await
        .with_context(|| format!("cannot make a test database from `{}`", folder.display()))
}

/// `TestDatabase::create`, then its drop.
async fn measure_clones(args: &Args, folder: &Folder) -> anyhow::Result<Row> {
    let mut row = Row::new(METHOD_CLONE, folder);
    for _ in 0..args.iterations {
        let started = Instant::now();
        let db = make_clone(&args.server_url, &folder.path).await?;
        row.create.push(started.elapsed());
        let started = Instant::now();
        drop(db);
        row.drop.push(started.elapsed());
    }
    Ok(row)
}

/// The server's own cost, the floor of a clone: `CREATE DATABASE ... TEMPLATE` and `DROP
/// DATABASE` over a connection that is already open.
async fn measure_floor(args: &Args, folder: &Folder) -> anyhow::Result<Row> {
    let template = testing::template_name(&folder.path)?;
    let mut admin = connect_server(&args.server_url).await?;
    let mut row = Row::new("bare `CREATE DATABASE ... TEMPLATE`", folder);
    for iteration in 0..args.iterations {
        let name = scratch_database_name(1_000_000_000 + iteration)?;
        let started = Instant::now();
        postgres::create_database(&mut admin, &name, Some(&template)).await?;
        row.create.push(started.elapsed());
        let started = Instant::now();
        postgres::drop_database(&mut admin, &name).await?;
        row.drop.push(started.elapsed());
    }
    admin.close().await.ok();
    Ok(row)
}

/// What `#[sqlx::test]` does: an empty database, every migration deployed into it.
async fn measure_create_and_deploy(args: &Args, folder: &Folder) -> anyhow::Result<Row> {
    let server = DatabaseUrl::parse(&args.server_url)?;
    let mut admin = connect_server(&args.server_url).await?;
    let mut row = Row::new("create + deploy (`#[sqlx::test]`)", folder);
    for iteration in 0..args.iterations {
        let name = scratch_database_name(2_000_000_000 + iteration)?;
        let url = server.with_database(&name);
        let started = Instant::now();
        postgres::create_database(&mut admin, &name, None).await?;
        let deployed = nelo_migrate::Migrator::new(&folder.path)
            .deploy(url.as_str(), |_event| {})
            .await;
        row.create.push(started.elapsed());
        let started = Instant::now();
        postgres::drop_database(&mut admin, &name).await?;
        row.drop.push(started.elapsed());
        deployed.with_context(|| format!("cannot deploy `{}`", folder.path.display()))?;
    }
    admin.close().await.ok();
    Ok(row)
}

/// Named like a test database, so that the next run sweeps it if this one is killed.
fn scratch_database_name(sequence: usize) -> anyhow::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(names::test_database_name(
        now,
        testing::this_host_tag(),
        std::process::id(),
        u32::try_from(sequence)?,
    ))
}

/// Drops the generated folder's template: its folder is a temporary one.
async fn drop_template(server_url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = connect_server(server_url).await?;
    postgres::drop_template(&mut admin, name).await?;
    admin.close().await.ok();
    Ok(())
}

/// A connection to the server of `server_url` (its `postgres` database).
async fn connect_server(server_url: &str) -> anyhow::Result<PgConnection> {
    let url = DatabaseUrl::parse(server_url)?;
    Ok(postgres::connect(&url, postgres::CONNECT_TIMEOUT).await?)
}

/// The server settings a clone's time depends on.
struct ServerSettings {
    version: String,
    fsync: String,
}

async fn server_settings(admin: &mut PgConnection) -> anyhow::Result<ServerSettings> {
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut *admin)
        .await?;
    let fsync: String = sqlx::query_scalar("SHOW fsync")
        .fetch_one(&mut *admin)
        .await?;
    Ok(ServerSettings { version, fsync })
}

fn print_report(
    machine: &Machine,
    args: &Args,
    server: &ServerSettings,
    rows: &[Row],
    first_clones: &[(String, Duration)],
) {
    println!("### Isolated test database: template clone vs create + deploy\n");
    println!(
        "{machine} · PostgreSQL {} (fsync {}) · {} databases per row\n",
        server.version, server.fsync, args.iterations
    );
    println!(
        "| Method | Migrations | Create, median (ms) | Create, p95 (ms) | Drop, median (ms) |"
    );
    println!("|---|---|---:|---:|---:|");
    for row in rows {
        let create = Summary::of(&row.create);
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} |",
            row.method,
            row.folder,
            millis(create.median),
            millis(create.p95),
            millis(Summary::of(&row.drop).median),
        );
    }
    println!();
    for (folder, elapsed) in first_clones {
        println!(
            "- first database of {folder} (builds the template if the migrations changed): {:.0}",
            Ms(*elapsed)
        );
    }
    let worst_clone = rows
        .iter()
        .filter(|row| row.method == METHOD_CLONE)
        .map(|row| Summary::of(&row.create).median)
        .max()
        .unwrap_or_default();
    println!(
        "- target: a clone under {} ms whatever the number of migrations: {} (worst median {:.0})",
        TARGET.as_millis(),
        if worst_clone < TARGET {
            "met"
        } else {
            "not met"
        },
        Ms(worst_clone)
    );
}
