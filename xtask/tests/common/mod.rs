//! A sandbox for running the built `xtask` binary against the real Docker engine: its own
//! container name, volume, port, working folder and backup folder, removed on drop even when
//! the test fails. Never the developer's `nelo_postgres`.

#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptions, StartContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;

pub const PASSWORD: &str = "it-secret";

pub struct Sandbox {
    pub container: String,
    pub volume: String,
    pub port: u16,
    pub image: String,
    pub workdir: tempfile::TempDir,
    pub backups: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let image = std::env::var("NELO_TEST_IMAGE").unwrap_or_else(|_| {
            panic!(
                "NELO_TEST_IMAGE is not set: these tests start containers from it; run \
                 `cargo xtask test`, which builds the image and sets it"
            )
        });
        let id = uuid::Uuid::new_v4().simple().to_string();
        Sandbox {
            container: format!("nelo_it_{}", &id[..12]),
            volume: format!("nelo_it_{}_data", &id[..12]),
            port: free_port(),
            image,
            workdir: tempfile::tempdir().unwrap(),
            backups: tempfile::tempdir().unwrap(),
        }
    }

    pub fn database_url(&self) -> String {
        format!(
            "postgresql://nelo:{PASSWORD}@127.0.0.1:{}/nelo_it",
            self.port
        )
    }

    pub fn test_database_url(&self) -> String {
        format!(
            "postgresql://nelo:{PASSWORD}@127.0.0.1:{}/nelo_it_test",
            self.port
        )
    }

    /// The binary with this sandbox's configuration.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
        command
            .args(args)
            .current_dir(self.workdir.path())
            .env("DATABASE_URL", self.database_url())
            .env("TEST_DATABASE_URL", self.test_database_url())
            .env("NELO_PG_IMAGE", &self.image)
            .env("NELO_PG_CONTAINER", &self.container)
            .env("NELO_PG_VOLUME", &self.volume)
            .env("NELO_BACKUP_DIR", self.backups.path())
            // Labels what this test creates, for `cargo xtask test` to sweep up if we are killed.
            .env("NELO_TEST_RUN_PID", std::process::id().to_string())
            .env_remove("CI");
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(
            self.command(args)
                .output()
                .expect("cannot run the xtask binary"),
        )
    }

    /// The container's state (`running`, `exited`), or `None` when it does not exist.
    pub fn container_state(&self) -> Option<String> {
        let name = self.container.clone();
        block_on(move || async move {
            match docker().inspect_container(&name, None).await {
                Ok(inspect) => Some(inspect.state.unwrap().status.unwrap().to_string()),
                Err(_) => None,
            }
        })
    }

    /// Creates the sandbox's volume as another tool would (or as nelo does, with its labels).
    pub fn create_volume(&self, labels: &[(&str, &str)]) {
        let name = self.volume.clone();
        let labels: HashMap<String, String> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        block_on(move || async move {
            let request = VolumeCreateRequest {
                name: Some(name),
                labels: Some(labels),
                ..Default::default()
            };
            docker().create_volume(request).await.unwrap();
        });
    }

    /// Runs `script` (`sh -c`, as root) in a throwaway container of the sandbox's image with
    /// the sandbox's volume at /var/lib/postgresql/data; returns what it printed.
    pub fn run_in_volume(&self, script: &str) -> String {
        let (image, volume, script) = (self.image.clone(), self.volume.clone(), script.to_string());
        let name = format!("{}_probe", self.container);
        block_on(move || async move {
            let docker = docker();
            let body = ContainerCreateBody {
                image: Some(image),
                cmd: Some(vec!["sh".to_string(), "-c".to_string(), script]),
                host_config: Some(HostConfig {
                    binds: Some(vec![format!("{volume}:/var/lib/postgresql/data")]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let options = CreateContainerOptionsBuilder::new().name(&name).build();
            docker.create_container(Some(options), body).await.unwrap();
            docker
                .start_container(&name, None::<StartContainerOptions>)
                .await
                .unwrap();
            let _ = docker
                .wait_container(&name, None::<WaitContainerOptions>)
                .collect::<Vec<_>>()
                .await;
            let options = LogsOptionsBuilder::new().stdout(true).stderr(true).build();
            let output: Vec<_> = docker.logs(&name, Some(options)).collect().await;
            let remove = RemoveContainerOptionsBuilder::new().force(true).build();
            let _ = docker.remove_container(&name, Some(remove)).await;
            output
                .into_iter()
                .map(|chunk| chunk.unwrap().to_string())
                .collect::<String>()
        })
    }

    pub fn volume_exists(&self) -> bool {
        let name = self.volume.clone();
        block_on(move || async move { docker().inspect_volume(&name).await.is_ok() })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let (container, volume) = (self.container.clone(), self.volume.clone());
        block_on(move || async move {
            let docker = docker();
            let options = RemoveContainerOptionsBuilder::new()
                .force(true)
                .v(true)
                .build();
            let _ = docker.remove_container(&container, Some(options)).await;
            let _ = docker
                .remove_volume(&volume, None::<RemoveVolumeOptions>)
                .await;
        });
    }
}

/// What a run of the binary printed and returned.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    #[track_caller]
    pub fn assert_success(&self) {
        assert!(
            self.success(),
            "expected success, got {:?}\nstderr:\n{}",
            self.code,
            self.stderr
        );
    }

    #[track_caller]
    pub fn assert_failure_mentions(&self, text: &str) {
        assert!(
            !self.success(),
            "expected a failure, got success\nstderr:\n{}",
            self.stderr
        );
        assert!(
            self.stderr.contains(text),
            "expected `{text}` in stderr:\n{}",
            self.stderr
        );
    }
}

pub fn docker() -> Docker {
    Docker::connect_with_defaults().expect("cannot reach Docker")
}

/// Runs the future `make` returns on its own runtime and thread, so that it also works from
/// `Drop` and inside other runtimes.
pub fn block_on<T, F>(make: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(make())
    })
    .join()
    .unwrap()
}

/// One value from a query on `url`.
pub fn query_one<T>(url: &str, sql: &'static str) -> T
where
    T: Send
        + Unpin
        + 'static
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>,
{
    let url = url.to_string();
    block_on(move || async move {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_scalar::<_, T>(sql)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    })
}

pub fn execute(url: &str, sql: &'static str) {
    let url = url.to_string();
    block_on(move || async move {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How many migrations the repository has.
pub fn migration_count() -> i64 {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    std::fs::read_dir(folder)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .join("migration.sql")
                .is_file()
        })
        .count() as i64
}

/// Runs `command` with `input` on its stdin.
pub fn with_input(mut command: Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `args` of the binary, run by `script` on a pseudo-terminal of its own, as a developer
/// runs them in a terminal; with the sandbox's environment.
pub fn in_a_terminal(sandbox: &Sandbox, args: &str) -> Command {
    let configured = sandbox.command(&[]);
    let mut script = Command::new("script");
    script
        .args(["--quiet", "--return", "--command"])
        .arg(format!("{} {args}", env!("CARGO_BIN_EXE_xtask")))
        .arg("/dev/null")
        .current_dir(sandbox.workdir.path());
    for (key, value) in configured.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    script
}
