//! `db up`, `db down` and `db destroy` against the real Docker engine.

mod common;

use common::{Sandbox, execute, migration_count, query_one};

#[test]
fn up_from_nothing_creates_both_databases_with_vector_and_migrations_then_does_nothing() {
    let sandbox = Sandbox::new();
    let first = sandbox.run(&["db", "up"]);
    first.assert_success();
    assert!(
        first.stderr.contains(&sandbox.container),
        "{}",
        first.stderr
    );
    assert!(
        !first.stderr.contains(common::PASSWORD),
        "password leaked:\n{}",
        first.stderr
    );
    for url in [sandbox.database_url(), sandbox.test_database_url()] {
        let vector: i64 = query_one(
            &url,
            "SELECT count(*) FROM pg_extension WHERE extname = 'vector'",
        );
        assert_eq!(vector, 1, "vector missing in {url}");
        let applied: i64 = query_one(
            &url,
            "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL \
             AND rolled_back_at IS NULL",
        );
        assert_eq!(applied, migration_count(), "migrations missing in {url}");
    }

    let second = sandbox.run(&["db", "up"]);
    second.assert_success();
    assert!(second.stderr.contains("nothing to do"), "{}", second.stderr);
}

#[test]
fn down_keeps_the_data_for_the_next_up() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up"]).assert_success();
    execute(
        &sandbox.database_url(),
        "CREATE TABLE it_kept (value int); INSERT INTO it_kept VALUES (42)",
    );

    sandbox.run(&["db", "down"]).assert_success();
    assert_eq!(sandbox.container_state().as_deref(), Some("exited"));
    let again = sandbox.run(&["db", "down"]);
    again.assert_success();
    assert!(again.stderr.contains("already stopped"), "{}", again.stderr);

    sandbox.run(&["db", "up"]).assert_success();
    let kept: i32 = query_one(&sandbox.database_url(), "SELECT value FROM it_kept");
    assert_eq!(kept, 42);
}

#[test]
fn destroy_refuses_without_force_and_removes_everything_with_it() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up"]).assert_success();

    let refused = sandbox.run(&["db", "destroy"]);
    refused.assert_failure_mentions("--force");
    assert!(
        refused.stderr.contains(&sandbox.container),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(&sandbox.volume),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("nelo_it_test"),
        "{}",
        refused.stderr
    );
    assert_eq!(sandbox.container_state().as_deref(), Some("running"));
    assert!(sandbox.volume_exists());

    sandbox.run(&["db", "destroy", "--force"]).assert_success();
    assert_eq!(sandbox.container_state(), None);
    assert!(!sandbox.volume_exists());
}

#[test]
fn down_without_a_container_says_so_and_succeeds() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["db", "down"]);
    run.assert_success();
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
}

/// A `tcp://` endpoint forwarding to the local Docker socket, as a remote engine would be
/// reached; it lives as long as the test process.
fn docker_over_tcp() -> String {
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|host| host.strip_prefix("unix://").map(str::to_string))
        .unwrap_or_else(|| "/var/run/docker.sock".to_string());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((mut client, _)) = listener.accept().await {
                let socket = socket.clone();
                tokio::spawn(async move {
                    if let Ok(mut engine) = tokio::net::UnixStream::connect(&socket).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                    }
                });
            }
        });
    });
    format!("tcp://{address}")
}

#[test]
fn a_tcp_docker_host_is_used_for_everything() {
    let sandbox = Sandbox::new();
    let host = docker_over_tcp();
    let run = |args: &[&str]| {
        common::Run::from(
            sandbox
                .command(args)
                .env("DOCKER_HOST", &host)
                .output()
                .unwrap(),
        )
    };
    run(&["db", "up"]).assert_success();
    let status = run(&["db", "status"]);
    status.assert_success();
    assert!(status.stdout.contains(&host), "{}", status.stdout);
    assert!(status.stdout.contains("(running)"), "{}", status.stdout);
    // A backup streams pg_dump through an exec, over the same connection.
    run(&["db", "backup"]).assert_success();
    run(&["db", "destroy", "--force"]).assert_success();
    assert_eq!(sandbox.container_state(), None);
}

#[test]
fn migrate_reset_asks_then_backs_up_and_resets() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up"]).assert_success();
    let url = sandbox.test_database_url();
    execute(&url, "CREATE TABLE it_marker (id int)");
    let marker_exists = || {
        query_one::<bool>(
            &sandbox.test_database_url(),
            "SELECT to_regclass('it_marker') IS NOT NULL",
        )
    };
    let args = "db migrate reset --test --skip-seed";

    // Without a terminal: refused, with the flag to use.
    let piped = common::with_input(sandbox.command(&args.split(' ').collect::<Vec<_>>()), "");
    assert!(!piped.status.success());
    assert!(
        String::from_utf8_lossy(&piped.stderr).contains("--force"),
        "{piped:?}"
    );
    // In a terminal, a wrong name cancels.
    let wrong = common::with_input(common::in_a_terminal(&sandbox, args), "nelo_it\n");
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stdout).contains("reset cancelled"),
        "{wrong:?}"
    );
    assert!(marker_exists(), "a cancelled reset changed the database");
    assert!(
        std::fs::read_dir(sandbox.backups.path())
            .unwrap()
            .next()
            .is_none()
    );

    // The right name: a backup first, then the reset.
    let right = common::with_input(common::in_a_terminal(&sandbox, args), "nelo_it_test\n");
    let screen = String::from_utf8_lossy(&right.stdout);
    assert!(right.status.success(), "{screen}");
    assert!(!marker_exists(), "{screen}");
    let applied: i64 = query_one(&url, "SELECT count(*) FROM _prisma_migrations");
    assert_eq!(applied, migration_count());
    let backups: Vec<String> = std::fs::read_dir(sandbox.backups.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".dump"))
        .collect();
    assert!(
        backups.len() == 1
            && backups[0].starts_with("nelo_it_test-")
            && backups[0].contains("pre-reset"),
        "{backups:?}"
    );
}
