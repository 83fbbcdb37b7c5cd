//! Faults during a deploy, on a real server: a connection cut mid-migration (a TCP proxy
//! that drops it), SIGINT and SIGTERM. Nothing half-applied, the lock free again within a
//! bounded time, and the next deploy completes.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{TestDb, binary, folder, ignore_events, wait_for, write_migration};
use nelo_migrate::{Error, Migrator, State};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const SLOW: &str = "CREATE TABLE half (a int);\nSELECT pg_sleep(60);\n";

/// Whether a statement of `db` sleeps in `pg_sleep` (the migration is in progress).
async fn sleeping(db: &TestDb) -> bool {
    db.scalar::<bool>(&format!(
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = '{}' \
         AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid())",
        db.name
    ))
    .await
}

/// Whether anyone holds an advisory lock in `db` (the migration lock).
async fn lock_free(db: &TestDb) -> bool {
    db.scalar::<bool>(
        "SELECT NOT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
    )
    .await
}

/// A TCP proxy to the test server that can cut every connection through it at once.
struct CuttableProxy {
    port: u16,
    connections: std::sync::Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl CuttableProxy {
    async fn start() -> Self {
        let server = url::Url::parse(&common::server_url()).unwrap();
        let upstream = format!(
            "{}:{}",
            server.host_str().unwrap(),
            server.port().unwrap_or(5432)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tracked = connections.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().unwrap().push(task);
            }
        });
        Self {
            port,
            connections,
            acceptor,
        }
    }

    /// `db`'s URL through the proxy.
    fn url(&self, db: &TestDb) -> String {
        let mut url = url::Url::parse(&db.url).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }

    /// Drops every connection through the proxy, both ways.
    fn cut(&self) {
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        self.acceptor.abort();
    }
}

#[tokio::test]
async fn a_connection_cut_mid_migration_applies_nothing_and_the_rerun_completes() {
    let db = TestDb::new().await;
    let proxy = CuttableProxy::start().await;
    let dir = folder(&[("20250101000000_slow", SLOW)]);
    let migrator = Migrator::new(dir.path());
    let through_proxy = proxy.url(&db);
    let deploy = tokio::spawn(async move { migrator.deploy(&through_proxy, ignore_events).await });
    wait_for("the migration to run", Duration::from_secs(30), || {
        sleeping(&db)
    })
    .await;
    proxy.cut();
    let error = tokio::time::timeout(Duration::from_secs(30), deploy)
        .await
        .expect("a cut connection ends the deploy")
        .unwrap()
        .unwrap_err();
    let text = error.to_string();
    match error {
        Error::ConnectionLost(loss) => assert!(loss.atomic),
        other => panic!("{other:?}"),
    }
    assert!(text.contains("running deploy again is safe"), "{text}");
    // The server notices the client is gone within about a second, not after pg_sleep(60).
    wait_for("the lock to be free", Duration::from_secs(20), || {
        lock_free(&db)
    })
    .await;
    wait_for("the migration to stop", Duration::from_secs(20), || async {
        !sleeping(&db).await
    })
    .await;
    assert!(!db.table_exists("half").await, "nothing half-applied");
    write_migration(
        dir.path(),
        "20250101000000_slow",
        "CREATE TABLE half (a int);\n",
    );
    let report = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    assert_eq!(report.applied, ["20250101000000_slow"]);
}

/// Starts `nelo-migrate deploy` on `dir`, waits for its migration to sleep, sends `signal`.
async fn interrupt_deploy(db: &TestDb, dir: &std::path::Path, signal: i32) -> std::process::Output {
    let child = binary()
        .args(["deploy", "--database-url", &db.url, "--migrations"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output());
    wait_for("the migration to run", Duration::from_secs(30), || {
        sleeping(db)
    })
    .await;
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("the signal ends the deploy")
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn sigint_during_a_migration_rolls_it_back_exits_130_and_frees_the_lock() {
    let db = TestDb::new().await;
    let dir = folder(&[("20250101000000_slow", SLOW)]);
    let output = interrupt_deploy(&db, dir.path(), libc::SIGINT).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    wait_for("the lock to be free", Duration::from_secs(20), || {
        lock_free(&db)
    })
    .await;
    wait_for("the migration to stop", Duration::from_secs(20), || async {
        !sleeping(&db).await
    })
    .await;
    assert!(!db.table_exists("half").await);
    let status = Migrator::new(dir.path()).status(&db.url).await.unwrap();
    assert_eq!(
        status.get("20250101000000_slow").unwrap().state,
        State::Pending
    );
}

#[tokio::test]
async fn sigterm_during_a_statement_by_statement_migration_keeps_its_steps_and_exits_143() {
    let db = TestDb::new().await;
    let dir = folder(&[(
        "20250101000000_steps",
        &format!("-- nelo:no-transaction\n{SLOW}"),
    )]);
    let output = interrupt_deploy(&db, dir.path(), libc::SIGTERM).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    wait_for("the lock to be free", Duration::from_secs(20), || {
        lock_free(&db)
    })
    .await;
    // Its first statement ran and is recorded; the migration is failed, to be resolved.
    assert!(db.table_exists("half").await);
    let history = db.history().await;
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].1, history[0].3), (false, 1));
    let status = Migrator::new(dir.path()).status(&db.url).await.unwrap();
    assert_eq!(
        status.get("20250101000000_steps").unwrap().state,
        State::Failed
    );
}
