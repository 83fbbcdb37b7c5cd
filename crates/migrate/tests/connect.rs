//! Connecting: transient failures are retried, authentication failures are not.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{TestDb, folder, ignore_events};
use nelo_migrate::{Error, Migrator, postgres};
use sqlx::{Connection, PgConnection};
use tokio::net::{TcpListener, TcpStream};

/// How the proxy turns away a connection.
#[derive(Clone, Copy)]
enum Refusal {
    /// Hang up at once, as a port whose server is not listening yet.
    HangUp,
    /// Answer the startup message as PostgreSQL does while it recovers or starts:
    /// `FATAL 57P03 the database system is starting up`.
    StartingUp,
}

/// Reads the client's startup message, declining SSL first if asked, and answers with
/// the ErrorResponse a starting server sends.
async fn answer_starting_up(client: &mut TcpStream) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const SSL_REQUEST: u32 = 80877103;
    loop {
        let length = client.read_u32().await? as usize;
        let mut body = vec![0; length.saturating_sub(4)];
        client.read_exact(&mut body).await?;
        if body.len() == 4 && u32::from_be_bytes(body[..4].try_into().unwrap()) == SSL_REQUEST {
            client.write_all(b"N").await?;
            continue;
        }
        break;
    }
    let mut fields = Vec::new();
    for (code, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "57P03"),
        (b'M', "the database system is starting up"),
    ] {
        fields.push(code);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    message.extend_from_slice(&fields);
    client.write_all(&message).await
}

/// A proxy to the test server that turns away the first `refuse` connections as `how`
/// says; returns its address and the number of connections it saw.
async fn refusing_proxy(refuse: usize, how: Refusal) -> (String, Arc<AtomicUsize>) {
    let server = url::Url::parse(&common::server_url()).unwrap();
    let upstream = format!(
        "{}:{}",
        server.host_str().unwrap(),
        server.port().unwrap_or(5432)
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            if seen.fetch_add(1, Ordering::SeqCst) < refuse {
                if let Refusal::StartingUp = how {
                    tokio::spawn(async move {
                        let _ = answer_starting_up(&mut client).await;
                    });
                }
                continue;
            }
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (address, connections)
}

fn through(url: &str, address: &str) -> url::Url {
    let mut url = url::Url::parse(url).unwrap();
    let (host, port) = address.split_once(':').unwrap();
    url.set_host(Some(host)).unwrap();
    url.set_port(Some(port.parse().unwrap())).unwrap();
    url
}

/// Deploys one migration through a proxy that turns away the first `refuse` connections
/// as `how` says; returns how many connections the proxy saw.
async fn deploy_after_refusals(refuse: usize, how: Refusal) -> usize {
    let db = TestDb::new().await;
    let (address, connections) = refusing_proxy(refuse, how).await;
    let dir = folder(&[("20250101000000_a", "CREATE TABLE a (id int);\n")]);
    let migrator = Migrator::new(dir.path()).connect_timeout(Duration::from_secs(30));
    let report = migrator
        .deploy(through(&db.url, &address).as_str(), ignore_events)
        .await
        .unwrap();
    assert_eq!(report.applied, ["20250101000000_a"]);
    connections.load(Ordering::SeqCst)
}

#[tokio::test]
async fn transient_failures_are_retried_until_the_server_answers() {
    assert_eq!(
        deploy_after_refusals(3, Refusal::HangUp).await,
        4,
        "three refused attempts, then one that worked"
    );
}

#[tokio::test]
async fn a_server_that_is_starting_up_is_waited_for() {
    assert_eq!(
        deploy_after_refusals(2, Refusal::StartingUp).await,
        3,
        "two answered 57P03, then one that worked"
    );
}

#[tokio::test]
async fn authentication_failure_is_not_retried() {
    let db = TestDb::new().await;
    let (address, connections) = refusing_proxy(0, Refusal::HangUp).await;
    let mut url = through(&db.url, &address);
    url.set_password(Some("wrong-password")).unwrap();
    let dir = folder(&[("20250101000000_a", "SELECT 1;\n")]);
    let migrator = Migrator::new(dir.path()).connect_timeout(Duration::from_secs(30));
    let error = migrator
        .deploy(url.as_str(), ignore_events)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::AuthenticationFailed { .. }),
        "{error:?}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unreachable_server_times_out_with_a_redacted_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener); // nothing listens there now: connection refused, again and again
    let dir = folder(&[("20250101000000_a", "SELECT 1;\n")]);
    let url = format!("postgresql://nelo:hunter2@127.0.0.1:{port}/nelo");
    let migrator = Migrator::new(dir.path()).connect_timeout(Duration::from_millis(300));
    let error = migrator.status(&url).await.unwrap_err();
    assert!(matches!(error, Error::ConnectTimeout { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("nelo:***@127.0.0.1") && !text.contains("hunter2"),
        "{text}"
    );
}

/// Drops the databases (templates too) a test made, even when it fails.
struct DropDatabases(Vec<String>);

impl Drop for DropDatabases {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.0);
        let dropped = common::on_own_runtime(move || async move {
            let mut admin = PgConnection::connect(&common::server_url()).await?;
            for name in names {
                postgres::drop_template(&mut admin, &name).await?;
            }
            admin.close().await
        });
        if !dropped {
            eprintln!("warning: could not drop the databases of a test");
        }
    }
}

