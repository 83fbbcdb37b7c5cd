//! The server restarted in the middle of a deploy (the test's own container, restarted
//! through the Docker API): the migration in progress is rolled back, the deploy says the
//! connection was lost and that rerunning is safe, and the rerun completes.

mod common;

use std::time::{Duration, Instant};

use common::{Sandbox, block_on, docker, execute, query_one};
use nelo_migrate::{Error, Migrator};

fn wait_until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn server_accepts(url: &str) -> bool {
    let url = url.to_string();
    block_on(move || async move {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&url).await.is_ok()
    })
}

#[test]
fn a_server_restarted_mid_migration_leaves_nothing_half_applied_and_the_rerun_completes() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    execute(&sandbox.database_url(), "CREATE DATABASE restart_it");
    let url = sandbox.database_url().replace("/nelo_it", "/restart_it");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("migration_lock.toml"),
        "provider = \"postgresql\"\n",
    )
    .unwrap();
    let migration = dir.path().join("20250101000000_slow");
    std::fs::create_dir(&migration).unwrap();
    std::fs::write(
        migration.join("migration.sql"),
        "CREATE TABLE half (a int);\nSELECT pg_sleep(60);\n",
    )
    .unwrap();

    let (folder, deploy_url) = (dir.path().to_path_buf(), url.clone());
    let deploy = std::thread::spawn(move || {
        block_on(move || async move { Migrator::new(folder).deploy(&deploy_url, |_| {}).await })
    });
    wait_until("the migration to run", Duration::from_secs(60), || {
        query_one::<bool>(
            &sandbox.database_url(),
            "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' \
             AND pid <> pg_backend_pid())",
        )
    });
    let container = sandbox.container.clone();
    block_on(move || async move {
        docker()
            .restart_container(
                &container,
                None::<bollard::query_parameters::RestartContainerOptions>,
            )
            .await
    })
    .expect("restart the test's container");

    let error = deploy.join().unwrap().unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::ConnectionLost(_)), "{text}");
    assert!(text.contains("running deploy again is safe"), "{text}");

    wait_until(
        "the server to accept again",
        Duration::from_secs(60),
        || server_accepts(&url),
    );
    let half_exists: bool = query_one(&url, "SELECT to_regclass('half') IS NOT NULL");
    assert!(!half_exists, "the migration in progress was rolled back");
    std::fs::write(
        migration.join("migration.sql"),
        "CREATE TABLE half (a int);\n",
    )
    .unwrap();
    let report = block_on(move || async move {
        Migrator::new(dir.path().to_path_buf())
            .deploy(&url, |_| {})
            .await
    })
    .unwrap();
    assert_eq!(report.applied, ["20250101000000_slow"]);
}
