//! `cargo xtask bench locks`: what a deploy of an `ALTER TABLE` does to the application's
//! queries while a long reader holds the table (issue 19 §3). Prints Markdown for
//! BENCHMARKS.md.
//!
//! Each case gets a database of its own with a table of [`ROWS`] rows. An application workload
//! of steady reads and writes runs on it ([`APP_CLIENTS`] sessions, one query each every
//! [`APP_PAUSE`]); a long reader takes the table (`BEGIN; SELECT count(*)`, then holds it for
//! `--reader-seconds`); [`DEPLOY_DELAY`] later, the deploy of
//! `ALTER TABLE "Scene" ADD COLUMN "summary" TEXT` starts behind it. Recorded: every
//! application query's latency, from its intended start on a fixed schedule so that a stalled
//! session's missed queries count (max and p99 over the whole run), the deploy's duration, and
//! how long after the reader's end the deploy finished. The three cases run in the same run:
//! - nelo with its defaults (`NELO_DDL_LOCK_TIMEOUT` 500 ms, retried);
//! - nelo with `NELO_DDL_LOCK_TIMEOUT=0`, which waits as Prisma does;
//! - `psql -c` sending the file as one query (the host's psql).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sqlx::{Connection, PgConnection};

use super::scratch::{create_scratch, drop_scratch, server_url};
use crate::bench::machine::{self, Machine};
use crate::bench::stats::{Ms, percentile};
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::ui;

/// Rows of the application's table.
const ROWS: i64 = 10_000;
/// Application sessions: half read, half write.
const APP_CLIENTS: usize = 4;
/// The interval between the intended starts of two queries of one application session.
const APP_PAUSE: Duration = Duration::from_millis(10);
/// From the reader taking the table to the deploy's start.
const DEPLOY_DELAY: Duration = Duration::from_millis(500);
/// The workload runs this long before the reader and after the deploy.
const MARGIN: Duration = Duration::from_secs(1);

const CREATE: &str = "CREATE TABLE \"Scene\" (id bigint PRIMARY KEY, title text NOT NULL, words int NOT NULL DEFAULT 0);\n\
    INSERT INTO \"Scene\" (id, title) SELECT n, 'scene ' || n FROM generate_series(1, 10000) AS n;\n";
const ALTER: &str = "ALTER TABLE \"Scene\" ADD COLUMN \"summary\" TEXT;\n";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Superuser URL of the server's `postgres` database; the bench creates and drops its own
    /// databases [default: $NELO_TEST_SERVER_URL]
    #[arg(long, env = "NELO_BENCH_SERVER_URL", hide_env_values = true)]
    server_url: Option<String>,
    /// How long the long reader holds the table
    #[arg(long, default_value_t = 10)]
    reader_seconds: u64,
    /// The psql that sends the file in the third case
    #[arg(long, default_value = "psql")]
    psql: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    NeloDefaults,
    NeloWaitForever,
    Psql,
}

impl Case {
    fn label(self) -> &'static str {
        match self {
            Case::NeloDefaults => {
                "nelo, defaults (`NELO_DDL_LOCK_TIMEOUT=500` ms, retried with backoff)"
            }
            Case::NeloWaitForever => "nelo, `NELO_DDL_LOCK_TIMEOUT=0` (waits as Prisma does)",
            Case::Psql => "reference: `psql -c` sending the file as one query",
        }
    }
}

struct Measured {
    case: Case,
    /// Every application query's latency.
    latencies: Vec<Duration>,
    deploy: Duration,
    /// From the reader's COMMIT to the deploy's end (negative: never, it ended before).
    after_reader: Duration,
    lock_waits: usize,
}

pub async fn run(_ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.reader_seconds > 0,
        "`--reader-seconds` must be at least 1"
    );
    let server = server_url(args.server_url.as_deref())?;
    let mut admin = crate::postgres::connect(&server, Duration::from_secs(10)).await?;
    let postgres: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut admin)
        .await
        .context("cannot read the server version")?;
    let psql_version = std::process::Command::new(&args.psql)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run `{} --version`", args.psql))?;
    let psql_version = String::from_utf8_lossy(&psql_version.stdout)
        .trim()
        .to_string();
    let machine = Machine::now();
    let mut results = Vec::new();
    let bar = ui::spinner("measuring lock waits");
    for case in [Case::NeloDefaults, Case::NeloWaitForever, Case::Psql] {
        bar.set_message(format!("{case:?}"));
        let (name, url) = create_scratch(&mut admin, &server).await?;
        let outcome = measure(&url, case, &args).await;
        drop_scratch(&mut admin, &name).await?;
        results.push(outcome?);
    }
    ui::done(&bar, "measured lock waits");
    print!(
        "{}",
        markdown(&machine, &postgres, &psql_version, &args, &results)
    );
    Ok(ExitCode::SUCCESS)
}

