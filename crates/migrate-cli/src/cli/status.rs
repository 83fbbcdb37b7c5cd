//! `nelo-migrate status`.

use std::process::ExitCode;

use anyhow::Context;
use nelo_migrate::{State, StatusReport};

use super::args::{ConnectionArgs, MigrationsArgs, migrator};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    migrations: MigrationsArgs,
    /// Print the report as JSON on stdout
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = args.connection.url()?;
    let report = migrator(&args.migrations, &args.connection)
        .status(url.as_str())
        .await
        .with_context(|| format!("cannot tell the status of {url}"))?;
    if args.json {
        let json = serde_json::json!({
            "up_to_date": report.is_up_to_date(),
            "entries": report.entries,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(if report.is_up_to_date() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The human report: one line per migration, then what to do next.
fn table(report: &StatusReport) -> String {
    let width = report
        .entries
        .iter()
        .map(|entry| entry.name.len())
        .max()
        .unwrap_or(9)
        .max(9);
    let mut text = format!(
        "{:width$}  {:20}  STATE\n",
        "MIGRATION", "FINISHED AT (UTC)"
    );
    for entry in &report.entries {
        let finished = entry.finished_at.map_or_else(
            || "-".to_string(),
            |at| at.format("%Y-%m-%d %H:%M:%S").to_string(),
        );
        text += &format!("{:width$}  {finished:20}  {}\n", entry.name, entry.state);
    }
    let count = |state| report.in_state(state).count();
    let advice = [
        (State::Pending, "run `nelo-migrate deploy`"),
        (
            State::Failed,
            "fix it, then `nelo-migrate resolve --rolled-back NAME` (or `--applied NAME`)",
        ),
        (
            State::Modified,
            "restore the applied file, or add a new migration for the change",
        ),
        (State::Missing, "restore the folder from version control"),
    ];
    text += &format!(
        "\n{} migration(s), {} applied\n",
        report.entries.len(),
        count(State::Applied)
    );
    for (state, what_to_do) in advice {
        if count(state) > 0 {
            text += &format!("{} {state}: {what_to_do}\n", count(state));
        }
    }
    if report.is_up_to_date() {
        text += "the database is up to date\n";
    }
    text
}
