//! The Docker engine's socket cut in the middle of a command (a proxy in front of the real
//! socket, cut while the command streams through it): a clear error, not a hang nor a panic,
//! nothing that looks complete, and the next run (direct) converges with nothing leaked.

mod common;

use std::io::ErrorKind;
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Run, Sandbox, execute, query_one};

const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// A unix-socket proxy to the Docker engine that can be cut: every connection through it is
/// shut down at once, and new ones are closed as they arrive.
struct SocketProxy {
    dir: tempfile::TempDir,
    cut: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<UnixStream>>>,
}

impl SocketProxy {
    fn start() -> SocketProxy {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("docker.sock")).unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let streams: Arc<Mutex<Vec<UnixStream>>> = Arc::default();
        let (accept_cut, accept_streams) = (cut.clone(), streams.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if accept_cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(engine) = UnixStream::connect(DOCKER_SOCKET) else {
                    continue;
                };
                let mut registered = accept_streams.lock().unwrap();
                registered.push(client.try_clone().unwrap());
                registered.push(engine.try_clone().unwrap());
                drop(registered);
                pipe(client.try_clone().unwrap(), engine.try_clone().unwrap());
                pipe(engine, client);
            }
        });
        SocketProxy { dir, cut, streams }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// Cuts every connection, as a Docker engine that went away.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: UnixStream, mut to: UnixStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(error) if error.kind() == ErrorKind::NotFound => Vec::new(),
        Err(error) => panic!("{error}"),
    }
}

/// Waits (with a deadline) until `condition` holds.
fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_backup_whose_docker_socket_is_cut_fails_clearly_and_the_next_run_converges() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    execute(
        &sandbox.database_url(),
        "CREATE TABLE it_bulk (id int PRIMARY KEY, note text);
         INSERT INTO it_bulk SELECT i, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text)
         FROM generate_series(1, 300000) AS i",
    );
    let proxy = SocketProxy::start();
    let backups = sandbox.backups.path().to_path_buf();
    let child = sandbox
        .command(&["db", "backup"])
        .env("DOCKER_HOST", proxy.host())
        // The host's pg_dump would not go through Docker.
        .env("PATH", "/usr/bin/nonexistent")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the dump to begin", || {
        std::fs::read_dir(&backups).is_ok_and(|entries| {
            entries.flatten().any(|entry| {
                entry.file_name().to_str().unwrap().starts_with('.')
                    && entry.metadata().is_ok_and(|meta| meta.len() > 0)
            })
        })
    });
    let cut_at = Instant::now();
    proxy.cut();
    let run = Run::from(child.wait_with_output().unwrap());
    eprintln!(
        "reported {:.2} s after the cut; what the user sees:\n{}",
        cut_at.elapsed().as_secs_f64(),
        run.stderr
    );
    run.assert_failure_mentions("lost the connection to the Docker engine");
    assert!(run.stderr.contains(&proxy.host()), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(entries(&backups), Vec::<String>::new());

    // pg_dump in the container does not live on.
    let server = sandbox.database_url().replace("/nelo_it", "/postgres");
    wait_for("the cut pg_dump to end", || {
        query_one::<i64>(
            &server,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump'",
        ) == 0
    });
    let again = sandbox.run(&["db", "backup"]);
    again.assert_success();
    assert_eq!(entries(&backups).len(), 2, "{:?}", entries(&backups));
}

#[test]
fn a_db_up_whose_docker_socket_is_cut_while_the_server_starts_fails_clearly_and_the_next_run_converges()
 {
    // Cut once the container is created (before or while it is started), then once it runs
    // (while `db up` waits, through Docker, for the new server to initialise).
    for state in [None, Some("running")] {
        db_up_cut_when(state);
    }
}

/// Cuts once the container exists (`None`) or is in `state`.
fn db_up_cut_when(state: Option<&str>) {
    let sandbox = Sandbox::new();
    let proxy = SocketProxy::start();
    let child = sandbox
        .command(&["db", "up", "--no-backup"])
        .env("DOCKER_HOST", proxy.host())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&format!("the container to be {state:?}"), || {
        let observed = sandbox.container_state();
        observed.is_some() && (state.is_none() || observed.as_deref() == state)
    });
    let cut_at = Instant::now();
    proxy.cut();
    let run = Run::from(child.wait_with_output().unwrap());
    eprintln!(
        "cut when {state:?}, reported {:.2} s later; what the user sees:\n{}",
        cut_at.elapsed().as_secs_f64(),
        run.stderr
    );
    run.assert_failure_mentions("lost the connection to the Docker engine");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("did not accept connections in time"),
        "{}",
        run.stderr
    );

    let again = sandbox.run(&["db", "up", "--no-backup"]);
    again.assert_success();
    let applied: i64 = query_one(
        &sandbox.database_url(),
        "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL",
    );
    assert_eq!(applied, common::migration_count());
    // One container and one volume of the sandbox's, and no other left by the cut run.
    let leftovers = common::block_on({
        let prefix = sandbox.container.clone();
        move || async move {
            let containers = common::docker()
                .list_containers(Some(
                    bollard::query_parameters::ListContainersOptionsBuilder::new()
                        .all(true)
                        .build(),
                ))
                .await
                .unwrap();
            containers
                .into_iter()
                .flat_map(|summary| summary.names.unwrap_or_default())
                .filter(|name| name.trim_start_matches('/').starts_with(&prefix))
                .count()
        }
    });
    assert_eq!(leftovers, 1);
}
