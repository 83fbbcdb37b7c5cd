//! `cargo xtask db logs`: the server's log, from Docker, to stdout and stderr as the server
//! wrote them.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::context::Context;
use crate::docker;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Keep printing new lines until Ctrl-C.
    #[arg(long, short)]
    follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let name = &ctx.config.container;
    let engine = docker::connect().await?;
    if engine.inspect_container(name).await?.is_none() {
        bail!("container `{name}` does not exist: `cargo xtask db up` creates it");
    }
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut stream = std::pin::pin!(engine.logs(name, args.follow, args.tail));
    loop {
        let chunk = tokio::select! {
            chunk = stream.next() => chunk,
            _ = tokio::signal::ctrl_c() => None,
        };
        let Some(chunk) = chunk else { break };
        let chunk = chunk?;
        let written = if chunk.stderr {
            stderr.write_all(&chunk.bytes).await
        } else {
            stdout.write_all(&chunk.bytes).await
        };
        match written {
            Ok(()) => {}
            // `db logs | head`: the reader has gone, which is not an error.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => break,
            Err(error) => return Err(error).context("cannot write the log"),
        }
    }
    let _ = stdout.flush().await;
    Ok(ExitCode::SUCCESS)
}
