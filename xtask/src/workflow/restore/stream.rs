//! Feeding a dump file to a program in the container (pg_restore or psql) through a Docker
//! exec's stdin, with a byte counter, directly or through the [`RoleFilter`]. A non-zero
//! exit is an error carrying its stderr.

use std::path::Path;

use anyhow::{Context as _, bail};
use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::docker::Engine;
use crate::docker::exec::ExecChunk;
use crate::dump::programs::{Format, pg_restore_script_argv, psql_script_argv};
use crate::dump::roles::RoleFilter;
use crate::dump::script::Restrictor;
use crate::ui;
use crate::workflow::pg_dump::keep_tail;

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
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    let total = file.metadata().await.map(|meta| meta.len()).unwrap_or(0);
    let mut running = engine.start_exec(container, argv, true).await?;
    let input = running.input.take().expect("stdin attached");
    let bar = ui::byte_counter(label.to_string());
    bar.set_length(total);
    let feed = copy_file(file, input, &bar);
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
    ui::clear(&bar);
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

/// Restores `path` into `database` through `filter` (when there is one): a plain script goes
/// from the file, a custom archive as the script pg_restore makes of it; either goes into
/// psql restricted (a `\restrict` of a key of ours first, the script's own dropped), so psql
/// runs no meta-command from it. Each program's non-zero exit is an error carrying its stderr.
pub(crate) async fn restore_filtered(
    engine: &Engine,
    container: &str,
    user: &str,
    path: &Path,
    format: Format,
    database: &str,
    filter: Option<&mut RoleFilter>,
) -> anyhow::Result<()> {
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    let total = file.metadata().await.map(|meta| meta.len()).unwrap_or(0);
    let bar = ui::byte_counter(format!("restoring into `{database}`"));
    bar.set_length(total);
    let psql_argv = psql_script_argv(user, database);
    let mut psql = engine.start_exec(container, &psql_argv, true).await?;
    let psql_input = psql.input.take().expect("stdin attached");
    let psql_output = std::mem::replace(&mut psql.output, Box::pin(futures_util::stream::empty()));

    let (script, pg_restore) = match format {
        Format::Plain => (Script::File(file), None),
        Format::Custom => {
            let argv = pg_restore_script_argv();
            let mut running = engine.start_exec(container, &argv, true).await?;
            let input = running.input.take().expect("stdin attached");
            let output =
                std::mem::replace(&mut running.output, Box::pin(futures_util::stream::empty()));
            (
                Script::PgRestore {
                    output,
                    feed: Box::pin(copy_file(file, input, &bar)),
                },
                Some(running.id),
            )
        }
    };
    let drain = async {
        let mut stderr = BytesMut::new();
        let mut output = psql_output;
        while let Some(chunk) = output.next().await {
            if let ExecChunk::Stderr(bytes) = chunk? {
                keep_tail(&mut stderr, &bytes);
            }
        }
        anyhow::Ok(String::from_utf8_lossy(&stderr).into_owned())
    };
    let (pumped, psql_stderr) = tokio::join!(pump(script, psql_input, filter, &bar), drain);
    ui::clear(&bar);
    let psql_failure = match engine.exec_exit_code(&psql.id).await? {
        Some(0) => None,
        code => {
            let program = match format {
                Format::Plain => "psql",
                Format::Custom => "psql, running the script pg_restore made of the archive,",
            };
            Some(exit_failure(program, code, &psql_stderr?))
        }
    };
    let pg_restore_failure = match &pg_restore {
        Some(id) => match engine.exec_exit_code(id).await? {
            Some(0) => None,
            code => Some(exit_failure(
                "pg_restore",
                code,
                pumped.as_deref().unwrap_or_default(),
            )),
        },
        None => None,
    };
    // The first to fail is the cause: psql when it stopped reading (pg_restore then only
    // lost its reader), pg_restore when psql read to the end of what it got.
    match (pumped.is_err(), psql_failure, pg_restore_failure) {
        (true, Some(psql), _) => Err(psql),
        (_, _, Some(pg_restore)) => Err(pg_restore),
        (_, Some(psql), None) => Err(psql),
        (_, None, None) => pumped.map(|_| ()),
    }
}

fn exit_failure(program: &str, code: Option<i64>, stderr: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{program} exited with code {}: {}",
        code.map_or("none".to_string(), |code| code.to_string()),
        stderr.trim()
    )
}

type Output = std::pin::Pin<Box<dyn futures_util::Stream<Item = anyhow::Result<ExecChunk>> + Send>>;
type Input = std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>;

/// Where the SQL script comes from.
enum Script<F> {
    File(tokio::fs::File),
    /// pg_restore's output, while `feed` sends it the archive.
    PgRestore {
        output: Output,
        feed: F,
    },
}

/// Sends `file` to a program's stdin, then closes it.
async fn copy_file(
    mut file: tokio::fs::File,
    mut input: Input,
    bar: &ui::Progress,
) -> std::io::Result<()> {
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
}

/// Moves the script through `filter` into psql's stdin and closes it; returns pg_restore's
/// stderr. When psql stops reading, everything upstream is dropped (closing pg_restore's
/// streams), so nothing waits forever.
async fn pump<F>(
    script: Script<F>,
    mut psql_input: Input,
    mut filter: Option<&mut RoleFilter>,
    bar: &ui::Progress,
) -> anyhow::Result<String>
where
    F: std::future::Future<Output = std::io::Result<()>> + Unpin,
{
    let mut restrictor = Restrictor::new();
    let mut pass = |bytes: &[u8], last: bool| {
        let restricted = if last {
            restrictor.finish()
        } else {
            restrictor.push(bytes)
        };
        match filter.as_deref_mut() {
            Some(filter) if last => {
                let mut out = filter.push(&restricted);
                out.extend(filter.finish());
                out
            }
            Some(filter) => filter.push(&restricted),
            None => restricted,
        }
    };
    let mut pg_restore_stderr = BytesMut::new();
    match script {
        Script::File(mut file) => {
            let mut buffer = BytesMut::with_capacity(READ_BUFFER);
            loop {
                buffer.clear();
                let read = file.read_buf(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                psql_input.write_all(&pass(&buffer, false)).await?;
                bar.inc(read as u64);
            }
        }
        Script::PgRestore {
            mut output,
            mut feed,
        } => {
            let mut fed: Option<std::io::Result<()>> = None;
            loop {
                tokio::select! {
                    result = &mut feed, if fed.is_none() => fed = Some(result),
                    chunk = output.next() => match chunk {
                        Some(chunk) => match chunk? {
                            ExecChunk::Stdout(bytes) => {
                                psql_input.write_all(&pass(&bytes, false)).await?;
                            }
                            ExecChunk::Stderr(bytes) => keep_tail(&mut pg_restore_stderr, &bytes),
                        },
                        None => break,
                    },
                }
            }
        }
    }
    psql_input.write_all(&pass(&[], true)).await?;
    psql_input.shutdown().await?;
    Ok(String::from_utf8_lossy(&pg_restore_stderr).into_owned())
}
