//! The Docker adapter: the only module that talks to bollard. Commands call the methods of
//! [`Engine`]; 404 ("absent") and 409 ("already there") are mapped so reruns converge.

pub mod exec;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use bollard::container::LogOutput;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, HealthConfig, HostConfig, PortBinding,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, InspectContainerOptions,
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptions, StartContainerOptions,
    StopContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::{Docker, body_try_stream};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::spec::{
    CONTAINER_PORT, ContainerSpec, DATA_DIR, ObservedContainer, Storage, split_image_reference,
};

/// Docker's own default, which bollard does not export.
const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// How long the first request may take before the daemon is declared unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a pull or an import may take before Docker answers.
const LONG_TRANSFER_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// A connected Docker engine, its API version negotiated.
#[derive(Clone)]
pub struct Engine {
    pub(crate) api: Docker,
    /// Where the engine was reached (`DOCKER_HOST` or the default socket), for messages.
    pub host: String,
}

/// Connects to `DOCKER_HOST` (unix socket or tcp) or the default socket, and checks that the
/// daemon answers.
pub async fn connect() -> anyhow::Result<Engine> {
    let host = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string());
    let unreachable = || {
        format!(
            "cannot reach the Docker daemon at {host}: is Docker running? Start it (for example \
             `sudo systemctl start docker`) or point DOCKER_HOST at a running engine"
        )
    };
    let api = Docker::connect_with_host(&host).with_context(unreachable)?;
    let api = tokio::time::timeout(PING_TIMEOUT, api.negotiate_version())
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {} s", PING_TIMEOUT.as_secs()))
        .with_context(unreachable)?
        .with_context(unreachable)?;
    Ok(Engine { api, host })
}

