//! Containers: create, start, stop, remove, wait, inspect, logs.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use bollard::container::LogOutput;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, HealthConfig,
    HealthStatusEnum, HostConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::{Engine, LabelledResource, status_code};
use crate::decision::{ContainerStatus, Health, ObservedContainer};
use crate::spec::{CONTAINER_PORT, ContainerSpec, DATA_DIR, Storage};

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

    /// The container's environment as it was created (`NAME=value` pairs split), empty when
    /// it does not exist. It may hold a password: compare it, never print it.
    pub async fn container_env(&self, name: &str) -> anyhow::Result<BTreeMap<String, String>> {
        match self
            .api
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(response) => Ok(response
                .config
                .and_then(|config| config.env)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key.to_string(), value.to_string()))
                })
                .collect()),
            Err(error) if status_code(&error) == Some(404) => Ok(BTreeMap::new()),
            Err(error) => Err(error).with_context(|| format!("cannot inspect container `{name}`")),
        }
    }

    /// Creates the container described by `spec` (it is not started); returns whether it
    /// created it: `false` when a container of that name appeared meanwhile (409, another
    /// `db up` at the same moment), which the caller inspects again.
    pub async fn create_container(&self, spec: &ContainerSpec) -> anyhow::Result<bool> {
        let options = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        match self
            .api
            .create_container(Some(options), create_body(spec))
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if status_code(&error) == Some(409) => Ok(false),
            Err(error) => {
                Err(error).with_context(|| format!("cannot create container `{}`", spec.name))
            }
        }
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
}

/// A piece of a container's output.
pub struct LogChunk {
    pub stderr: bool,
    pub bytes: Bytes,
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

/// Whether a Docker error says the host port is already in use.
pub fn is_port_conflict(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("port is already allocated")
        || message.contains("address already in use")
        || message.contains("bind: address already in use")
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
            .map_or(ContainerStatus::Unknown, container_status),
        health: state
            .health
            .and_then(|health| health.status)
            .and_then(health),
        labels,
        image: config.image.unwrap_or_default(),
        host_port,
        volume,
        exit_code: state.exit_code,
    }
}

fn container_status(status: ContainerStateStatusEnum) -> ContainerStatus {
    match status {
        ContainerStateStatusEnum::EMPTY => ContainerStatus::Unknown,
        ContainerStateStatusEnum::CREATED => ContainerStatus::Created,
        ContainerStateStatusEnum::RUNNING => ContainerStatus::Running,
        ContainerStateStatusEnum::PAUSED => ContainerStatus::Paused,
        ContainerStateStatusEnum::RESTARTING => ContainerStatus::Restarting,
        ContainerStateStatusEnum::REMOVING => ContainerStatus::Removing,
        ContainerStateStatusEnum::EXITED => ContainerStatus::Exited,
        ContainerStateStatusEnum::DEAD => ContainerStatus::Dead,
        ContainerStateStatusEnum::STOPPING => ContainerStatus::Stopping,
    }
}

/// The healthcheck's verdict; `None` when there is no healthcheck to give one.
fn health(status: HealthStatusEnum) -> Option<Health> {
    match status {
        HealthStatusEnum::STARTING => Some(Health::Starting),
        HealthStatusEnum::HEALTHY => Some(Health::Healthy),
        HealthStatusEnum::UNHEALTHY => Some(Health::Unhealthy),
        HealthStatusEnum::EMPTY | HealthStatusEnum::NONE => None,
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

    #[test]
    fn docker_port_errors_are_recognised() {
        assert!(is_port_conflict(
            "Docker responded with status code 500: driver failed programming external \
             connectivity on endpoint x: Bind for 127.0.0.1:5432 failed: port is already allocated"
        ));
        assert!(is_port_conflict(
            "Error starting userland proxy: listen tcp4 127.0.0.1:5432: bind: address already in use"
        ));
        assert!(!is_port_conflict("No such image: pgvector/pgvector:pg17"));
    }

    #[test]
    fn container_states_and_health_read_as_docker_names_them() {
        use ContainerStateStatusEnum as State;
        for state in [
            State::EMPTY,
            State::CREATED,
            State::RUNNING,
            State::PAUSED,
            State::RESTARTING,
            State::REMOVING,
            State::EXITED,
            State::DEAD,
            State::STOPPING,
        ] {
            assert_eq!(container_status(state).to_string(), state.to_string());
        }
        for verdict in [
            HealthStatusEnum::STARTING,
            HealthStatusEnum::HEALTHY,
            HealthStatusEnum::UNHEALTHY,
        ] {
            assert_eq!(health(verdict).unwrap().to_string(), verdict.to_string());
        }
        assert_eq!(health(HealthStatusEnum::NONE), None);
    }
}
