//! Running pg_dump and streaming its output to disk: in the container through a Docker exec,
//! or on the host when its pg_dump is recent enough. Memory stays constant: chunks go
//! straight to the [`AtomicDump`] writer, hashed on the way.

use std::process::Stdio;

use anyhow::Context as _;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use crate::config::DatabaseUrl;
use crate::context::Context;
use crate::docker::Engine;
use crate::docker::exec::ExecChunk;
use crate::dump::programs::{
    Compression, Dumper, Format, choose_dumper, compression_for, is_unsupported_compression,
    parse_major_version, pg_dump_argv,
};
use crate::dump_file::{AtomicDump, DumpPath, WrittenDump};
use crate::ui;

/// pg_dump's stderr is kept up to this size (its end), for the error message.
const STDERR_LIMIT: usize = 64 * 1024;
const HOST_READ_BUFFER: usize = 128 * 1024;

/// Dumps `url`'s database to `path` (atomically, with `path.sha256`). `compression: None`
/// picks zstd:1 when pg_dump supports it and falls back to pg_dump's default when it refuses.
/// With `snapshot`, pg_dump dumps the database as that exported snapshot sees it.
pub(crate) async fn dump_to_file(
    ctx: &Context,
    engine: &Engine,
    url: &DatabaseUrl,
    format: Format,
    compression: Option<Compression>,
    snapshot: Option<&str>,
    path: &DumpPath,
) -> anyhow::Result<WrittenDump> {
    let container = &ctx.config.container;
    let picked = pick_dumper(engine, container, url)
        .await
        .with_context(|| format!("cannot back up database `{}`", url.database()))?;
    let compression = match compression {
        Some(compression) => compression,
        None => {
            let version = match picked.dumper {
                Dumper::Exec => {
                    let argv = ["pg_dump".to_string(), "--version".to_string()];
                    engine.exec_checked(container, &argv).await?
                }
                Dumper::Host => picked.host_version.clone(),
            };
            compression_for(parse_major_version(&version).unwrap_or(0), format)
        }
    };
    let argv = pg_dump_argv(&url.user(), &url.database(), format, &compression, snapshot);
    match dump_once(engine, container, url, picked.dumper, &argv, path).await {
        Err(DumpError::Refused(stderr))
            if compression == Compression::Zstd(1) && is_unsupported_compression(&stderr) =>
        {
            ui::note("pg_dump cannot compress with zstd here; using its default compression");
            let argv = pg_dump_argv(
                &url.user(),
                &url.database(),
                format,
                &Compression::Default,
                snapshot,
            );
            dump_once(engine, container, url, picked.dumper, &argv, path)
                .await
                .map_err(DumpError::into_anyhow)
        }
        result => result.map_err(DumpError::into_anyhow),
    }
    .with_context(|| format!("cannot back up database `{}`", url.database()))
}

/// Which pg_dump runs, and what the host's said of its version.
struct PickedDumper {
    dumper: Dumper,
    /// The host's `pg_dump --version` output; empty when the host has no pg_dump.
    host_version: String,
}

/// The container's pg_dump unless the host has one at least as recent as the server.
async fn pick_dumper(
    engine: &Engine,
    container: &str,
    url: &DatabaseUrl,
) -> anyhow::Result<PickedDumper> {
    let Some(host_version) = host_pg_dump_version().await else {
        return Ok(PickedDumper {
            dumper: Dumper::Exec,
            host_version: String::new(),
        });
    };
    let query = [
        "psql",
        "--no-psqlrc",
        "--tuples-only",
        "--no-align",
        "--username",
        &url.user(),
        "--dbname",
        &url.database(),
        "--command",
        "SHOW server_version_num",
    ]
    .map(String::from);
    let server = engine.exec_checked(container, &query).await?;
    let server_major = server
        .trim()
        .parse::<u32>()
        .map(|number| number / 10_000)
        .unwrap_or(u32::MAX);
    let host_major = parse_major_version(&host_version);
    Ok(PickedDumper {
        dumper: choose_dumper(host_major, server_major),
        host_version,
    })
}

