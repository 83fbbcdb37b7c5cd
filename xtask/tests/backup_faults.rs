//! Backups under faults: a backup folder that fills up, and SIGINT/SIGTERM part way through
//! `db backup` and `db restore`. Nothing that looks complete is left unless it is, earlier
//! backups stay intact, and the target database stays as it was.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Sandbox, execute, query_one};

/// A small tmpfs mounted for one test (root only), unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` (and says why) when the test does not run as root.
    fn mount(size: &str) -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: mounting a small tmpfs as a full backup folder needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "cannot mount a tmpfs on {:?}", dir.path());
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Every entry of `dir`, by name, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Rows that compress badly: the dump is several MB even with zstd.
const BULKY_ROWS: &str = "CREATE TABLE it_bulk (id int PRIMARY KEY, note text);
     INSERT INTO it_bulk SELECT i, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text)
     FROM generate_series(1, 300000) AS i";

fn sha256_line_matches(dump: &Path) -> bool {
    let mut checksum = dump.as_os_str().to_owned();
    checksum.push(".sha256");
    let line = std::fs::read_to_string(PathBuf::from(checksum)).unwrap();
    let bytes = std::fs::read(dump).unwrap();
    use sha2::Digest;
    let actual = hex::encode(sha2::Sha256::digest(&bytes));
    line.starts_with(&actual)
}

#[test]
fn a_backup_folder_that_fills_up_fails_clearly_and_leaves_only_the_earlier_backups() {
    let Some(disk) = SmallDisk::mount("2m") else {
        return;
    };
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    execute(
        &sandbox.database_url(),
        "CREATE TABLE it_small (id int); INSERT INTO it_small VALUES (1), (2)",
    );
    let backup = |sandbox: &Sandbox| {
        common::Run::from(
            sandbox
                .command(&["db", "backup"])
                .env("NELO_BACKUP_DIR", disk.path())
                .output()
                .unwrap(),
        )
    };
    backup(&sandbox).assert_success();
    let earlier = entries(disk.path());
    assert_eq!(earlier.len(), 2, "{earlier:?}");

    execute(&sandbox.database_url(), BULKY_ROWS);
    let full = backup(&sandbox);
    eprintln!("what the user sees:\n{}", full.stderr);
    full.assert_failure_mentions(&format!(
        "the backup folder `{}` is full",
        disk.path().display()
    ));
    assert!(full.stderr.contains(" free of 2"), "{}", full.stderr);
    assert!(!full.stderr.contains("panicked"), "{}", full.stderr);
    // No partial, no dump under a final name, no `.sha256`: only the earlier backup.
    assert_eq!(entries(disk.path()), earlier);
    let earlier_dump = earlier.iter().find(|name| name.ends_with(".dump")).unwrap();
    assert!(sha256_line_matches(&disk.path().join(earlier_dump)));
    let rows: i64 = query_one(&sandbox.database_url(), "SELECT count(*) FROM it_bulk");
    assert_eq!(rows, 300_000);
}
