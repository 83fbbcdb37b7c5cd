//! The `nelo-migrate` image, built by `cargo xtask image migrator` from the test profile's
//! binary under a tag of its own, run on the real engine against a fresh database of the test
//! server (host network). Every image, container and database is removed, also on failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder, TopOptionsBuilder, WaitContainerOptions,
};
use futures_util::StreamExt;

/// An image of its own for one test, removed on drop.
struct MigratorImage {
    tag: String,
}

impl MigratorImage {
    fn build() -> MigratorImage {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let tag = format!("nelo-migrate-it:{}", &id[..12]);
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["image", "migrator", "--no-default-tags", "--tag", &tag])
            .arg("--binary")
            .arg(nelo_migrate_binary())
            .env_remove("NELO_MIGRATIONS_DIR")
            .output()
            .unwrap();
        let image = MigratorImage { tag };
        assert!(
            output.status.success(),
            "`image migrator` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        image
    }
}

impl Drop for MigratorImage {
    fn drop(&mut self) {
        let tag = self.tag.clone();
        common::block_on(move || async move {
            let options = RemoveImageOptionsBuilder::new().force(true).build();
            let _ = common::docker()
                .remove_image(&tag, Some(options), None)
                .await;
        });
    }
}

/// The test profile's `nelo-migrate`, built once (a no-op when it is fresh) beside `xtask`.
fn nelo_migrate_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "nelo-migrate-cli", "--bin", "nelo-migrate"])
            .status()
            .unwrap();
        assert!(status.success(), "cannot build `nelo-migrate`");
        Path::new(env!("CARGO_BIN_EXE_xtask")).with_file_name("nelo-migrate")
    })
}

/// A fresh database on the test server, dropped on drop.
struct ScratchDatabase {
    name: String,
    url: String,
}

impl ScratchDatabase {
    fn new() -> ScratchDatabase {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("nelo_it_image_{}", &id[..12]);
        let mut url = url::Url::parse(&server_url()).unwrap();
        url.set_path(&name);
        run_on_server(format!("CREATE DATABASE {name}"));
        ScratchDatabase {
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        run_on_server(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn server_url() -> String {
    std::env::var("NELO_TEST_SERVER_URL")
        .expect("NELO_TEST_SERVER_URL is not set: run these tests with `cargo xtask test`")
}

fn run_on_server(sql: String) {
    let url = server_url();
    common::block_on(move || async move {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
    });
}

/// One `i64` from `sql` with `bind` as `$1`.
fn count(url: &str, sql: &'static str, bind: &str) -> i64 {
    let (url, bind) = (url.to_string(), bind.to_string());
    common::block_on(move || async move {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_scalar(sql)
            .bind(bind)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    })
}

/// A container of the image on the host network, read-only, removed on drop.
struct Migrator {
    name: String,
}

impl Migrator {
    /// Creates and starts it with `args` after the entrypoint (the image's `deploy` when
    /// empty) and the folder `migrations` mounted at /migrations, if any.
    fn start(image: &MigratorImage, url: &str, args: &[&str], migrations: Option<&Path>) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let migrator = Migrator {
            name: format!("nelo_it_migrator_{}", &id[..12]),
        };
        let body = ContainerCreateBody {
            image: Some(image.tag.clone()),
            cmd: (!args.is_empty()).then(|| args.iter().map(|arg| arg.to_string()).collect()),
            env: Some(vec![format!("DATABASE_URL={url}")]),
            host_config: Some(HostConfig {
                network_mode: Some("host".to_string()),
                readonly_rootfs: Some(true),
                binds: migrations.map(|dir| vec![format!("{}:/migrations:ro", dir.display())]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let name = migrator.name.clone();
        common::block_on(move || async move {
            let docker = common::docker();
            let options = CreateContainerOptionsBuilder::new().name(&name).build();
            docker.create_container(Some(options), body).await.unwrap();
            docker
                .start_container(&name, None::<StartContainerOptions>)
                .await
                .unwrap();
        });
        migrator
    }

    /// Waits for the end: the exit code and what it printed (stdout, stderr).
    fn wait(&self) -> (i64, String, String) {
        let name = self.name.clone();
        common::block_on(move || async move {
            let docker = common::docker();
            let _ = docker
                .wait_container(&name, None::<WaitContainerOptions>)
                .collect::<Vec<_>>()
                .await;
            let inspect = docker.inspect_container(&name, None).await.unwrap();
            let code = inspect.state.unwrap().exit_code.unwrap();
            let logs = |stdout: bool| {
                let options = LogsOptionsBuilder::new()
                    .stdout(stdout)
                    .stderr(!stdout)
                    .build();
                docker.logs(&name, Some(options)).collect::<Vec<_>>()
            };
            let text = |chunks: Vec<Result<_, _>>| {
                chunks
                    .into_iter()
                    .map(|chunk: Result<bollard::container::LogOutput, _>| {
                        chunk.unwrap().to_string()
                    })
                    .collect::<String>()
            };
            (code, text(logs(true).await), text(logs(false).await))
        })
    }
}

impl Drop for Migrator {
    fn drop(&mut self) {
        let name = self.name.clone();
        common::block_on(move || async move {
            let options = RemoveContainerOptionsBuilder::new().force(true).build();
            let _ = common::docker()
                .remove_container(&name, Some(options))
                .await;
        });
    }
}

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

/// The uid of each process in the container, as the host's `ps` sees it.
fn process_uids(container: &str) -> Vec<String> {
    let name = container.to_string();
    common::block_on(move || async move {
        let options = TopOptionsBuilder::new().ps_args("-o pid,uid").build();
        let top = common::docker()
            .top_processes(&name, Some(options))
            .await
            .unwrap();
        let titles = top.titles.unwrap();
        let column = titles.iter().position(|title| title == "UID").unwrap();
        top.processes
            .unwrap()
            .into_iter()
            .map(|process| process[column].clone())
            .collect()
    })
}

fn make_readable_by_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if dir.is_dir() { 0o755 } else { 0o644 };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
    if dir.is_dir() {
        for child in std::fs::read_dir(dir).unwrap() {
            make_readable_by_all(&child.unwrap().path());
        }
    }
}

fn wait_until(deadline: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