impl Engine {
    /// The container of that name, or `None` when there is none.
    pub async fn inspect_container(&self, name: &str) -> anyhow::Result<Option<ObservedContainer>> {
        match self
            .api
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(response) => Ok(Some(observed_container(response))),
            Err(error) if status_code(&error) == Some(404) => Ok(None),
            Err(error) => Err(error).with_context(|| format!("cannot inspect container `{name}`")),
        }
    }

    pub async fn image_exists(&self, image: &str) -> anyhow::Result<bool> {
        match self.api.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(error) if status_code(&error) == Some(404) => Ok(false),
            Err(error) => Err(error).with_context(|| format!("cannot inspect image `{image}`")),
        }
    }

    /// The image's size and labels, or `None` when it is absent.
    pub async fn inspect_image(&self, image: &str) -> anyhow::Result<Option<ImageFacts>> {
        match self.api.inspect_image(image).await {
            Ok(inspect) => Ok(Some(ImageFacts {
                size: inspect.size.unwrap_or_default().max(0) as u64,
                labels: inspect
                    .config
                    .and_then(|config| config.labels)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            })),
            Err(error) if status_code(&error) == Some(404) => Ok(None),
            Err(error) => Err(error).with_context(|| format!("cannot inspect image `{image}`")),
        }
    }

    /// Pulls `image`, reporting the bytes downloaded so far and the total known so far.
    pub async fn pull_image(
        &self,
        image: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<()> {
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let api = self.api.clone().with_timeout(LONG_TRANSFER_TIMEOUT);
        let mut stream = api.create_image(Some(options), None, None);
        let mut layers: HashMap<String, (u64, u64)> = HashMap::new();
        while let Some(info) = stream.next().await {
            let info = info.with_context(|| format!("cannot pull image `{image}`"))?;
            if let (Some(id), Some(detail)) = (info.id, info.progress_detail)
                && info.status.as_deref() == Some("Downloading")
            {
                let current = detail.current.unwrap_or_default().max(0) as u64;
                let total = detail.total.unwrap_or_default().max(0) as u64;
                layers.insert(id, (current, total));
                let (current, total) = layers
                    .values()
                    .fold((0, 0), |(sum_current, sum_total), (c, t)| {
                        (sum_current + c, sum_total + t)
                    });
                progress(current, total);
            }
        }
        Ok(())
    }

    /// Imports a root file system, streamed as a tar archive, as the image `reference`, with
    /// Dockerfile `changes` (`ENV ...`, `CMD ...`).
    pub async fn import_image(
        &self,
        reference: &str,
        changes: Vec<String>,
        tar: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (repo, tag) = split_image_reference(reference);
        let options = CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .changes(changes)
            .build();
        // The daemon may answer only once it has read the whole archive: allow for a slow disk.
        let api = self.api.clone().with_timeout(LONG_TRANSFER_TIMEOUT);
        let mut stream = api.create_image(Some(options), Some(body_try_stream(tar)), None);
        while let Some(info) = stream.next().await {
            info.with_context(|| format!("cannot import image `{reference}`"))?;
        }
        Ok(())
    }

    /// Creates the volume unless it exists (Docker returns an existing volume as it is).
    pub async fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };
        self.api
            .create_volume(request)
            .await
            .with_context(|| format!("cannot create volume `{name}`"))?;
        Ok(())
    }

    pub async fn volume_exists(&self, name: &str) -> anyhow::Result<bool> {
        match self.api.inspect_volume(name).await {
            Ok(_) => Ok(true),
            Err(error) if status_code(&error) == Some(404) => Ok(false),
            Err(error) => Err(error).with_context(|| format!("cannot inspect volume `{name}`")),
        }
    }

    /// Removes the volume; returns whether there was one.
    pub async fn remove_volume(&self, name: &str) -> anyhow::Result<bool> {
        match self
            .api
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(true),
            Err(error) if status_code(&error) == Some(404) => Ok(false),
            Err(error) => Err(error).with_context(|| format!("cannot remove volume `{name}`")),
        }
    }

    /// Creates the container described by `spec` (it is not started).
    pub async fn create_container(&self, spec: &ContainerSpec) -> anyhow::Result<()> {
        let options = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        self.api
            .create_container(Some(options), create_body(spec))
            .await
            .with_context(|| format!("cannot create container `{}`", spec.name))?;
        Ok(())
    }

    /// Starts the container; one already running is left as it is.
    pub async fn start_container(&self, name: &str) -> anyhow::Result<()> {
        match self
            .api
            .start_container(name, None::<StartContainerOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(error) if status_code(&error) == Some(304) => Ok(()),
            Err(error) => Err(error).with_context(|| format!("cannot start container `{name}`")),
        }
    }

    /// Stops the container with its stop signal, killing it after `timeout`; returns whether
    /// it was running.
    pub async fn stop_container(&self, name: &str, timeout: Duration) -> anyhow::Result<bool> {
        let options = StopContainerOptionsBuilder::new()
            .t(timeout.as_secs() as i32)
            .build();
        match self.api.stop_container(name, Some(options)).await {
            Ok(()) => Ok(true),
            Err(error) if matches!(status_code(&error), Some(304) | Some(404)) => Ok(false),
            Err(error) => Err(error).with_context(|| format!("cannot stop container `{name}`")),
        }
    }

    /// Removes the container, running or not, with its anonymous volumes; returns whether
    /// there was one.
    pub async fn remove_container(&self, name: &str) -> anyhow::Result<bool> {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self.api.remove_container(name, Some(options)).await {
            Ok(()) => Ok(true),
            Err(error) if status_code(&error) == Some(404) => Ok(false),
            // Already being removed (by another cleanup): the outcome is the same.
            Err(error) if status_code(&error) == Some(409) => Ok(true),
            Err(error) => Err(error).with_context(|| format!("cannot remove container `{name}`")),
        }
    }

    /// Resolves when the container is no longer running, with its exit code.
    pub async fn wait_until_stopped(&self, name: &str) -> anyhow::Result<i64> {
        let options = WaitContainerOptionsBuilder::new()
            .condition("not-running")
            .build();
        let mut stream = self.api.wait_container(name, Some(options));
        match stream.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(error)) => {
                Err(error).with_context(|| format!("cannot wait for container `{name}`"))
            }
            None => anyhow::bail!("Docker stopped answering about container `{name}`"),
        }
    }

    /// The last `lines` lines of the container's output (stdout and stderr).
    pub async fn log_tail(&self, name: &str, lines: usize) -> anyhow::Result<String> {
        let mut stream = self.logs(name, false, Some(lines));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk?.bytes));
        }
        Ok(text)
    }

    /// The container's output, from `tail` lines back (all when `None`), following new lines
    /// when `follow` is set.
    pub fn logs(
        &self,
        name: &str,
        follow: bool,
        tail: Option<usize>,
    ) -> impl Stream<Item = anyhow::Result<LogChunk>> + use<> {
        let tail = tail.map_or("all".to_string(), |lines| lines.to_string());
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .tail(&tail)
            .build();
        let name = name.to_string();
        self.api.logs(&name, Some(options)).map(move |output| {
            let output = output.with_context(|| format!("cannot read the log of `{name}`"))?;
            Ok(match output {
                LogOutput::StdErr { message } => LogChunk {
                    stderr: true,
                    bytes: message,
                },
                LogOutput::StdOut { message }
                | LogOutput::Console { message }
                | LogOutput::StdIn { message } => LogChunk {
                    stderr: false,
                    bytes: message,
                },
            })
        })
    }

    /// Containers (running or not) carrying the label `key`, with their labels.
    pub async fn containers_labelled(&self, key: &str) -> anyhow::Result<Vec<LabelledResource>> {
        let filters = HashMap::from([("label", vec![key])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self
            .api
            .list_containers(Some(options))
            .await
            .context("cannot list containers")?;
        Ok(containers
            .into_iter()
            .map(|summary| LabelledResource {
                name: summary
                    .names
                    .and_then(|names| names.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                labels: summary.labels.unwrap_or_default().into_iter().collect(),
                created_unix: summary.created,
            })
            .collect())
    }

    /// Volumes carrying the label `key`, with their labels.
    pub async fn volumes_labelled(&self, key: &str) -> anyhow::Result<Vec<LabelledResource>> {
        let filters = HashMap::from([("label", vec![key])]);
        let options = ListVolumesOptionsBuilder::new().filters(&filters).build();
        let response = self
            .api
            .list_volumes(Some(options))
            .await
            .context("cannot list volumes")?;
        Ok(response
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|volume| LabelledResource {
                name: volume.name,
                labels: volume.labels.into_iter().collect(),
                created_unix: None,
            })
            .collect())
    }
}

/// What nelo reads from an image.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub size: u64,
    pub labels: BTreeMap<String, String>,
}

