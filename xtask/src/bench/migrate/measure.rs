//! The measured runs: each deploy goes into a database created for it and dropped after it;
//! only the deploy itself is timed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::{Connection, PgConnection};

use super::tools::Tools;
use crate::bench::scratch::{create_scratch, drop_scratch};
use crate::bench::stats::Summary;
use crate::config::DatabaseUrl;
use nelo_migrate::postgres;

/// A migration folder in both layouts.
pub struct Case {
    pub label: String,
    prisma_dir: PathBuf,
    sqlx_dir: PathBuf,
    names: Vec<String>,
}

impl Case {
    pub fn generated(work: &Path, count: usize) -> anyhow::Result<Case> {
        let prisma_dir = work.join(format!("generated_{count}"));
        let names = nelo_fixtures::generated_folder(&prisma_dir, count)?;
        Case::with_sqlx_layout(format!("{count} generated"), prisma_dir, names)
    }

    pub fn realistic(work: &Path, count: usize) -> anyhow::Result<Case> {
        let prisma_dir = work.join(format!("realistic_{count}"));
        let names = nelo_fixtures::realistic_folder(&prisma_dir, count)?;
        Case::with_sqlx_layout(format!("{count} realistic"), prisma_dir, names)
    }

    fn with_sqlx_layout(
        label: String,
        prisma_dir: PathBuf,
        names: Vec<String>,
    ) -> anyhow::Result<Case> {
        let sqlx_dir = prisma_dir.with_extension("sqlx");
        nelo_fixtures::to_sqlx_layout(&prisma_dir, &sqlx_dir)?;
        Ok(Case {
            label,
            prisma_dir,
            sqlx_dir,
            names,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// In process: connect, then per file read it and run it in `BEGIN` ... `COMMIT`.
    Floor,
    /// `sqlx migrate run --source <flat copy>` as a process.
    SqlxCli,
    /// `nelo-migrate deploy` as a process.
    NeloProcess,
    /// `nelo_migrate::Migrator::deploy` in process.
    NeloLibrary,
}

impl Runner {
    pub fn label(self) -> &'static str {
        match self {
            Runner::Floor => "floor (in-process, 1 connection, 1 tx per file)",
            Runner::SqlxCli => "`sqlx migrate run`",
            Runner::NeloProcess => "`nelo-migrate deploy`",
            Runner::NeloLibrary => "nelo-migrate (library, in-process)",
        }
    }

    async fn deploy(
        self,
        tools: &Tools,
        case: &Case,
        url: &DatabaseUrl,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        match self {
            Runner::Floor => {
                let mut conn = postgres::connect(url, postgres::CONNECT_TIMEOUT).await?;
                for name in &case.names {
                    let sql =
                        std::fs::read_to_string(case.prisma_dir.join(name).join("migration.sql"))?;
                    let mut transaction = conn.begin().await?;
                    sqlx::raw_sql(&sql)
                        .execute(&mut *transaction)
                        .await
                        .with_context(|| format!("migration `{name}`"))?;
                    transaction.commit().await?;
                }
                conn.close().await?;
            }
            Runner::SqlxCli => {
                let mut command = tokio::process::Command::new(&tools.sqlx);
                command
                    .args(["migrate", "run", "--database-url", url.as_str(), "--source"])
                    .arg(&case.sqlx_dir);
                run_child(command, &case.prisma_dir).await?;
            }
            Runner::NeloProcess => {
                let mut command = tokio::process::Command::new(&tools.nelo_migrate);
                command
                    .args(["deploy", "--database-url", url.as_str(), "--migrations"])
                    .arg(&case.prisma_dir);
                run_child(command, &case.prisma_dir).await?;
            }
            Runner::NeloLibrary => {
                nelo_migrate::Migrator::new(&case.prisma_dir)
                    .deploy(url.as_str(), |_| {})
                    .await?;
            }
        }
        Ok(started.elapsed())
    }

    /// The migrations the tool recorded as applied after a run, to check it applied
    /// everything (nelo's through its own status: its history SQL lives in its store).
    async fn applied_count(self, case: &Case, url: &DatabaseUrl) -> anyhow::Result<Option<usize>> {
        match self {
            Runner::Floor => Ok(None),
            Runner::SqlxCli => {
                let mut conn = postgres::connect(url, postgres::CONNECT_TIMEOUT).await?;
                let applied: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                        .fetch_one(&mut conn)
                        .await?;
                conn.close().await?;
                Ok(Some(applied as usize))
            }
            Runner::NeloProcess | Runner::NeloLibrary => {
                let report = nelo_migrate::Migrator::new(&case.prisma_dir)
                    .status(url.as_str())
                    .await?;
                Ok(Some(report.in_state(nelo_migrate::State::Applied).count()))
            }
        }
    }
}

/// Runs a child with the scratch directory as its working directory (no stray `.env`), output
/// captured as for every tool; a non-zero exit is an error carrying its stderr.
async fn run_child(mut command: tokio::process::Command, near: &Path) -> anyhow::Result<()> {
    let directory = near.parent().unwrap_or(near);
    command.current_dir(directory).stdin(Stdio::null());
    let output = command
        .output()
        .await
        .with_context(|| format!("cannot run {:?}", command.as_std().get_program()))?;
    anyhow::ensure!(
        output.status.success(),
        "{:?} exited with {}: {}",
        command.as_std().get_program(),
        output.status,
        crate::config::redact(String::from_utf8_lossy(&output.stderr).trim())
    );
    Ok(())
}

/// One timed deploy of `case` by `runner` into a fresh database.
pub async fn deploy(
    admin: &mut PgConnection,
    server: &DatabaseUrl,
    tools: &Tools,
    case: &Case,
    runner: Runner,
) -> anyhow::Result<Duration> {
    let (name, url) = create_scratch(admin, server).await?;
    let outcome = async {
        let elapsed = runner.deploy(tools, case, &url).await?;
        if let Some(applied) = runner.applied_count(case, &url).await? {
            anyhow::ensure!(
                applied == case.names.len(),
                "applied {applied} of {} migrations",
                case.names.len()
            );
        }
        Ok(elapsed)
    }
    .await;
    drop_scratch(admin, &name).await?;
    outcome
}

pub struct StatusResult {
    pub migrations: usize,
    pub deploy: Duration,
    pub summary: Summary,
    /// User + system CPU time of the `status` process: what it costs on an idle machine.
    pub cpu: Summary,
}

/// Deploys `count` generated migrations once, then times `nelo-migrate status` `iterations` times.
pub async fn status(
    admin: &mut PgConnection,
    server: &DatabaseUrl,
    tools: &Tools,
    work: &Path,
    count: usize,
    iterations: usize,
) -> anyhow::Result<StatusResult> {
    let dir = work.join(format!("status_{count}"));
    nelo_fixtures::generated_folder(&dir, count)?;
    let (name, url) = create_scratch(admin, server).await?;
    let outcome = async {
        let started = Instant::now();
        nelo_migrate::Migrator::new(&dir)
            .deploy(url.as_str(), |_| {})
            .await?;
        let deploy = started.elapsed();
        let mut samples = Vec::new();
        let mut cpu = Vec::new();
        for _ in 0..iterations {
            let mut command = tokio::process::Command::new(&tools.nelo_migrate);
            command
                .args(["status", "--database-url", url.as_str(), "--migrations"])
                .arg(&dir);
            let cpu_before = crate::os::children_cpu_time();
            let started = Instant::now();
            run_child(command, &dir)
                .await
                .context("`nelo-migrate status` on an up-to-date database")?;
            samples.push(started.elapsed());
            cpu.push(crate::os::children_cpu_time().saturating_sub(cpu_before));
        }
        Ok(StatusResult {
            migrations: count,
            deploy,
            summary: Summary::of(&samples),
            cpu: Summary::of(&cpu),
        })
    }
    .await;
    drop_scratch(admin, &name).await?;
    outcome
}
