//! `cargo xtask bench faults`: how long the migration lock stays taken after the connection of
//! a deploy is cut mid-migration, until another session can take it; beside the same cut of a
//! plain session-level advisory lock with the server's `client_connection_check_interval` at
//! 0 (PostgreSQL's default, which a lock such as Prisma Migrate's gets), measured in the same
//! run. Prints Markdown for BENCHMARKS.md.
//!
//! Each cut goes through a TCP proxy that drops both sides at once, while the migration's
//! statement sleeps; a second session, connected directly, then tries the lock every
//! [`POLL`] until it gets it. nelo's cuts and the reference's alternate.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sqlx::{Connection, PgConnection};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::scratch::{create_scratch, drop_scratch, server_url};
use crate::bench::machine::{self, Machine};
use crate::bench::stats::{Ms, Summary, percentile};
use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::ui;

/// How often the second session tries the lock.
const POLL: Duration = Duration::from_millis(2);
/// How long the statement has run when the first connection is cut; the cuts of later
/// iterations come later, spread over one more second (the server's client check runs once
/// a second, so where a cut falls in that second matters).
const BEFORE_THE_FIRST_CUT: Duration = Duration::from_millis(100);
/// Bound on every wait of the bench (a statement to start, a cut deploy to end).
const HANG_GUARD: Duration = Duration::from_secs(60);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Superuser URL of the server's `postgres` database; the bench creates and drops its own
    /// database [default: $NELO_TEST_SERVER_URL]
    #[arg(long, env = "NELO_BENCH_SERVER_URL", hide_env_values = true)]
    server_url: Option<String>,
    /// Cuts of each kind
    #[arg(long, default_value_t = 10)]
    iterations: usize,
    /// Seconds the reference's statement sleeps: without the client check, the server notices
    /// the cut only when it ends
    #[arg(long, default_value_t = 5)]
    reference_seconds: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `nelo_migrate::Migrator::deploy` of a migration that sleeps 60 s.
    Nelo,
    /// A session lock then a sleeping statement, `client_connection_check_interval = 0`.
    Reference,
}

pub async fn run(_ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.iterations > 0, "`--iterations` must be at least 1");
    let server = server_url(args.server_url.as_deref())?;
    let mut admin = crate::postgres::connect(&server, Duration::from_secs(10)).await?;
    let postgres: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut admin)
        .await
        .context("cannot read the server version")?;
    let (name, url) = create_scratch(&mut admin, &server).await?;
    let machine = Machine::now();
    let outcome = measure(&url, &args).await;
    drop_scratch(&mut admin, &name).await?;
    let (nelo, reference) = outcome?;
    print!(
        "{}",
        markdown(&machine, &postgres, &args, &nelo, &reference)
    );
    Ok(ExitCode::SUCCESS)
}

async fn measure(url: &DatabaseUrl, args: &Args) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let migrations = tempfile::tempdir().context("cannot create a scratch directory")?;
    let migration = migrations.path().join("20250101000000_slow");
    std::fs::create_dir_all(&migration)
        .and_then(|()| {
            std::fs::write(
                migration.join("migration.sql"),
                "CREATE TABLE half (a int);\nSELECT pg_sleep(60);\n",
            )
        })
        .context("cannot write the bench's migration")?;
    let mut checker = PgConnection::connect(url.as_str())
        .await
        .context("cannot connect the session that takes the lock")?;
    let (mut nelo, mut reference) = (Vec::new(), Vec::new());
    let bar = ui::spinner("cutting connections mid-migration");
    for iteration in 0..args.iterations {
        // Alternate which goes first.
        let kinds = if iteration % 2 == 0 {
            [Kind::Nelo, Kind::Reference]
        } else {
            [Kind::Reference, Kind::Nelo]
        };
        for kind in kinds {
            let before_the_cut = BEFORE_THE_FIRST_CUT
                + Duration::from_secs(1) * iteration as u32 / args.iterations as u32;
            let proxy = CuttingProxy::start(url.host(), url.port()).await?;
            let proxied = url.with_port(proxy.port);
            let elapsed = match kind {
                Kind::Nelo => {
                    let migrator = nelo_migrate::Migrator::new(migrations.path());
                    let deploy =
                        tokio::spawn(
                            async move { migrator.deploy(proxied.as_str(), |_| {}).await },
                        );
                    let elapsed =
                        cut_and_wait(&mut checker, &proxy, "pg_sleep(60)", before_the_cut).await?;
                    match tokio::time::timeout(HANG_GUARD, deploy).await {
                        Ok(Ok(Err(nelo_migrate::Error::ConnectionLost(_)))) => {}
                        other => bail!("the cut deploy ended otherwise: {other:?}"),
                    }
                    nelo.push(elapsed);
                    elapsed
                }
                Kind::Reference => {
                    let mut conn = PgConnection::connect(proxied.as_str())
                        .await
                        .context("cannot connect the reference session")?;
                    sqlx::raw_sql(&format!(
                        "SET client_connection_check_interval = 0; SELECT pg_advisory_lock({})",
                        nelo_migrate::LOCK_KEY
                    ))
                    .execute(&mut conn)
                    .await
                    .context("cannot take the lock in the reference session")?;
                    let statement = format!("SELECT pg_sleep({})", args.reference_seconds);
                    let sleeping = tokio::spawn(async move {
                        let _ = sqlx::query(&statement).execute(&mut conn).await;
                    });
                    let elapsed = cut_and_wait(
                        &mut checker,
                        &proxy,
                        &format!("pg_sleep({})", args.reference_seconds),
                        before_the_cut,
                    )
                    .await?;
                    sleeping.abort();
                    reference.push(elapsed);
                    elapsed
                }
            };
            bar.set_message(format!(
                "cut {} of {}: {kind:?} {}",
                iteration + 1,
                args.iterations,
                Ms(elapsed)
            ));
        }
    }
    ui::done(&bar, "cut connections mid-migration");
    let _ = checker.close().await;
    Ok((nelo, reference))
}