/// A piece of a container's output.
pub struct LogChunk {
    pub stderr: bool,
    pub bytes: Bytes,
}

/// A container or volume found by label.
#[derive(Debug, Clone)]
pub struct LabelledResource {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub created_unix: Option<i64>,
}

/// The HTTP status of a Docker error, if the daemon answered.
fn status_code(error: &bollard::errors::Error) -> Option<u16> {
    match error {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn port_key() -> String {
    format!("{CONTAINER_PORT}/tcp")
}

/// bollard's request body for a [`ContainerSpec`].
fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let port_bindings = HashMap::from([(
        port_key(),
        Some(vec![PortBinding {
            host_ip: Some(spec.host_ip.clone()),
            host_port: Some(spec.host_port.to_string()),
        }]),
    )]);
    let (binds, tmpfs) = match &spec.storage {
        Storage::Volume(volume) => (Some(vec![format!("{volume}:{DATA_DIR}")]), None),
        Storage::Tmpfs => (
            None,
            Some(HashMap::from([(DATA_DIR.to_string(), String::new())])),
        ),
    };
    let seconds = |s: i64| s * 1_000_000_000;
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(
            spec.env
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect(),
        ),
        cmd: Some(spec.cmd()),
        labels: Some(
            spec.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        exposed_ports: Some(vec![port_key()]),
        stop_signal: Some(spec.stop_signal.clone()),
        healthcheck: Some(HealthConfig {
            test: Some(spec.healthcheck.clone()),
            interval: Some(seconds(2)),
            timeout: Some(seconds(5)),
            retries: Some(5),
            start_period: Some(seconds(30)),
            // No `start_interval`: Docker 20.10 (API 1.41) does not know it.
            start_interval: None,
        }),
        host_config: Some(HostConfig {
            port_bindings: Some(port_bindings),
            binds,
            tmpfs,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What the decision needs from Docker's description of a container.
fn observed_container(response: ContainerInspectResponse) -> ObservedContainer {
    let state = response.state.unwrap_or_default();
    let config = response.config.unwrap_or_default();
    let labels: BTreeMap<String, String> = config.labels.unwrap_or_default().into_iter().collect();
    let host_port = response
        .host_config
        .and_then(|host| host.port_bindings)
        .and_then(|mut bindings| bindings.remove(&port_key()))
        .flatten()
        .and_then(|bindings| bindings.into_iter().next())
        .and_then(|binding| binding.host_port)
        .and_then(|port| port.parse().ok());
    let volume = response
        .mounts
        .unwrap_or_default()
        .into_iter()
        .find_map(|mount| {
            (mount.destination.as_deref() == Some(DATA_DIR)
                && mount.typ.as_deref() == Some("volume"))
            .then_some(mount.name)
            .flatten()
        });
    ObservedContainer {
        running: state.running.unwrap_or(false),
        status: state
            .status
            .map(|status| status.to_string())
            .unwrap_or_default(),
        health: state
            .health
            .and_then(|health| health.status)
            .map(|status| status.to_string()),
        labels,
        image: config.image.unwrap_or_default(),
        host_port,
        volume,
        exit_code: state.exit_code,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    #[test]
    fn the_spec_becomes_a_create_body_published_on_localhost_only() {
        let config = Config::from_vars(&HashMap::new(), Path::new("/repo")).unwrap();
        let body = create_body(&crate::spec::container_spec(&config));
        let host = body.host_config.unwrap();
        let binding = &host.port_bindings.unwrap()["5432/tcp"].clone().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some("5432"));
        assert_eq!(
            host.binds.unwrap(),
            ["nelo_pgdata:/var/lib/postgresql/data"]
        );
        assert_eq!(body.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(body.healthcheck.unwrap().start_interval, None);
        assert!(
            body.env
                .unwrap()
                .contains(&"POSTGRES_USER=nelo".to_string())
        );
    }
}
