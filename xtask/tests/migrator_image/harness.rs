//! The pieces of the image tests: the image, a scratch database and a container, each removed
//! on drop, and the waits and probes the tests share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, StartContainerOptions, TopOptionsBuilder, WaitContainerOptions,
};
use futures_util::StreamExt;

/// An image of its own for one test, removed on drop.
pub struct MigratorImage {
    pub tag: String,
}

impl MigratorImage {
    pub fn build() -> MigratorImage {
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
        crate::common::block_on(move || async move {
            let options = RemoveImageOptionsBuilder::new().force(true).build();
            let _ = crate::common::docker()
                .remove_image(&tag, Some(options), None)
                .await;
        });
    }
}

/// The test profile's `nelo-migrate` beside `xtask`: `cargo test --workspace` (and so `cargo
/// xtask test`) builds it before any test runs. Only when it is absent (a focused run of this
/// file alone) is it built here: building it while other tests run it would replace it under
/// them, as `cargo build -p nelo-migrate-cli` resolves other features than the workspace.
pub fn nelo_migrate_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let binary = Path::new(env!("CARGO_BIN_EXE_xtask")).with_file_name("nelo-migrate");
        if !binary.is_file() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-p", "nelo-migrate-cli", "--bin", "nelo-migrate"])
                .status()
                .unwrap();
            assert!(status.success(), "cannot build `nelo-migrate`");
        }
        binary
    })
}

/// A fresh database on the test server, dropped on drop.
pub struct ScratchDatabase {
    pub name: String,
    pub url: String,
}

impl ScratchDatabase {
    pub fn new() -> ScratchDatabase {
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

pub fn server_url() -> String {
    std::env::var("NELO_TEST_SERVER_URL")
        .expect("NELO_TEST_SERVER_URL is not set: run these tests with `cargo xtask test`")
}

pub fn run_on_server(sql: String) {
    let url = server_url();
    crate::common::block_on(move || async move {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
    });
}

/// One `i64` from `sql` with `bind` as `$1`.
pub fn count(url: &str, sql: &'static str, bind: &str) -> i64 {
    let (url, bind) = (url.to_string(), bind.to_string());
    crate::common::block_on(move || async move {
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
pub struct Migrator {
    pub name: String,
}

impl Migrator {
    /// Creates and starts it with `args` after the entrypoint (the image's `deploy` when
    /// empty) and the folder `migrations` mounted at /migrations, if any.
    pub fn start(
        image: &MigratorImage,
        url: &str,
        args: &[&str],
        migrations: Option<&Path>,
    ) -> Self {
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
        crate::common::block_on(move || async move {
            let docker = crate::common::docker();
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
    pub fn wait(&self) -> (i64, String, String) {
        let name = self.name.clone();
        crate::common::block_on(move || async move {
            let docker = crate::common::docker();
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
        crate::common::block_on(move || async move {
            let options = RemoveContainerOptionsBuilder::new().force(true).build();
            let _ = crate::common::docker()
                .remove_container(&name, Some(options))
                .await;
        });
    }
}

/// The uid of each process in the container, as the host's `ps` sees it.
pub fn process_uids(container: &str) -> Vec<String> {
    let name = container.to_string();
    crate::common::block_on(move || async move {
        let options = TopOptionsBuilder::new().ps_args("-o pid,uid").build();
        let top = crate::common::docker()
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

pub fn make_readable_by_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if dir.is_dir() { 0o755 } else { 0o644 };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
    if dir.is_dir() {
        for child in std::fs::read_dir(dir).unwrap() {
            make_readable_by_all(&child.unwrap().path());
        }
    }
}

pub fn wait_until(deadline: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