/// Waits for `statement` to run in the database, cuts the proxy's connections
/// `before_the_cut` later, then returns how long it took until `checker` got the lock (released
/// at once).
async fn cut_and_wait(
    checker: &mut PgConnection,
    proxy: &CuttingProxy,
    statement: &str,
    before_the_cut: Duration,
) -> anyhow::Result<Duration> {
    let running = format!(
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() \
         AND state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%{statement}%')"
    );
    let started = Instant::now();
    while !sqlx::query_scalar::<_, bool>(&running)
        .fetch_one(&mut *checker)
        .await?
    {
        anyhow::ensure!(
            started.elapsed() < HANG_GUARD,
            "`{statement}` did not start within {} s",
            HANG_GUARD.as_secs()
        );
        tokio::time::sleep(POLL).await;
    }
    tokio::time::sleep(before_the_cut).await;
    proxy.cut();
    let cut = Instant::now();
    let try_lock = format!("SELECT pg_try_advisory_lock({})", nelo_migrate::LOCK_KEY);
    while !sqlx::query_scalar::<_, bool>(&try_lock)
        .fetch_one(&mut *checker)
        .await?
    {
        anyhow::ensure!(
            cut.elapsed() < HANG_GUARD,
            "the lock was still taken {} s after the cut",
            HANG_GUARD.as_secs()
        );
        tokio::time::sleep(POLL).await;
    }
    let elapsed = cut.elapsed();
    sqlx::raw_sql(&format!(
        "SELECT pg_advisory_unlock({})",
        nelo_migrate::LOCK_KEY
    ))
    .execute(&mut *checker)
    .await?;
    Ok(elapsed)
}

/// A TCP proxy to the server whose connections can all be dropped at once, both ways.
struct CuttingProxy {
    port: u16,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl CuttingProxy {
    async fn start(host: &str, port: u16) -> anyhow::Result<CuttingProxy> {
        let upstream = format!("{host}:{port}");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot start the bench's TCP proxy")?;
        let port = listener.local_addr()?.port();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let tracked = connections.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().unwrap_or_else(|e| e.into_inner()).push(task);
            }
        });
        Ok(CuttingProxy {
            port,
            connections,
            acceptor,
        })
    }

    fn cut(&self) {
        for task in self
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.cut();
        self.acceptor.abort();
    }
}

fn markdown(
    machine: &Machine,
    postgres: &str,
    args: &Args,
    nelo: &[Duration],
    reference: &[Duration],
) -> String {
    let row = |label: &str, samples: &[Duration]| {
        let summary = Summary::of(samples);
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        format!(
            "| {label} | {} | {} | {} | {} |\n",
            Ms(summary.median),
            Ms(percentile(&sorted, 90)),
            Ms(summary.min),
            Ms(sorted[sorted.len() - 1]),
        )
    };
    let mut text = String::from("### `cargo xtask bench faults`\n\n");
    text += &format!(
        "{machine}, {} at the end · PostgreSQL {postgres} · {} cuts of each, alternating, \
         {} ms to {} ms into the statement; the lock tried every {} ms\n\n",
        machine::load_average(),
        args.iterations,
        BEFORE_THE_FIRST_CUT.as_millis(),
        BEFORE_THE_FIRST_CUT.as_millis()
            + 1000 * (args.iterations as u128 - 1) / args.iterations as u128,
        POLL.as_millis(),
    );
    text += "| Connection cut mid-migration | Until the lock is free: median | p90 | min | max |\n";
    text += "|---|---:|---:|---:|---:|\n";
    text += &row(
        "`nelo-migrate deploy` (`client_connection_check_interval` = 1 s), `pg_sleep(60)`",
        nelo,
    );
    text += &row(
        &format!(
            "reference: a plain session lock (Prisma's), `client_connection_check_interval` = 0, `pg_sleep({})`",
            args.reference_seconds
        ),
        reference,
    );
    text
}
