//! `cargo xtask db migrate diff`: `nelo-migrate diff`'s flags and output, with the shadow
//! databases on the development server.

use std::process::ExitCode;

use anyhow::Context as _;
use nelo_migrate_cli::{DiffOutputArgs, FromArgs, PlanArgs, ToArgs};

use crate::context::Context;
use crate::ui;
use crate::workflow::schema::shadow_options;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    from: FromArgs,
    #[command(flatten)]
    to: ToArgs,
    #[command(flatten)]
    output: DiffOutputArgs,
    #[command(flatten)]
    plan: PlanArgs,
}

/// Prints the summary, the script (`--script`) or the JSON (`--json`); exit 0, or 2 with
/// `--exit-code` when the sides differ.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let (from, to) = (args.from.source(), args.to.source());
    let bar = ui::spinner(format!("comparing {from} with {to}"));
    let diff = nelo_migrate::diff::diff(&from, &to, &args.plan.apply(shadow_options(ctx))).await;
    ui::clear(&bar);
    let diff = diff.with_context(|| format!("cannot diff {from} with {to}"))?;
    nelo_migrate_cli::print_stdout(&args.output.stdout_text(&diff)?)?;
    for note in &diff.notes {
        ui::note(format!("note: {note}"));
    }
    Ok(args.output.exit_code(&diff))
}
