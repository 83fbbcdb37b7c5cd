//! The pull path against a real registry (Debian's `docker-registry` on 127.0.0.1): `db up`
//! pulls `NELO_PG_IMAGE` when it is not here, and when the registry is gone it says why and
//! falls back to building the image locally.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    PushImageOptionsBuilder, RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::StreamExt;

use common::{Sandbox, block_on, docker, free_port};

/// A registry of our own on 127.0.0.1 (Docker allows plain HTTP there), stopped when dropped.
struct Registry {
    child: Option<Child>,
    port: u16,
    _storage: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let storage = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    \
                 rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run `docker-registry` (apt-get install docker-registry)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry {
            child: Some(child),
            port,
            _storage: storage,
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An image tag of this test's, removed (only the tag) when dropped.
struct Tag(String);

impl Tag {
    fn remove(&self) {
        let name = self.0.clone();
        block_on(move || async move {
            let options = RemoveImageOptionsBuilder::new().noprune(true).build();
            let _ = docker().remove_image(&name, Some(options), None).await;
        });
    }

    fn exists(&self) -> bool {
        let name = self.0.clone();
        block_on(move || async move { docker().inspect_image(&name).await.is_ok() })
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Tags `image` as `repository:tag` and pushes it through the Docker API.
fn push(image: &str, repository: &str, tag: &str) {
    let (image, repository, tag) = (image.to_string(), repository.to_string(), tag.to_string());
    block_on(move || async move {
        let docker = docker();
        let options = TagImageOptionsBuilder::new()
            .repo(&repository)
            .tag(&tag)
            .build();
        docker.tag_image(&image, Some(options)).await.unwrap();
        let options = PushImageOptionsBuilder::new().tag(&tag).build();
        let mut pushed = docker.push_image(
            &repository,
            Some(options),
            Some(DockerCredentials::default()),
        );
        while let Some(info) = pushed.next().await {
            let info = info.unwrap();
            assert!(info.error_detail.is_none(), "push failed: {info:?}");
        }
    })
}

#[test]
fn db_up_pulls_the_image_from_a_registry_and_falls_back_to_building_when_it_is_gone() {
    let mut registry = Registry::start();
    let repository = format!("127.0.0.1:{}/nelo/pg", registry.port);
    let reference = format!("{repository}:test");
    let tag = Tag(reference.clone());
    let sandbox = Sandbox::new();
    push(&sandbox.image, &repository, "test");
    tag.remove();
    assert!(!tag.exists(), "the local tag is still there");

    // In a terminal, as a developer runs it: the pull shows its progress bar (the bytes
    // pulled so far, on the line that names the image).
    let up = common::in_a_terminal(&sandbox, "db up --no-backup")
        .env("NELO_PG_IMAGE", &reference)
        .output()
        .unwrap();
    let up = common::Run::from(up);
    up.assert_success();
    let terminal = &up.stdout;
    assert!(
        terminal.contains(&format!("pulled image `{reference}`")),
        "{terminal}"
    );
    let bar = terminal
        .split(['\r', '\n'])
        .find(|line| line.contains(&format!("pulling {reference}")) && line.contains("B ("))
        .unwrap_or_else(|| panic!("no progress bar with bytes for the pull:\n{terminal}"));
    assert!(bar.contains("/s)"), "no transfer rate on the bar: {bar}");
    assert!(tag.exists(), "the pull did not tag the image");
    assert_eq!(sandbox.container_state().as_deref(), Some("running"));

    // The registry is gone and the image is not here: the pull fails, `db up` says why and
    // goes on to build the image locally. Without debootstrap on PATH the build stops at its
    // first step, so the fallback is seen without a 4-minute build.
    registry.stop();
    let second = Sandbox::new();
    tag.remove();
    let no_tools = tempfile::tempdir().unwrap();
    let fallback = second
        .command(&["db", "up", "--no-backup"])
        .env("NELO_PG_IMAGE", &reference)
        .env("PATH", no_tools.path())
        .output()
        .unwrap();
    let fallback = common::Run::from(fallback);
    eprintln!("what the user sees:\n{}", fallback.stderr);
    fallback.assert_failure_mentions(&format!("cannot pull `{reference}` ("));
    assert!(
        fallback
            .stderr
            .contains("building it locally from Debian packages"),
        "{}",
        fallback.stderr
    );
    assert!(
        fallback
            .stderr
            .contains(&format!("cannot build image `{reference}` locally")),
        "{}",
        fallback.stderr
    );
    assert!(!tag.exists());
    assert_eq!(second.container_state(), None);
    assert!(!second.volume_exists());
}