#[tokio::test]
async fn databases_are_created_cloned_and_dropped_with_their_names_quoted() {
    let server = nelo_migrate::DatabaseUrl::parse(&common::server_url()).unwrap();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (name, clone) = (
        format!("nelo_mt_{id}_We\"ird"),
        format!("nelo_mt_{id}_clone"),
    );
    let _cleanup = DropDatabases(vec![name.clone(), clone.clone()]);
    let mut admin =
        postgres::connect_maintenance(&server.with_database(&name), postgres::CONNECT_TIMEOUT)
            .await
            .unwrap();

    assert!(postgres::ensure_database(&mut admin, &name).await.unwrap());
    assert!(!postgres::ensure_database(&mut admin, &name).await.unwrap());
    assert!(postgres::database_exists(&mut admin, &name).await.unwrap());
    postgres::create_database(&mut admin, &clone, Some(&name))
        .await
        .unwrap();
    assert!(postgres::database_exists(&mut admin, &clone).await.unwrap());

    // A connection to the database: dropped with it.
    let mut inside = postgres::connect(&server.with_database(&clone), postgres::CONNECT_TIMEOUT)
        .await
        .unwrap();
    postgres::drop_database(&mut admin, &clone).await.unwrap();
    assert!(!postgres::database_exists(&mut admin, &clone).await.unwrap());
    assert!(sqlx::query("SELECT 1").execute(&mut inside).await.is_err());
    postgres::drop_database(&mut admin, &clone).await.unwrap(); // absent is fine

    sqlx::raw_sql(&format!(
        "ALTER DATABASE {} WITH IS_TEMPLATE true",
        nelo_migrate::sql::quote_identifier(&name)
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let refused = postgres::drop_database(&mut admin, &name)
        .await
        .unwrap_err();
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("42809"),
        "{refused}"
    );
    postgres::drop_template(&mut admin, &name).await.unwrap();
    assert!(!postgres::database_exists(&mut admin, &name).await.unwrap());
}

#[tokio::test]
async fn a_missing_database_is_reported_at_once() {
    let server = nelo_migrate::DatabaseUrl::parse(&common::server_url()).unwrap();
    let missing = server.with_database(&format!("nelo_mt_{}", uuid::Uuid::new_v4().simple()));
    let error = postgres::connect(&missing, Duration::from_secs(600))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::DatabaseMissing { .. }), "{error:?}");
}

#[tokio::test]
async fn the_user_schema_filter_keeps_out_exactly_the_system_schemas() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    // A temporary table gives this session its `pg_temp_N` and `pg_toast_temp_N`.
    sqlx::raw_sql("CREATE SCHEMA app; CREATE TEMPORARY TABLE scratch (id int)")
        .execute(&mut conn)
        .await
        .unwrap();
    let catalog = format!(
        "SELECT nspname::text FROM pg_namespace WHERE {} ORDER BY 1",
        nelo_migrate::sql::user_schema("nspname")
    );
    let names = format!(
        "SELECT name FROM (VALUES ('pg_catalog'), ('information_schema'), ('pg_toast'),
           ('pg_toast_temp_7'), ('pg_temp_7'), ('pgxtoast'), ('pg_temporal'), ('app'))
           AS v (name) WHERE {} ORDER BY 1",
        nelo_migrate::sql::user_schema("name")
    );
    for standard_conforming_strings in ["on", "off"] {
        sqlx::raw_sql(&format!(
            "SET standard_conforming_strings = {standard_conforming_strings}"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        let user: Vec<String> = sqlx::query_scalar(&catalog)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert_eq!(user, ["app", "public"], "{standard_conforming_strings}");
        let kept: Vec<String> = sqlx::query_scalar(&names)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            kept,
            ["app", "pg_temporal", "pgxtoast"],
            "{standard_conforming_strings}"
        );
    }
}
