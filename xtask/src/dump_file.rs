//! A dump written so that it never looks complete unless it is: bytes go to a `.partial`
//! dotfile (mode 0600, unique to the dump) on a writer thread that hashes them in the same
//! pass; [`AtomicDump::commit`] fsyncs it, links it into place without replacing anything
//! (a numbered dump settles its name there: the first of `name`, `name-2`, `name-3`... that
//! is free, so that two backups in the same second both succeed), writes the `.sha256` and
//! fsyncs the directory. Dropped without a commit, the partial is removed; a killed process leaves
//! only the dotfile, which [`sweep_stale_partials`] removes later.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::dump::name::{
    CHECKSUM_SUFFIX, checksum_line, numbered_file_name, parse_partial_file_name, partial_file_name,
};
use crate::{os, ui};

const WRITE_BUFFER: usize = 1024 * 1024;
/// Chunks in flight between the stream and the writer thread (Docker's are 32 KiB at most).
const CHANNEL_CHUNKS: usize = 64;
/// How many numbered names a commit tries before it gives up.
const NAME_ATTEMPTS: u32 = 1000;

/// Where a dump goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpPath {
    pub path: PathBuf,
    /// Whether the name may become `-2`, `-3`... when it is taken at commit; an exact path
    /// (`--output FILE`) fails instead.
    pub numbered: bool,
}

impl DumpPath {
    pub fn exact(path: PathBuf) -> DumpPath {
        DumpPath {
            path,
            numbered: false,
        }
    }

    pub fn numbered(path: PathBuf) -> DumpPath {
        DumpPath {
            path,
            numbered: true,
        }
    }
}

