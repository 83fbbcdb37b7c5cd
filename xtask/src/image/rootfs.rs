//! The image's root file system: debootstrap into a folder, trim it, install the entrypoint,
//! and stream it as a tar archive, following [`super::recipe`].

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use super::recipe::{ENTRYPOINT, ENTRYPOINT_PATH, TRIM, debootstrap_args, trim_target};

/// Runs debootstrap into `target`, calling `progress` with each `I: ...` line; a failure
/// carries the last lines of its output.
pub async fn debootstrap(target: &Path, mut progress: impl FnMut(&str)) -> anyhow::Result<()> {
    let mut child = tokio::process::Command::new("debootstrap")
        .args(debootstrap_args(target))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run debootstrap")?;
    let (sender, mut receiver) = mpsc::channel::<String>(64);
    forward_lines(child.stdout.take(), sender.clone());
    forward_lines(child.stderr.take(), sender);
    let mut last_lines = VecDeque::new();
    while let Some(line) = receiver.recv().await {
        if line.starts_with("I: ") {
            progress(&line);
        }
        if last_lines.len() == 20 {
            last_lines.pop_front();
        }
        last_lines.push_back(line);
    }
    let status = child.wait().await.context("cannot wait for debootstrap")?;
    if !status.success() {
        let log =
            std::fs::read_to_string(target.join("debootstrap/debootstrap.log")).unwrap_or_default();
        let log_tail: Vec<&str> = log.lines().rev().take(15).collect();
        bail!(
            "debootstrap failed ({status}):\n{}\n{}",
            Vec::from(last_lines).join("\n"),
            log_tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(())
}

fn forward_lines(
    stream: Option<impl AsyncRead + Unpin + Send + 'static>,
    sender: mpsc::Sender<String>,
) {
    let Some(stream) = stream else { return };
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if sender.send(line).await.is_err() {
                break;
            }
        }
    });
}

/// Removes what [`TRIM`] names and installs the entrypoint.
pub fn finish(root: &Path) -> anyhow::Result<()> {
    for entry in TRIM {
        let (path, contents_only) = trim_target(entry);
        let path = root.join(path);
        if contents_only {
            let Ok(children) = std::fs::read_dir(&path) else {
                continue;
            };
            for child in children {
                remove(&child?.path())?;
            }
        } else {
            remove(&path)?;
        }
    }
    let entrypoint = root.join(ENTRYPOINT_PATH);
    std::fs::create_dir_all(
        entrypoint
            .parent()
            .expect("the entrypoint path has a folder"),
    )?;
    std::fs::write(&entrypoint, ENTRYPOINT)
        .with_context(|| format!("cannot write {}", entrypoint.display()))?;
    std::fs::set_permissions(&entrypoint, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

fn remove(path: &Path) -> anyhow::Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    };
    result.with_context(|| format!("cannot remove {}", path.display()))
}

/// A tar archive of `root`, built on a blocking thread and handed over in chunks, so memory
/// stays small; symlinks, modes and ownership are kept.
pub fn tar_stream(root: PathBuf) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(8);
    tokio::task::spawn_blocking(move || {
        let writer = ChunkWriter {
            sender: sender.clone(),
            buffer: Vec::new(),
        };
        let mut builder = tar::Builder::new(writer);
        builder.follow_symlinks(false);
        let written = builder
            .append_dir_all("", &root)
            .and_then(|()| builder.into_inner())
            .and_then(|mut writer| writer.flush());
        if let Err(error) = written {
            let _ = sender.blocking_send(Err(error));
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    })
}

const CHUNK_SIZE: usize = 256 * 1024;

struct ChunkWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_SIZE {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the import stopped reading"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_tar_stream_keeps_symlinks_and_modes() {
        use futures_util::StreamExt;
        let folder = tempfile::tempdir().unwrap();
        std::fs::create_dir(folder.path().join("bin")).unwrap();
        std::fs::write(folder.path().join("bin/tool"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            folder.path().join("bin/tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("bin/tool", folder.path().join("link")).unwrap();
        let chunks: Vec<Bytes> = tar_stream(folder.path().to_path_buf())
            .map(|chunk| chunk.unwrap())
            .collect()
            .await;
        let archive_bytes: Vec<u8> = chunks.concat();
        let mut archive = tar::Archive::new(archive_bytes.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let header = entry.header();
            match path.as_str() {
                "bin/tool" => assert_eq!(header.mode().unwrap() & 0o777, 0o755),
                "link" => {
                    assert_eq!(header.entry_type(), tar::EntryType::Symlink);
                    assert_eq!(
                        header.link_name().unwrap().unwrap().display().to_string(),
                        "bin/tool"
                    );
                }
                _ => {}
            }
            seen.push(path);
        }
        seen.sort();
        assert_eq!(seen, ["bin", "bin/tool", "link"]);
    }
}
