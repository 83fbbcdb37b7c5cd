//! Feeding a dump file to a program in the container (pg_restore or psql) through a Docker
//! exec's stdin, with a byte counter. A non-zero exit is an error carrying its stderr.

use std::path::Path;

use anyhow::{Context as _, bail};
use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::db::backup::keep_tail;
use crate::docker::Engine;
use crate::docker::exec::ExecChunk;
use crate::ui;

const READ_BUFFER: usize = 256 * 1024;

/// How the program reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reads {
    /// To the end: a write that fails means it stopped early, which is an error.
    Everything,
    /// Only the start (`pg_restore --list` reads the table of contents and exits).
    Start,
}

/// Runs `argv` in `container` with `path` on its stdin; returns its stdout.
pub(crate) async fn feed_file(
    engine: &Engine,
    container: &str,
    argv: &[String],
    path: &Path,
    label: &str,
    reads: Reads,
) -> anyhow::Result<Vec<u8>> {
    let program = argv[0].clone();
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    let total = file.metadata().await.map(|meta| meta.len()).unwrap_or(0);
    let mut running = engine.start_exec(container, argv, true).await?;
    let mut input = running.input.take().expect("stdin attached");
    let bar = ui::byte_counter(label.to_string());
    bar.set_length(total);
    let feed = async {
        let mut buffer = BytesMut::with_capacity(READ_BUFFER);
        loop {
            buffer.clear();
            let read = file.read_buf(&mut buffer).await?;
            if read == 0 {
                break;
            }
            input.write_all(&buffer).await?;
            bar.inc(read as u64);
        }
        input.shutdown().await
    };
    let drain = async {
        let mut stdout = Vec::new();
        let mut stderr = BytesMut::new();
        while let Some(chunk) = running.output.next().await {
            match chunk? {
                ExecChunk::Stdout(bytes) => stdout.extend_from_slice(&bytes),
                ExecChunk::Stderr(bytes) => keep_tail(&mut stderr, &bytes),
            }
        }
        anyhow::Ok((stdout, String::from_utf8_lossy(&stderr).into_owned()))
    };
    let (fed, drained) = tokio::join!(feed, drain);
    ui::failed(&bar);
    let (stdout, stderr) = drained?;
    let exit_code = engine.exec_exit_code(&running.id).await?;
    if exit_code != Some(0) {
        bail!(
            "{program} exited with code {}: {}",
            exit_code.map_or("none".to_string(), |code| code.to_string()),
            stderr.trim()
        );
    }
    if reads == Reads::Everything {
        // The program succeeded, so it read everything; a write error means it stopped early.
        fed.with_context(|| format!("cannot send `{}` to {program}", path.display()))?;
    }
    Ok(stdout)
}