/// What was written and where.
#[derive(Debug)]
pub struct WrittenDump {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

pub struct AtomicDump {
    final_path: PathBuf,
    numbered: bool,
    partial_path: PathBuf,
    sender: Option<mpsc::Sender<Bytes>>,
    writer: Option<JoinHandle<io::Result<(u64, String)>>>,
    committed: bool,
}

impl AtomicDump {
    /// Creates the partial beside `target`'s path, whose name is settled at commit.
    pub fn create(target: &DumpPath) -> anyhow::Result<AtomicDump> {
        let final_path = target.path.as_path();
        let dir = final_path.parent().context("a dump path has a directory")?;
        let final_name = final_path
            .file_name()
            .and_then(|name| name.to_str())
            .context("a dump path has a UTF-8 file name")?;
        // Unique to this dump, so that two dumps aiming at one name do not meet before commit.
        let token = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let partial_path = dir.join(partial_file_name(
            &format!("{final_name}.{token}"),
            std::process::id(),
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial_path)
            .with_context(|| format!("cannot create `{}`", partial_path.display()))?;
        let (sender, mut receiver) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
        let writer = std::thread::Builder::new()
            .name("dump-writer".to_string())
            .spawn(move || {
                let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
                let mut hasher = Sha256::new();
                let mut bytes = 0u64;
                while let Some(chunk) = receiver.blocking_recv() {
                    hasher.update(&chunk);
                    out.write_all(&chunk)?;
                    bytes += chunk.len() as u64;
                }
                let file = out.into_inner().map_err(|error| error.into_error())?;
                file.sync_all()?;
                Ok((bytes, hex::encode(hasher.finalize())))
            })
            .context("cannot start the dump writer thread")?;
        Ok(AtomicDump {
            final_path: final_path.to_path_buf(),
            numbered: target.numbered,
            partial_path,
            sender: Some(sender),
            writer: Some(writer),
            committed: false,
        })
    }

    /// Queues a chunk; waits while the writer is behind, so memory stays bounded.
    pub async fn write(&mut self, chunk: Bytes) -> anyhow::Result<()> {
        let sender = self.sender.as_ref().expect("not committed");
        if sender.send(chunk).await.is_err() {
            // The writer stopped: its error says why.
            return Err(self
                .join_writer()
                .await
                .err()
                .unwrap_or_else(|| anyhow!("the dump writer stopped")));
        }
        Ok(())
    }

    /// Finishes the file and puts it in place with its `.sha256`.
    pub async fn commit(mut self) -> anyhow::Result<WrittenDump> {
        let (bytes, sha256) = self.join_writer().await?;
        let final_path = self.link_into_place()?;
        // Without its `.sha256` (a disk that filled up just now), the dump does not keep the
        // name: the partial is still there and goes when `self` is dropped.
        if let Err(error) = write_checksum(&final_path, &sha256) {
            let _ = fs::remove_file(&final_path);
            let dir = final_path.parent().expect("checked in create");
            let full = error
                .chain()
                .filter_map(|cause| cause.downcast_ref::<io::Error>())
                .any(is_disk_full);
            return Err(if full {
                error.context(disk_full_message(dir))
            } else {
                error
            });
        }
        self.final_path = final_path;
        self.committed = true;
        let _ = fs::remove_file(&self.partial_path);
        sync_directory(self.final_path.parent().expect("checked in create"))?;
        Ok(WrittenDump {
            path: self.final_path.clone(),
            bytes,
            sha256,
        })
    }

    /// Links the partial to its final name; a hard link fails when the name is taken, where
    /// a rename would replace a backup. A numbered dump takes the next name then.
    fn link_into_place(&self) -> anyhow::Result<PathBuf> {
        let file_name = self
            .final_path
            .file_name()
            .and_then(|name| name.to_str())
            .expect("checked in create");
        for attempt in 1..=NAME_ATTEMPTS {
            let candidate = self
                .final_path
                .with_file_name(numbered_file_name(file_name, attempt));
            // A `.sha256` without its dump still claims the name.
            let claimed = checksum_path(&candidate).exists();
            let linked = if claimed {
                Err(io::Error::from(io::ErrorKind::AlreadyExists))
            } else {
                fs::hard_link(&self.partial_path, &candidate)
            };
            match linked {
                Ok(()) => return Ok(candidate),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && self.numbered => {}
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!("cannot move the dump into `{}`", candidate.display())
                    });
                }
            }
        }
        anyhow::bail!(
            "cannot move the dump into `{}`: {NAME_ATTEMPTS} names after it are taken too",
            self.final_path.display()
        )
    }

    async fn join_writer(&mut self) -> anyhow::Result<(u64, String)> {
        self.sender = None;
        let writer = self
            .writer
            .take()
            .context("the dump writer already finished")?;
        let partial = self.partial_path.display().to_string();
        let written = tokio::task::spawn_blocking(move || writer.join())
            .await
            .context("the dump writer could not be joined")?
            .map_err(|_| anyhow!("the dump writer panicked"))?;
        match written {
            Ok(written) => Ok(written),
            Err(error) if is_disk_full(&error) => {
                let dir = self.final_path.parent().expect("checked in create");
                Err(anyhow::Error::new(error)
                    .context(format!("cannot write `{partial}`"))
                    .context(disk_full_message(dir)))
            }
            Err(error) => Err(error).with_context(|| format!("cannot write `{partial}`")),
        }
    }
}

impl Drop for AtomicDump {
    fn drop(&mut self) {
        if !self.committed {
            self.sender = None;
            let _ = fs::remove_file(&self.partial_path);
        }
    }
}

/// `<dump>.sha256`, written to a temporary and renamed, mode 0600.
fn write_checksum(dump_path: &Path, sha256: &str) -> anyhow::Result<()> {
    let file_name = dump_path
        .file_name()
        .and_then(|name| name.to_str())
        .expect("checked in create");
    let checksum_path = checksum_path(dump_path);
    let temporary = dump_path.with_file_name(partial_file_name(
        &format!("{file_name}{CHECKSUM_SUFFIX}"),
        std::process::id(),
    ));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot create `{}`", temporary.display()))?;
    file.write_all(checksum_line(sha256, file_name).as_bytes())?;
    file.sync_all()?;
    fs::rename(&temporary, &checksum_path)
        .with_context(|| format!("cannot write `{}`", checksum_path.display()))?;
    Ok(())
}

/// Whether a write failed because the file system is full (`ENOSPC`) or the user's quota is
/// (`EDQUOT`).
pub(crate) fn is_disk_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// The backup folder is full: where, how much is free, and what to do.
fn disk_full_message(dir: &Path) -> String {
    let space = match os::free_space(dir) {
        Some((free, total)) => format!("{} free of {}", ui::bytes(free), ui::bytes(total)),
        None => "its free space is unknown".to_string(),
    };
    format!(
        "the backup folder `{}` is full ({space}): the partial dump was removed and earlier \
         backups are untouched; free some space (`cargo xtask db backups --prune --keep N`) or \
         point NELO_BACKUP_DIR (or --output) at a folder with room",
        dir.display()
    )
}

