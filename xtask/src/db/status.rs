//! `cargo xtask db status`: the container, and each database with its migrations and drift.
//! Exits 0 only when the server runs and both databases are up to date without drift, 1 when
//! something needs attention, 2 when the state is unknown (the Docker engine is unreachable,
//! which `--json` still says in an object; or a drift check failed where nothing else needs
//! attention).

use std::process::ExitCode;

use nelo_migrate_cli::{difference_lines, drift_json};
use serde::Serialize;

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::decision::ContainerStatus;
use crate::workflow::schema::drift;
use crate::{docker, ui};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the status as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Skip the drift check (which replays each database's applied migrations in a shadow
    /// database on the server).
    #[arg(long)]
    no_drift: bool,
}

/// The exit code when the state cannot be known.
const UNKNOWN: u8 = 2;

/// What `--json` prints when the Docker engine does not answer.
#[derive(Debug, Serialize)]
struct Unreachable {
    /// Always `unreachable`.
    engine: &'static str,
    docker_host: String,
    container: String,
    error: String,
}

#[derive(Debug, Serialize)]
struct Status {
    /// Always `reachable`.
    engine: &'static str,
    /// Where the Docker engine was reached.
    docker_host: String,
    container: String,
    /// `absent`, `created`, `running`, `exited`, ...
    state: String,
    /// Whether Docker says the container runs (`state` is `running`).
    #[serde(skip)]
    running: bool,
    image: Option<String>,
    port: Option<u16>,
    volume: Option<String>,
    health: Option<String>,
    databases: Vec<DatabaseStatus>,
}

#[derive(Debug, Serialize)]
struct DatabaseStatus {
    name: String,
    url: String,
    /// Whether the server answered for this database.
    reachable: bool,
    error: Option<String>,
    applied: usize,
    pending: Vec<String>,
    failed: Vec<String>,
    /// Modified after apply, or applied but missing from the folder.
    other: Vec<String>,
    /// The drift check, as `nelo-migrate status --json` gives it: `{ "drifted",
    /// "differences", "replayed", "modified", "failed", "not_compared" }`; `null` when it did
    /// not run.
    drift: Option<serde_json::Value>,
    /// Why there is no drift check: the database is unavailable, `--no-drift`, or the check
    /// failed (with its error).
    drift_not_checked: Option<String>,
    /// The differences, for people.
    #[serde(skip)]
    drift_lines: String,
    /// Whether the check ran and found drift.
    #[serde(skip)]
    drifted: bool,
    /// Whether the check was wanted but failed.
    #[serde(skip)]
    drift_failed: bool,
    /// The command that shows this database's status and drift in full.
    #[serde(skip)]
    status_command: &'static str,
}

impl Status {
    fn is_healthy(&self) -> bool {
        self.running
            && self.databases.iter().all(|db| {
                db.reachable
                    && db.pending.is_empty()
                    && db.failed.is_empty()
                    && db.other.is_empty()
                    && !db.drifted
            })
    }

    /// 0 healthy, 1 something needs attention, 2 a drift check failed and nothing else is
    /// wrong (whether the databases drifted is unknown).
    fn exit_code(&self) -> u8 {
        if !self.is_healthy() {
            1
        } else if self.databases.iter().any(|db| db.drift_failed) {
            UNKNOWN
        } else {
            0
        }
    }
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = &ctx.config;
    let engine = match docker::connect().await {
        Ok(engine) => engine,
        Err(error) if args.json => {
            let unreachable = Unreachable {
                engine: "unreachable",
                docker_host: docker::configured_host(),
                container: config.container.clone(),
                error: format!("{error:#}"),
            };
            ui::stdout_line(serde_json::to_string_pretty(&unreachable)?);
            return Ok(ExitCode::from(UNKNOWN));
        }
        Err(error) => {
            ui::report_error(&error);
            return Ok(ExitCode::from(UNKNOWN));
        }
    };
    let observed = engine.inspect_container(&config.container).await?;
    let running = observed.as_ref().is_some_and(|observed| observed.running);
    let mut databases = Vec::new();
    for url in [&config.database_url, &config.test_database_url] {
        databases.push(database_status(ctx, url, running, !args.no_drift).await);
    }
    let status = Status {
        engine: "reachable",
        docker_host: engine.host.clone(),
        container: config.container.clone(),
        state: observed
            .as_ref()
            .map_or("absent".to_string(), |o| o.status.to_string()),
        running: observed
            .as_ref()
            .is_some_and(|o| o.status == ContainerStatus::Running),
        image: observed.as_ref().map(|o| o.image.clone()),
        port: observed.as_ref().and_then(|o| o.host_port),
        volume: observed.as_ref().and_then(|o| o.volume.clone()),
        health: observed
            .as_ref()
            .and_then(|o| o.health.map(|health| health.to_string())),
        databases,
    };
    if args.json {
        ui::stdout_line(serde_json::to_string_pretty(&status)?);
    } else {
        print_human(&status);
    }
    Ok(ExitCode::from(status.exit_code()))
}

