//! Faults during a deploy, on a real server: a connection cut mid-migration (a TCP proxy
//! that drops it), a half-open connection (the proxy black-holes or freezes it), SIGINT and
//! SIGTERM. Nothing half-applied, the lock free again within a
//! bounded time, and the next deploy completes.

mod common;

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestDb, TestRole, binary, folder, ignore_events, wait_for, write_migration};
use nelo_migrate::{Error, Migrator, State};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
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

/// What the proxy does to the connections through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Forwards both ways.
    None,
    /// Forwards nothing more, closes the server's side and keeps the client's socket open:
    /// the client hears nothing, ever (a half-open connection).
    BlackHole,
    /// Forwards nothing more and keeps both sockets open: each side waits for the other.
    Freeze,
}

/// A TCP proxy to the test server that can cut, black-hole or freeze every connection
/// through it at once, and stop answering new ones.
struct CuttableProxy {
    port: u16,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
    fault: watch::Sender<Fault>,
    /// New connections are accepted and never forwarded.
    unanswered: Arc<AtomicBool>,
    /// Sockets kept open by a black hole or a freeze, closed when the proxy is dropped.
    held: Arc<Mutex<Vec<TcpStream>>>,
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
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (fault, faults) = watch::channel(Fault::None);
        let unanswered = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (tracked, unanswered_new, held_sockets) =
            (connections.clone(), unanswered.clone(), held.clone());
        let acceptor = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if unanswered_new.load(Ordering::SeqCst) {
                    held_sockets.lock().unwrap().push(client);
                    continue;
                }
                let (upstream, mut faults, held) =
                    (upstream.clone(), faults.clone(), held_sockets.clone());
                let task = tokio::spawn(async move {
                    // A fault applies to the connections open when it is injected.
                    faults.borrow_and_update();
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => return,
                        _ = faults.changed() => {}
                    }
                    let fault = *faults.borrow();
                    let mut held = held.lock().unwrap();
                    held.push(client);
                    if fault == Fault::Freeze {
                        held.push(server);
                    }
                });
                tracked.lock().unwrap().push(task);
            }
        });
        Self {
            port,
            connections,
            acceptor,
            fault,
            unanswered,
            held,
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

    /// Applies `fault` to every open connection; with `answer_new` false, new connections
    /// are accepted and never answered (the server unreachable).
    fn inject(&self, fault: Fault, answer_new: bool) {
        self.unanswered.store(!answer_new, Ordering::SeqCst);
        self.fault.send_replace(fault);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        self.acceptor.abort();
        self.held.lock().unwrap().clear();
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

/// A deploy through the proxy (`query` appended to its URL) whose migration sleeps,
/// black-holed once it sleeps (with `answer_new` false, new connections are not answered
/// either): the error it ends with, within a generous hang guard (the watchdog's bounds are
/// seconds).
async fn deploy_into_a_black_hole(db: &TestDb, answer_new: bool, query: &str) -> Error {
    let proxy = CuttableProxy::start().await;
    let dir = folder(&[("20250101000000_slow", SLOW)]);
    let migrator = Migrator::new(dir.path());
    let through_proxy = format!("{}{query}", proxy.url(db));
    let deploy = tokio::spawn(async move { migrator.deploy(&through_proxy, ignore_events).await });
    wait_for("the migration to run", Duration::from_secs(30), || {
        sleeping(db)
    })
    .await;
    proxy.inject(Fault::BlackHole, answer_new);
    tokio::time::timeout(Duration::from_secs(120), deploy)
        .await
        .expect("the watchdog ends a deploy whose connection is half-open")
        .unwrap()
        .unwrap_err()
}

/// The lock is free, nothing of the migration is applied and a deploy of it completes.
async fn assert_nothing_applied_and_the_rerun_completes(db: &TestDb) {
    wait_for("the lock to be free", Duration::from_secs(30), || {
        lock_free(db)
    })
    .await;
    assert!(!db.table_exists("half").await, "nothing half-applied");
    assert!(
        !db.table_exists("_prisma_migrations").await,
        "no history row (the table came with the migration's transaction)"
    );
    let dir = folder(&[("20250101000000_slow", "CREATE TABLE half (a int);\n")]);
    let report = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    assert_eq!(report.applied, ["20250101000000_slow"]);
}

fn assert_lost_and_safe_to_rerun(error: Error, reason: &str) {
    let text = error.to_string();
    match error {
        Error::ConnectionLost(loss) => {
            assert!(loss.atomic);
            assert_eq!(loss.migration, "20250101000000_slow");
        }
        other => panic!("{other:?}"),
    }
    assert!(text.contains("running deploy again is safe"), "{text}");
    assert!(text.contains(reason), "{text}");
}

#[tokio::test]
async fn a_half_open_connection_mid_migration_ends_the_deploy_as_lost_and_the_rerun_completes() {
    let db = TestDb::new().await;
    // The server's side closed (it rolls back within a second), the client's socket silent.
    let error = deploy_into_a_black_hole(&db, true, "").await;
    assert_lost_and_safe_to_rerun(error, "the server says the session of this run has ended");
    assert_nothing_applied_and_the_rerun_completes(&db).await;
}

#[tokio::test]
async fn a_server_unreachable_mid_migration_ends_the_deploy_after_socket_timeout() {
    let db = TestDb::new().await;
    // Nothing answers any more, not even new connections; the URL's bound is 3 s of silence.
    let error = deploy_into_a_black_hole(&db, false, "?socket_timeout=3").await;
    assert_lost_and_safe_to_rerun(error, "the server has not answered for");
    assert_nothing_applied_and_the_rerun_completes(&db).await;
}

#[tokio::test]
async fn an_answer_lost_on_the_way_ends_the_deploy_and_the_orphaned_session_with_its_lock() {
    let db = TestDb::new().await;
    db.execute("CREATE SCHEMA gate; CREATE TABLE gate.gate ()")
        .await;
    let proxy = CuttableProxy::start().await;
    let dir = folder(&[(
        "20250101000000_gated",
        "LOCK TABLE gate.gate;\nCREATE TABLE after_gate (a int);\n",
    )]);
    let mut holder = db.connect().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE gate.gate")
        .execute(&mut holder)
        .await
        .unwrap();
    // The gate is a lock wait: without a DDL lock timeout it lasts until the test opens it.
    let migrator = Migrator::new(dir.path()).ddl_lock_timeout(Duration::ZERO);
    let through_proxy = proxy.url(&db);
    let deploy = tokio::spawn(async move { migrator.deploy(&through_proxy, ignore_events).await });
    let waiting_for_the_gate = format!(
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = '{}' \
         AND wait_event_type = 'Lock' AND query LIKE '%LOCK TABLE gate.gate%' \
         AND pid <> pg_backend_pid())",
        db.name
    );
    wait_for(
        "the migration to wait at the gate",
        Duration::from_secs(30),
        || db.scalar::<bool>(&waiting_for_the_gate),
    )
    .await;
    // Both sockets stay open and nothing is forwarded; then the migration completes on the
    // server, whose answer never reaches the client, and its session waits for the next query.
    proxy.inject(Fault::Freeze, true);
    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    let error = tokio::time::timeout(Duration::from_secs(120), deploy)
        .await
        .expect("the watchdog ends a deploy whose answer was lost")
        .unwrap()
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::ConnectionLost(_)), "{error:?}");
    assert!(text.contains("the answer was lost on the way"), "{text}");
    // The orphaned session held the session-level migration lock: the watchdog ended it.
    wait_for("the lock to be free", Duration::from_secs(30), || {
        lock_free(&db)
    })
    .await;
    // The migration committed with its history row before its answer was lost: once.
    let history = db.history().await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(
        (history[0].0.as_str(), history[0].1),
        ("20250101000000_gated", true)
    );
    let report = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
}

