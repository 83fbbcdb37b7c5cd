//! `nelo-migrate push`: the schema file applied directly, without a migration (prototyping,
//! as `prisma db push`).

use std::path::PathBuf;
use std::process::ExitCode;

use nelo_migrate::diff::{PushOptions, push_with_locks};
use nelo_migrate_cli::{difference_lines, print_stdout, push_json};

use super::args::{ConnectionArgs, DdlLockArgs, LockArgs, ShadowArgs};
use super::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    ddl_locks: DdlLockArgs,
    #[command(flatten)]
    shadow: ShadowArgs,
    /// The declared schema: a SQL file, or a folder of .sql files applied in name order
    #[arg(long, value_name = "PATH")]
    schema: PathBuf,
    /// Apply the change even when a step loses data (a dropped table or column, a narrowed
    /// type)
    #[arg(long)]
    accept_data_loss: bool,
    /// Print what was applied as JSON on stdout
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = args.connection.url()?;
    let options = PushOptions {
        diff: args
            .shadow
            .options(Some(url.as_str()), args.connection.connect_timeout),
        accept_data_loss: args.accept_data_loss,
        lock_timeout: args.lock.lock_timeout,
    };
    let pushed =
        match push_with_locks(url.as_str(), &args.schema, &options, args.ddl_locks.locks()).await {
            Ok(pushed) => pushed,
            // Not a failure of the push: it cannot tell what to do, so it exits 2 ("could not
            // tell"), as `status` does.
            Err(nelo_migrate::Error::Diff(error))
                if matches!(*error, nelo_migrate::diff::DiffError::CannotTell { .. }) =>
            {
                ui::error(&anyhow::Error::from(nelo_migrate::Error::Diff(error)));
                return Ok(ExitCode::from(2));
            }
            Err(error) => {
                return Err(anyhow::Error::from(error)
                    .context(format!("cannot push `{}` to {url}", args.schema.display())));
            }
        };
    let diff = &pushed.diff;
    if args.json {
        print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&push_json(diff))?
        ))?;
    } else if diff.is_empty() {
        ui::note(&format!(
            "{url} is already in sync with `{}`; nothing to apply",
            args.schema.display()
        ));
    } else {
        print_stdout(&difference_lines(&diff.differences))?;
        for warning in &diff.plan.warnings {
            ui::warning(&format!("applied with data loss: {warning}"));
        }
        ui::note(&format!(
            "{url} is now in sync with `{}` (no migration was recorded: write one with `nelo-migrate create --name NAME --from-schema {}` before deploying elsewhere)",
            args.schema.display(),
            args.schema.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
