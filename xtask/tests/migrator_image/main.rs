//! The `nelo-migrate` image, built by `cargo xtask image migrator` from the test profile's
//! binary under a tag of its own, run on the real engine against a fresh database of the test
//! server (host network). Every image, container and database is removed, also on failure.

#[path = "../common/mod.rs"]
mod common;
mod harness;

use std::time::Duration;

use bollard::query_parameters::{DownloadFromContainerOptionsBuilder, StopContainerOptionsBuilder};
use futures_util::StreamExt;
use harness::{
    Migrator, MigratorImage, ScratchDatabase, count, make_readable_by_all, process_uids,
    server_url, wait_until,
};

#[test]
fn the_image_runs_nelo_migrate_deploy_as_65532_without_a_shell() {
    let image = MigratorImage::build();
    let tag = image.tag.clone();
    let config = common::block_on(move || async move {
        common::docker()
            .inspect_image(&tag)
            .await
            .unwrap()
            .config
            .unwrap()
    });
    assert_eq!(config.user.as_deref(), Some("65532:65532"));
    assert_eq!(config.entrypoint, Some(vec!["nelo-migrate".to_string()]));
    assert_eq!(config.cmd, Some(vec!["deploy".to_string()]));
    let env = config.env.unwrap();
    assert!(env.contains(&"NELO_MIGRATIONS_DIR=/migrations".to_string()));
    assert!(env.contains(&"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".to_string()));
    let labels = config.labels.unwrap();
    assert_eq!(labels["org.opencontainers.image.version"], "0.1.0");
    let revision = &labels["org.opencontainers.image.revision"];
    assert!(revision.len() >= 40 && revision[..40].chars().all(|c| c.is_ascii_hexdigit()));

    // The files: the CA roots are there, a shell is not.
    let container = Migrator::start(
        &image,
        "postgresql://unused@127.0.0.1:1/x",
        &["--version"],
        None,
    );
    assert_eq!(container.wait().0, 0);
    let name = container.name.clone();
    let (ca_bundle, shell) = common::block_on(move || async move {
        let docker = common::docker();
        let download = |path: &str| {
            let options = DownloadFromContainerOptionsBuilder::new()
                .path(path)
                .build();
            docker
                .download_from_container(&name, Some(options))
                .collect::<Vec<_>>()
        };
        let ca_bundle: usize = download("/etc/ssl/certs/ca-certificates.crt")
            .await
            .into_iter()
            .map(|chunk| chunk.unwrap().len())
            .sum();
        let shell = download("/bin/sh")
            .await
            .into_iter()
            .all(|chunk| chunk.is_ok());
        (ca_bundle, shell)
    });
    assert!(
        ca_bundle > 100_000,
        "the CA roots are missing ({ca_bundle} bytes)"
    );
    assert!(!shell, "the image has /bin/sh");
}

#[test]
fn the_image_deploys_nelos_migrations_read_only_and_reports_status_as_json() {
    let image = MigratorImage::build();
    let database = ScratchDatabase::new();
    let deploy = Migrator::start(&image, &database.url, &[], None);
    let (code, _, stderr) = deploy.wait();
    assert_eq!(code, 0, "deploy failed:\n{stderr}");
    let applied: i64 = common::query_one(
        &database.url,
        "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL",
    );
    assert_eq!(applied, common::migration_count());

    let status = Migrator::start(&image, &database.url, &["status", "--json"], None);
    let (code, stdout, stderr) = status.wait();
    assert_eq!(code, 0, "status failed:\n{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["up_to_date"], true, "{stdout}");
    assert_eq!(
        status["entries"].as_array().unwrap().len() as i64,
        common::migration_count()
    );
}

#[test]
fn docker_stop_mid_migration_exits_143_leaving_nothing_half_applied_and_the_lock_free() {
    let image = MigratorImage::build();
    let database = ScratchDatabase::new();
    let folder = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = folder.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("migration_lock.toml", "provider = \"postgresql\"\n");
    write(
        "20240101000000_first/migration.sql",
        "CREATE TABLE first_table (id integer);\n",
    );
    write(
        "20240102000000_slow/migration.sql",
        "CREATE TABLE half_applied (id integer);\nSELECT pg_sleep(30);\n",
    );
    // The container's user (65532) reads the mounted folder.
    make_readable_by_all(folder.path());

    let deploy = Migrator::start(&image, &database.url, &[], Some(folder.path()));
    wait_until(
        Duration::from_secs(60),
        "the slow migration to start",
        || {
            count(
                &server_url(),
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' \
             AND query LIKE '%pg_sleep(30)%'",
                &database.name,
            ) == 1
        },
    );
    assert_eq!(
        process_uids(&deploy.name),
        ["65532"],
        "the migrator runs as 65532"
    );
    let name = deploy.name.clone();
    common::block_on(move || async move {
        let options = StopContainerOptionsBuilder::new().t(20).build();
        common::docker()
            .stop_container(&name, Some(options))
            .await
            .unwrap();
    });
    let (code, _, stderr) = deploy.wait();
    assert_eq!(code, 143, "expected the SIGTERM exit code:\n{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");

    let table = |name: &str| {
        count(
            &database.url,
            "SELECT count(*) FROM pg_class WHERE relname = $1",
            name,
        )
    };
    let rows = |name: &str| {
        count(
            &database.url,
            "SELECT count(*) FROM _prisma_migrations WHERE migration_name = $1",
            name,
        )
    };
    assert_eq!(table("first_table"), 1);
    assert_eq!(
        table("half_applied"),
        0,
        "the slow migration left its table"
    );
    assert_eq!(
        rows("20240102000000_slow"),
        0,
        "the slow migration left a row"
    );
    wait_until(
        Duration::from_secs(30),
        "the migration lock to be free",
        || {
            count(
                &server_url(),
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND d.datname = $1",
                &database.name,
            ) == 0
        },
    );

    // The next deploy goes ahead; only the mounted folder's migrations were ever applied.
    write(
        "20240102000000_slow/migration.sql",
        "CREATE TABLE half_applied (id integer);\n",
    );
    let again = Migrator::start(&image, &database.url, &[], Some(folder.path()));
    let (code, _, stderr) = again.wait();
    assert_eq!(code, 0, "the next deploy failed:\n{stderr}");
    assert_eq!(table("half_applied"), 1);
    assert_eq!(rows("20240102000000_slow"), 1);
    assert_eq!(
        common::query_one::<i64>(&database.url, "SELECT count(*) FROM _prisma_migrations"),
        2,
        "the baked migrations ran although a folder was mounted"
    );
}