async fn host_pg_dump_version() -> Option<String> {
    let program = which::which("pg_dump").ok()?;
    let output = tokio::process::Command::new(program)
        .arg("--version")
        .output()
        .await
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

enum DumpError {
    /// pg_dump ran and exited non-zero (or was killed): its stderr.
    Refused(String),
    Other(anyhow::Error),
}

impl DumpError {
    fn into_anyhow(self) -> anyhow::Error {
        match self {
            DumpError::Refused(stderr) => anyhow::anyhow!("pg_dump failed: {}", stderr.trim()),
            DumpError::Other(error) => error,
        }
    }
}

impl From<anyhow::Error> for DumpError {
    fn from(error: anyhow::Error) -> DumpError {
        DumpError::Other(error)
    }
}

async fn dump_once(
    engine: &Engine,
    container: &str,
    url: &DatabaseUrl,
    dumper: Dumper,
    argv: &[String],
    path: &DumpPath,
) -> Result<WrittenDump, DumpError> {
    let mut dump = AtomicDump::create(path)?;
    let bar = ui::byte_counter(format!("dumping `{}`", url.database()));
    let result = match dumper {
        Dumper::Exec => stream_exec(engine, container, argv, &mut dump, &bar).await,
        Dumper::Host => stream_host(url, argv, &mut dump, &bar).await,
    };
    ui::clear(&bar);
    result?;
    // Only a pg_dump that exited 0 gets its file put in place; otherwise `dump` is dropped
    // and its partial removed.
    Ok(dump.commit().await?)
}

async fn stream_exec(
    engine: &Engine,
    container: &str,
    argv: &[String],
    dump: &mut AtomicDump,
    bar: &ui::Progress,
) -> Result<(), DumpError> {
    let mut running = engine.start_exec(container, argv, false).await?;
    let mut stderr = BytesMut::new();
    while let Some(chunk) = running.output.next().await {
        match chunk? {
            ExecChunk::Stdout(bytes) => {
                bar.inc(bytes.len() as u64);
                dump.write(bytes).await?;
            }
            ExecChunk::Stderr(bytes) => keep_tail(&mut stderr, &bytes),
        }
    }
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    match engine.exec_exit_code(&running.id).await {
        Ok(Some(0)) => Ok(()),
        Ok(Some(code)) => Err(DumpError::Refused(format!("exit code {code}: {stderr}"))),
        Ok(None) => Err(DumpError::Refused(format!(
            "it ended without an exit code (was container `{container}` stopped?) {stderr}"
        ))),
        Err(error) => Err(DumpError::Other(error.context(format!(
            "pg_dump's output ended but its exit code is unknown (was container `{container}` \
             stopped or removed?) {stderr}"
        )))),
    }
}

async fn stream_host(
    url: &DatabaseUrl,
    argv: &[String],
    dump: &mut AtomicDump,
    bar: &ui::Progress,
) -> Result<(), DumpError> {
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .args([
            "--host",
            url.host(),
            "--port",
            &url.port().to_string(),
            "--no-password",
        ])
        .env("PGPASSWORD", url.password())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the host's pg_dump")?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr_pipe = child.stderr.take().expect("piped");
    let stderr_task = tokio::spawn(async move {
        let mut stderr = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut stderr).await;
        stderr
    });
    loop {
        let mut buffer = BytesMut::with_capacity(HOST_READ_BUFFER);
        let read = stdout
            .read_buf(&mut buffer)
            .await
            .context("cannot read pg_dump's output")?;
        if read == 0 {
            break;
        }
        bar.inc(read as u64);
        dump.write(buffer.freeze()).await?;
    }
    let status = child
        .wait()
        .await
        .context("cannot wait for the host's pg_dump")?;
    let stderr = stderr_task.await.unwrap_or_default();
    let stderr =
        String::from_utf8_lossy(&stderr[stderr.len().saturating_sub(STDERR_LIMIT)..]).into_owned();
    if !status.success() {
        return Err(DumpError::Refused(format!("{status}: {stderr}")));
    }
    Ok(())
}

/// Appends `bytes` to captured stderr, keeping only the last [`STDERR_LIMIT`] bytes.
pub(crate) fn keep_tail(buffer: &mut BytesMut, bytes: &Bytes) {
    buffer.extend_from_slice(bytes);
    if buffer.len() > STDERR_LIMIT {
        let excess = buffer.len() - STDERR_LIMIT;
        let _ = buffer.split_to(excess);
    }
}
