//! `nelo-migrate status`.

use std::process::ExitCode;

use anyhow::Context;
use nelo_migrate::diff::drift;
use nelo_migrate_cli::{drift_json, drift_summary, print_stdout, status_table};

use super::args::{ConnectionArgs, MigrationsArgs, ShadowArgs, migrator};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    migrations: MigrationsArgs,
    /// Print the report as JSON on stdout
    #[arg(long)]
    json: bool,
    /// Also check for drift: replay the applied migrations in a shadow database and compare
    /// it with the database (creates and drops a database on the shadow server; off by
    /// default so that a plain status never writes to a production server)
    #[arg(long)]
    drift: bool,
    #[command(flatten)]
    shadow: ShadowArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = args.connection.url()?;
    let report = migrator(&args.migrations, &args.connection)
        .status(url.as_str())
        .await
        .with_context(|| format!("cannot tell the status of {url}"))?;
    // A drift check that fails leaves the status it cannot add to: shown all the same.
    let (drift, drift_error) = if args.drift {
        let options = args.shadow.options(None, args.connection.connect_timeout);
        match drift(url.as_str(), &args.migrations.dir, &options).await {
            Ok(drift) => (Some(drift), None),
            Err(error) => (
                None,
                Some(anyhow::Error::from(error).context(format!("cannot check {url} for drift"))),
            ),
        }
    } else {
        (None, None)
    };
    let drifted = drift.as_ref().is_some_and(|drift| !drift.is_empty());
    // Unmodelled objects on one side only: the drift check cannot tell, as when it fails.
    let cannot_tell = drift
        .as_ref()
        .is_some_and(|drift| !drift.cannot_tell().is_empty());
    if args.json {
        let json = serde_json::json!({
            "up_to_date": report.is_up_to_date(),
            "entries": report.entries,
            "drift": drift.as_ref().map(drift_json),
        });
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
    } else {
        print_stdout(&status_table(&report, super::COMMANDS))?;
        if let Some(drift) = &drift {
            let command = format!(
                "nelo-migrate diff --from-migrations {} --to-url \"$DATABASE_URL\" --script",
                args.migrations.dir.display()
            );
            print_stdout(&drift_summary(drift, &command))?;
        }
    }
    if let Some(error) = &drift_error {
        super::ui::error(error);
    }
    let code = exit_code(
        report.is_up_to_date(),
        drifted,
        drift_error.is_some() || cannot_tell,
    );
    Ok(ExitCode::from(code))
}

/// 1 when the migrations need attention or the database drifted; else 2 when the drift check
/// failed or cannot tell (unknown); else 0.
fn exit_code(up_to_date: bool, drifted: bool, drift_check_failed: bool) -> u8 {
    if !up_to_date || drifted {
        1
    } else if drift_check_failed {
        2
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::exit_code;

    #[test]
    fn a_failed_drift_check_is_unknown_only_when_nothing_else_needs_attention() {
        assert_eq!(exit_code(true, false, false), 0);
        assert_eq!(exit_code(true, true, false), 1);
        assert_eq!(exit_code(false, false, false), 1);
        assert_eq!(exit_code(false, false, true), 1);
        assert_eq!(exit_code(true, false, true), 2);
    }
}
