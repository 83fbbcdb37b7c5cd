//! Backups under faults: a backup folder that fills up, and SIGINT/SIGTERM part way through
//! `db backup` and `db restore`. Nothing that looks complete is left unless it is, earlier
//! backups stay intact, and the target database stays as it was.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Sends `signal` to `child` once `started` says the work is under way; returns its exit code.
fn interrupt_when(
    mut child: std::process::Child,
    signal: libc::c_int,
    started: impl Fn() -> bool,
) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !started() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the command ended before it could be interrupted"
        );
        assert!(Instant::now() < deadline, "the command never got under way");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: the pid is our own child's, which has not been waited for yet.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0);
    child.wait().unwrap().code()
}

#[test]
fn sigint_and_sigterm_during_a_backup_leave_no_file_and_exit_130_and_143() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    execute(&sandbox.database_url(), BULKY_ROWS);
    let backups = sandbox.backups.path().to_path_buf();
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let child = sandbox
            .command(&["db", "backup"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Under way: pg_dump's first bytes are in the partial.
        let exit = interrupt_when(child, signal, || {
            std::fs::read_dir(&backups).is_ok_and(|entries| {
                entries.flatten().any(|entry| {
                    entry.file_name().to_str().unwrap().starts_with('.')
                        && entry.metadata().is_ok_and(|meta| meta.len() > 0)
                })
            })
        });
        assert_eq!(exit, Some(code), "signal {signal}");
        assert_eq!(entries(&backups), Vec::<String>::new(), "signal {signal}");
    }
    // The next backup is whole.
    sandbox.run(&["db", "backup"]).assert_success();
    let names = entries(&backups);
    assert_eq!(names.len(), 2, "{names:?}");
    let dump = names.iter().find(|name| name.ends_with(".dump")).unwrap();
    assert!(sha256_line_matches(&backups.join(dump)));
}

#[test]
fn sigint_and_sigterm_during_a_restore_leave_the_target_as_it_was_and_exit_130_and_143() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    execute(&sandbox.database_url(), BULKY_ROWS);
    sandbox.run(&["db", "backup"]).assert_success();
    let dump = sandbox.backups.path().join(
        entries(sandbox.backups.path())
            .into_iter()
            .find(|name| name.ends_with(".dump"))
            .unwrap(),
    );
    execute(&sandbox.database_url(), "DELETE FROM it_bulk WHERE id > 3");
    let server = sandbox.database_url().replace("/nelo_it", "/postgres");
    let scratch_databases = || -> i64 {
        query_one(
            &server,
            "SELECT count(*) FROM pg_database WHERE datname LIKE '%nelo\\_restoring%'",
        )
    };
    let restore_args = [
        "db",
        "restore",
        dump.to_str().unwrap(),
        "--into",
        "nelo_it",
        "--force",
    ];
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let child = sandbox
            .command(&restore_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Under way: rows are arriving in the scratch database.
        let exit = interrupt_when(child, signal, || {
            query_one::<i64>(
                &server,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'nelo_it_nelo_restoring' \
                 AND query ILIKE 'COPY%'",
            ) > 0
        });
        assert_eq!(exit, Some(code), "signal {signal}");
        let rows: i64 = query_one(&sandbox.database_url(), "SELECT count(*) FROM it_bulk");
        assert_eq!(rows, 3, "the interrupted restore changed the target");
        assert_eq!(
            scratch_databases(),
            0,
            "the scratch database was left behind"
        );
        let leftovers: Vec<String> = entries(sandbox.backups.path())
            .into_iter()
            .filter(|name| name.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    sandbox.run(&restore_args).assert_success();
    let rows: i64 = query_one(&sandbox.database_url(), "SELECT count(*) FROM it_bulk");
    assert_eq!(rows, 300_000);
}
