//! Commands run inside a container through Docker's exec API: captured (`pg_dump --version`,
//! `psql -c`) or streamed (a dump to disk, a file into `pg_restore`'s stdin).

use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio::io::AsyncWrite;

use super::Engine;

/// How long Docker may take to record an exec's exit code once its output has ended.
const EXIT_CODE_DEADLINE: Duration = Duration::from_secs(30);

/// Room for Docker's largest frames (32 KiB) several times over, so the decoder rarely grows.
const OUTPUT_CAPACITY: usize = 256 * 1024;

/// A piece of an exec's output.
#[derive(Debug)]
pub enum ExecChunk {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// An exec that has started: read `output` to its end, write (then shut down) `input` when
/// stdin was attached, and ask [`Engine::exec_exit_code`] how it ended.
pub struct RunningExec {
    pub id: String,
    pub output: Pin<Box<dyn Stream<Item = anyhow::Result<ExecChunk>> + Send>>,
    pub input: Option<Pin<Box<dyn AsyncWrite + Send>>>,
}

/// What a captured exec printed and how it ended.
#[derive(Debug)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Engine {
    /// Starts `argv` in `container`, stdout and stderr attached (and stdin with `stdin`).
    pub async fn start_exec(
        &self,
        container: &str,
        argv: &[String],
        stdin: bool,
    ) -> anyhow::Result<RunningExec> {
        let options = CreateExecOptions {
            cmd: Some(argv.to_vec()),
            attach_stdin: Some(stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            ..Default::default()
        };
        let program = argv.first().map_or("", String::as_str);
        let created = self
            .api
            .create_exec(container, options)
            .await
            .map_err(|error| exec_error(error, container))
            .with_context(|| format!("cannot run `{program}` in container `{container}`"))?;
        let start = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: Some(OUTPUT_CAPACITY),
        };
        let started = self
            .api
            .start_exec(&created.id, Some(start))
            .await
            .map_err(|error| exec_error(error, container))
            .with_context(|| format!("cannot start `{program}` in container `{container}`"))?;
        let StartExecResults::Attached { output, input } = started else {
            bail!(
                "Docker detached `{program}` in container `{container}` although it was asked to attach"
            );
        };
        let output = output
            .map_err(|error| anyhow::Error::new(error).context("the exec's output stream broke"))
            .filter_map(|item| async move {
                match item {
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        Some(Ok(ExecChunk::Stdout(message)))
                    }
                    Ok(LogOutput::StdErr { message }) => Some(Ok(ExecChunk::Stderr(message))),
                    Ok(LogOutput::StdIn { .. }) => None,
                    Err(error) => Some(Err(error)),
                }
            });
        Ok(RunningExec {
            id: created.id,
            output: Box::pin(output),
            input: stdin.then_some(input),
        })
    }

    /// The exit code of an exec whose output has ended; `None` when it was killed without
    /// one. Waits (with a deadline) for Docker to record it.
    pub async fn exec_exit_code(&self, exec_id: &str) -> anyhow::Result<Option<i64>> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            let inspected = self
                .api
                .inspect_exec(exec_id)
                .await
                .with_context(|| format!("cannot inspect exec `{exec_id}`"))?;
            if inspected.running != Some(true) {
                return Ok(inspected.exit_code);
            }
            if started.elapsed() > EXIT_CODE_DEADLINE {
                bail!(
                    "exec `{exec_id}` closed its output but still runs after {} s",
                    EXIT_CODE_DEADLINE.as_secs()
                );
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Runs `argv` in `container` and collects its output (for small outputs).
    pub async fn exec_capture(
        &self,
        container: &str,
        argv: &[String],
    ) -> anyhow::Result<ExecOutput> {
        let mut running = self.start_exec(container, argv, false).await?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        while let Some(chunk) = running.output.next().await {
            match chunk? {
                ExecChunk::Stdout(bytes) => stdout.extend_from_slice(&bytes),
                ExecChunk::Stderr(bytes) => stderr.extend_from_slice(&bytes),
            }
        }
        let exit_code = self.exec_exit_code(&running.id).await?.unwrap_or(-1);
        Ok(ExecOutput {
            exit_code,
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Runs `argv` in `container` and returns its stdout; a non-zero exit is an error that
    /// carries stderr.
    pub async fn exec_checked(&self, container: &str, argv: &[String]) -> anyhow::Result<String> {
        let output = self.exec_capture(container, argv).await?;
        if output.exit_code != 0 {
            bail!(
                "`{}` exited with code {} in container `{container}`: {}",
                argv.join(" "),
                output.exit_code,
                output.stderr.trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// 404: no such container; 409: not running.
fn exec_error(error: BollardError, container: &str) -> anyhow::Error {
    let hint = match &error {
        BollardError::DockerResponseServerError {
            status_code: 404, ..
        } => Some(format!(
            "container `{container}` does not exist: `cargo xtask db up` creates it"
        )),
        BollardError::DockerResponseServerError {
            status_code: 409, ..
        } => Some(format!(
            "container `{container}` is not running: `cargo xtask db up` starts it"
        )),
        _ => None,
    };
    match hint {
        Some(hint) => anyhow::Error::new(error).context(hint),
        None => anyhow::Error::new(error),
    }
}