/// With the lock-safe DDL's defaults, a lock wait retries and a second connection looks at
/// the blocker; neither may hide from the watchdog a run whose answer was lost.
#[tokio::test]
async fn a_retried_lock_wait_whose_answer_is_lost_still_ends_as_lost() {
    let db = TestDb::new().await;
    db.execute("CREATE SCHEMA gate; CREATE TABLE gate.gate ()")
        .await;
    let proxy = CuttableProxy::start().await;
    let dir = folder(&[(
        "20250101000000_gated",
        "LOCK TABLE gate.gate;\nCREATE TABLE after_gate (a int);\n",
    )]);
    let mut holder = db.connect().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE gate.gate")
        .execute(&mut holder)
        .await
        .unwrap();
    let migrator = Migrator::new(dir.path());
    let through_proxy = proxy.url(&db);
    let deploy = tokio::spawn(async move { migrator.deploy(&through_proxy, ignore_events).await });
    let waiting_for_the_gate = format!(
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = '{}' \
         AND wait_event_type = 'Lock' AND query LIKE '%LOCK TABLE gate.gate%' \
         AND pid <> pg_backend_pid())",
        db.name
    );
    wait_for(
        "the migration to wait at the gate",
        Duration::from_secs(30),
        || db.scalar::<bool>(&waiting_for_the_gate),
    )
    .await;
    // The lock timeout's error (or a later attempt's answer) never reaches the client.
    proxy.inject(Fault::Freeze, true);
    let error = tokio::time::timeout(Duration::from_secs(120), deploy)
        .await
        .expect("the watchdog ends a deploy whose answer was lost")
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, Error::ConnectionLost(_)), "{error:?}");
    assert!(!db.table_exists("after_gate").await);
    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    wait_for("the lock to be free", Duration::from_secs(30), || {
        lock_free(&db)
    })
    .await;
    let report = Migrator::new(dir.path())
        .deploy(&db.url, ignore_events)
        .await
        .unwrap();
    assert_eq!(report.applied, ["20250101000000_gated"]);
}

#[tokio::test]
async fn a_long_migration_whose_watchdog_cannot_connect_is_never_stopped() {
    // The role may hold one connection: the deploy's. Each probe is refused (too many
    // connections), which is an answer: the server is alive. Were a refusal taken for silence,
    // the URL's 2 s bound would stop the deploy at the first probe, 5 s in.
    let role = TestRole::new();
    let db = TestDb::new().await;
    db.execute(&format!(
        "CREATE ROLE {} LOGIN PASSWORD 'pw' CONNECTION LIMIT 1; ALTER DATABASE {} OWNER TO {}",
        role.name, db.name, role.name
    ))
    .await;
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username(&role.name).unwrap();
    url.set_password(Some("pw")).unwrap();
    url.set_query(Some("socket_timeout=2"));
    let dir = folder(&[(
        "20250101000000_long",
        "CREATE TABLE long_one (a int);\nSELECT pg_sleep(12);\n",
    )]);
    let report = Migrator::new(dir.path())
        .deploy(url.as_str(), ignore_events)
        .await
        .unwrap();
    assert_eq!(report.applied, ["20250101000000_long"]);
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