async fn database_status(
    ctx: &Context,
    url: &DatabaseUrl,
    running: bool,
    check_drift: bool,
) -> DatabaseStatus {
    let mut status = DatabaseStatus {
        name: url.database(),
        url: url.redacted(),
        reachable: false,
        error: None,
        applied: 0,
        pending: Vec::new(),
        failed: Vec::new(),
        other: Vec::new(),
        drift: None,
        drift_not_checked: Some("the database is unavailable".to_string()),
        drift_lines: String::new(),
        drifted: false,
        drift_failed: false,
        status_command: if *url == ctx.config.test_database_url {
            "cargo xtask db migrate status --test"
        } else {
            "cargo xtask db migrate status"
        },
    };
    if !running {
        status.error = Some("the server is not running".to_string());
        return status;
    }
    let migrator = nelo_migrate::Migrator::new(&ctx.config.migrations_dir)
        .connect_timeout(crate::postgres::PROBE_TIMEOUT);
    match migrator.status(url.as_str()).await {
        Ok(report) => {
            let names = |entries: Vec<&nelo_migrate::MigrationStatus>| {
                entries
                    .into_iter()
                    .map(|entry| entry.name.clone())
                    .collect::<Vec<_>>()
            };
            status.reachable = true;
            status.applied = report.in_state(nelo_migrate::State::Applied).count();
            status.pending = names(report.pending().collect());
            status.failed = names(report.failed().collect());
            status.other = report
                .modified()
                .chain(report.missing())
                .map(|entry| format!("{} ({})", entry.name, entry.state))
                .collect();
        }
        Err(error) => status.error = Some(error.to_string()),
    }
    if status.reachable {
        check_drift_of(ctx, url, check_drift, &mut status).await;
    }
    status
}

/// Fills in the drift of a reachable database (or why it was not checked).
async fn check_drift_of(
    ctx: &Context,
    url: &DatabaseUrl,
    check_drift: bool,
    status: &mut DatabaseStatus,
) {
    if !check_drift {
        status.drift_not_checked = Some("skipped (--no-drift)".to_string());
        return;
    }
    match drift(ctx, url).await {
        Ok(drift) => {
            status.drift = Some(drift_json(&drift));
            status.drift_not_checked = None;
            status.drifted = !drift.is_empty();
            status.drift_lines = difference_lines(&drift.differences);
        }
        Err(error) => {
            status.drift_not_checked = Some(format!("the check failed: {error:#}"));
            status.drift_failed = true;
        }
    }
}

fn print_human(status: &Status) {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_string());
    ui::stdout_line(format!("docker     {}", status.docker_host));
    ui::stdout_line(format!(
        "container  {} ({})",
        status.container, status.state
    ));
    ui::stdout_line(format!("image      {}", or_dash(status.image.clone())));
    ui::stdout_line(format!(
        "port       {}",
        or_dash(status.port.map(|port| format!("127.0.0.1:{port}")))
    ));
    ui::stdout_line(format!("volume     {}", or_dash(status.volume.clone())));
    ui::stdout_line(format!("health     {}", or_dash(status.health.clone())));
    for db in &status.databases {
        let summary = match &db.error {
            Some(error) => format!("unavailable: {error}"),
            None if db.pending.is_empty() && db.failed.is_empty() && db.other.is_empty() => {
                format!("up to date ({} applied)", db.applied)
            }
            None => format!(
                "{} applied, {} pending, {} failed",
                db.applied,
                db.pending.len(),
                db.failed.len()
            ),
        };
        ui::stdout_line(format!("database   {}: {summary}", db.name));
        for name in &db.pending {
            ui::stdout_line(format!("             pending  {name}"));
        }
        for name in &db.failed {
            ui::stdout_line(format!("             FAILED   {name}"));
        }
        for line in &db.other {
            ui::stdout_line(format!("             {line}"));
        }
        match &db.drift_not_checked {
            Some(reason) => ui::stdout_line(format!("             drift not checked: {reason}")),
            None if db.drifted => {
                ui::stdout_line(format!(
                    "             DRIFT: the database differs from what its migrations build \
                     ([+] only in the database, [-] only in the migrations; details: `{}`)",
                    db.status_command
                ));
                for line in db.drift_lines.lines() {
                    ui::stdout_line(format!("               {line}"));
                }
            }
            None => ui::stdout_line("             no drift"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(drifted: bool, drift_failed: bool) -> DatabaseStatus {
        DatabaseStatus {
            name: "nelo".into(),
            url: "postgresql://nelo:***@localhost/nelo".into(),
            reachable: true,
            error: None,
            applied: 1,
            pending: Vec::new(),
            failed: Vec::new(),
            other: Vec::new(),
            drift: None,
            drift_not_checked: None,
            drift_lines: String::new(),
            drifted,
            drift_failed,
            status_command: "cargo xtask db migrate status",
        }
    }

    fn status(databases: Vec<DatabaseStatus>) -> Status {
        Status {
            engine: "reachable",
            docker_host: "unix:///var/run/docker.sock".into(),
            container: "nelo_postgres".into(),
            state: "running".into(),
            running: true,
            image: None,
            port: None,
            volume: None,
            health: None,
            databases,
        }
    }

    #[test]
    fn drift_needs_attention_and_a_failed_check_alone_is_unknown() {
        let clean = || database(false, false);
        assert_eq!(status(vec![clean(), clean()]).exit_code(), 0);
        assert_eq!(status(vec![database(true, false), clean()]).exit_code(), 1);
        assert_eq!(status(vec![clean(), database(false, true)]).exit_code(), 2);
        let mut pending = database(false, true);
        pending.pending.push("20250101000000_a".into());
        assert_eq!(status(vec![pending, clean()]).exit_code(), 1);
    }
}