/// `nelo-...dump` -> `nelo-...dump.sha256`.
pub fn checksum_path(dump_path: &Path) -> PathBuf {
    let mut path = dump_path.as_os_str().to_owned();
    path.push(CHECKSUM_SUFFIX);
    PathBuf::from(path)
}

fn sync_directory(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .with_context(|| format!("cannot sync directory `{}`", dir.display()))
}

/// The SHA-256 of a file, read in large blocks.
pub fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut hasher = Sha256::new();
    io::copy(
        &mut io::BufReader::with_capacity(WRITE_BUFFER, &mut file),
        &mut hasher,
    )
    .with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Removes the partials of dumps whose writer is gone (killed or interrupted); returns how
/// many. Partials of live processes are left alone.
pub fn sweep_stale_partials(dir: &Path) -> anyhow::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot list `{}`", dir.display()));
        }
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(parse_partial_file_name) else {
            continue;
        };
        if !os::is_alive(pid) && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn a_committed_dump_is_in_place_with_its_checksum_and_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nelo-20261124T101500Z-manual.dump");
        let mut dump = AtomicDump::create(&DumpPath::exact(path.clone())).unwrap();
        dump.write(Bytes::from_static(b"PGDMP")).await.unwrap();
        dump.write(Bytes::from_static(b" rest")).await.unwrap();
        let written = dump.commit().await.unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"PGDMP rest");
        assert_eq!(written.bytes, 10);
        assert_eq!(written.sha256, sha256_of(&path).unwrap());
        let line = fs::read_to_string(checksum_path(&path)).unwrap();
        assert_eq!(
            line,
            format!("{}  nelo-20261124T101500Z-manual.dump\n", written.sha256)
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[tokio::test]
    async fn an_abandoned_dump_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.dump");
        let mut dump = AtomicDump::create(&DumpPath::exact(path.clone())).unwrap();
        dump.write(Bytes::from_static(b"half")).await.unwrap();
        drop(dump);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn an_existing_backup_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.dump");
        fs::write(&path, b"old").unwrap();
        let dump = AtomicDump::create(&DumpPath::exact(path.clone())).unwrap();
        assert!(dump.commit().await.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[tokio::test]
    async fn two_dumps_aiming_at_one_name_both_commit_under_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nelo-20261124T101500Z-manual.dump");
        let mut first = AtomicDump::create(&DumpPath::numbered(path.clone())).unwrap();
        let mut second = AtomicDump::create(&DumpPath::numbered(path.clone())).unwrap();
        first.write(Bytes::from_static(b"PGDMP one")).await.unwrap();
        second
            .write(Bytes::from_static(b"PGDMP two"))
            .await
            .unwrap();
        let second = second.commit().await.unwrap();
        let first = first.commit().await.unwrap();
        assert_eq!(second.path, path);
        assert_eq!(
            first.path,
            dir.path().join("nelo-20261124T101500Z-manual-2.dump")
        );
        assert_eq!(fs::read(&second.path).unwrap(), b"PGDMP two");
        assert_eq!(fs::read(&first.path).unwrap(), b"PGDMP one");
        for written in [&first, &second] {
            let line = fs::read_to_string(checksum_path(&written.path)).unwrap();
            assert!(line.starts_with(&written.sha256), "{line}");
        }
        // An exact path is never replaced, nor renamed.
        let exact = AtomicDump::create(&DumpPath::exact(path.clone())).unwrap();
        assert!(exact.commit().await.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"PGDMP two");
    }

    #[test]
    fn only_partials_of_dead_writers_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let live = partial_file_name("a.dump", std::process::id());
        // Beyond the largest pid Linux hands out.
        let dead = partial_file_name("b.dump", 99_999_999);
        for name in [&live, &dead, &"c.dump".to_string()] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(sweep_stale_partials(dir.path()).unwrap(), 1);
        assert!(dir.path().join(&live).exists());
        assert!(!dir.path().join(&dead).exists());
        assert!(dir.path().join("c.dump").exists());
    }
}
