//! `cargo xtask db down`: stops the container with PostgreSQL's fast shutdown; the data stays
//! in its volume for the next `db up`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;

use crate::context::Context;
use crate::{docker, ui};

/// How long the server may take to shut down before Docker kills it.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(clap::Args, Debug)]
pub struct Args {}

pub async fn run(ctx: &Context, _args: Args) -> anyhow::Result<ExitCode> {
    let name = &ctx.config.container;
    let engine = docker::connect().await?;
    let Some(observed) = engine.inspect_container(name).await? else {
        ui::step(format!(
            "container `{name}` does not exist; nothing to stop"
        ));
        return Ok(ExitCode::SUCCESS);
    };
    if !observed.is_managed() {
        bail!("container `{name}` was not created by nelo; stop it yourself if you mean to");
    }
    if !observed.running {
        ui::step(format!(
            "container `{name}` is already stopped ({})",
            observed.status
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let bar = ui::spinner(format!("stopping `{name}`"));
    match engine.stop_container(name, STOP_TIMEOUT).await {
        Ok(_) => ui::done(
            &bar,
            format!(
                "stopped container `{name}`; the data stays in volume `{}` (`cargo xtask db up` \
                 starts it again)",
                ctx.config.volume
            ),
        ),
        Err(error) => {
            ui::failed(&bar);
            return Err(error);
        }
    }
    Ok(ExitCode::SUCCESS)
}