async fn measure(url: &DatabaseUrl, case: Case, args: &Args) -> anyhow::Result<Measured> {
    let migrations = tempfile::tempdir().context("cannot create a scratch directory")?;
    let write = |name: &str, sql: &str| {
        let dir = migrations.path().join(name);
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("migration.sql"), sql))
    };
    write("20250101000000_scene", CREATE).context("cannot write the bench's migrations")?;
    nelo_migrate::Migrator::new(migrations.path())
        .deploy(url.as_str(), |_| {})
        .await
        .context("cannot create the bench's table")?;
    write("20250102000000_summary", ALTER).context("cannot write the bench's migrations")?;

    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..APP_CLIENTS {
        let mut conn = PgConnection::connect(url.as_str())
            .await
            .context("cannot connect an application session")?;
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n: i64 = client as i64;
            // Each query has its intended start on a fixed schedule, and its latency counts
            // from then (open loop, as wrk2 measures): a session stalled behind a lock is
            // not excused the queries it could not send meanwhile.
            let schedule = tokio::time::Instant::now();
            let mut intended = schedule;
            while !stop.load(Ordering::Relaxed) {
                n = (n * 7919 + 13) % ROWS + 1;
                tokio::time::sleep_until(intended).await;
                let started = intended;
                let result = if client % 2 == 0 {
                    sqlx::query("SELECT title FROM \"Scene\" WHERE id = $1")
                        .bind(n)
                        .fetch_optional(&mut conn)
                        .await
                        .map(drop)
                } else {
                    sqlx::query("UPDATE \"Scene\" SET words = words + 1 WHERE id = $1")
                        .bind(n)
                        .execute(&mut conn)
                        .await
                        .map(drop)
                };
                result?;
                latencies.push(started.elapsed());
                intended += APP_PAUSE;
            }
            Ok::<_, sqlx::Error>(latencies)
        }));
    }
    tokio::time::sleep(MARGIN).await;

    let mut reader = PgConnection::connect(url.as_str())
        .await
        .context("cannot connect the long reader")?;
    sqlx::raw_sql(
        "SET application_name = 'bench long reader'; BEGIN; SELECT count(*) FROM \"Scene\";",
    )
    .execute(&mut reader)
    .await
    .context("the long reader failed")?;
    let reader_seconds = args.reader_seconds;
    let reader_task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(reader_seconds)).await;
        sqlx::query("COMMIT").execute(&mut reader).await?;
        let ended = Instant::now();
        let _ = reader.close().await;
        Ok::<_, sqlx::Error>(ended)
    });
    tokio::time::sleep(DEPLOY_DELAY).await;

    let started = Instant::now();
    let mut lock_waits = 0;
    match case {
        Case::NeloDefaults | Case::NeloWaitForever => {
            let mut migrator = nelo_migrate::Migrator::new(migrations.path());
            if case == Case::NeloWaitForever {
                migrator = migrator.ddl_lock_timeout(Duration::ZERO);
            }
            let report = migrator
                .deploy(url.as_str(), |event| {
                    if matches!(event, nelo_migrate::Event::LockWait(_)) {
                        lock_waits += 1;
                    }
                })
                .await
                .context("the bench's deploy failed")?;
            anyhow::ensure!(report.applied.len() == 1, "the deploy applied {report:?}");
        }
        Case::Psql => {
            let psql = args.psql.clone();
            let url = url.as_str().to_string();
            let output = tokio::task::spawn_blocking(move || {
                std::process::Command::new(psql)
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c", ALTER])
                    .output()
            })
            .await?
            .context("cannot run psql")?;
            if !output.status.success() {
                bail!("psql failed: {}", String::from_utf8_lossy(&output.stderr));
            }
        }
    }
    let ended = Instant::now();
    let deploy = ended - started;
    let reader_ended = reader_task.await?.context("the long reader failed")?;
    tokio::time::sleep(MARGIN).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await?.context("an application query failed")?);
    }
    anyhow::ensure!(!latencies.is_empty(), "no application query completed");
    latencies.sort_unstable();
    Ok(Measured {
        case,
        latencies,
        deploy,
        after_reader: ended.saturating_duration_since(reader_ended),
        lock_waits,
    })
}

fn markdown(
    machine: &Machine,
    postgres: &str,
    psql: &str,
    args: &Args,
    results: &[Measured],
) -> String {
    let mut text = String::from("### `cargo xtask bench locks`\n\n");
    text += &format!(
        "{machine}, {} at the end · PostgreSQL {postgres} · {psql} · {} application sessions \
         (half `SELECT` by key, half `UPDATE` by key), each on a schedule of one query every {} ms, latency counted from the intended start (open loop, no coordinated omission), on {ROWS} rows; \
         the long reader holds ACCESS SHARE for {} s; the deploy of `ALTER TABLE \"Scene\" ADD \
         COLUMN \"summary\" TEXT` starts {} ms after it\n\n",
        machine::load_average(),
        APP_CLIENTS,
        APP_PAUSE.as_millis(),
        args.reader_seconds,
        DEPLOY_DELAY.as_millis(),
    );
    text += "| Deploy | App queries | over 1 s | App p99 | App max | Deploy duration | Deploy end after the reader's end | Lock timeouts retried |\n";
    text += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for result in results {
        let max = result.latencies[result.latencies.len() - 1];
        text += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            result.case.label(),
            result.latencies.len(),
            result
                .latencies
                .iter()
                .filter(|latency| **latency > Duration::from_secs(1))
                .count(),
            Ms(percentile(&result.latencies, 99)),
            Ms(max),
            Ms(result.deploy),
            Ms(result.after_reader),
            match result.case {
                Case::NeloDefaults => result.lock_waits.to_string(),
                _ => "-".to_string(),
            },
        );
    }
    text
}
