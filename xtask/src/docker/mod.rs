//! The Docker adapter: the only module that talks to bollard. Commands call the methods of
//! [`Engine`]; 404 ("absent") and 409 ("already there") are mapped so reruns converge.

mod container;
pub mod exec;
mod image;
mod volume;

pub use container::is_port_conflict;
pub use image::ImageFacts;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use bollard::Docker;

/// Docker's own default, which bollard does not export.
const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// How long the first request may take before the daemon is declared unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

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
    let host = configured_host();
    let unreachable = || {
        format!(
            "cannot reach the Docker daemon at {host}: is Docker running? Start it (for example \
             `sudo systemctl start docker`) or point DOCKER_HOST at a running engine"
        )
    };
    let api = Docker::connect_with_host(&host)
        .context(Unreachable)
        .with_context(unreachable)?;
    let api = tokio::time::timeout(PING_TIMEOUT, api.negotiate_version())
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {} s", PING_TIMEOUT.as_secs()))
        .context(Unreachable)
        .with_context(unreachable)?
        .context(Unreachable)
        .with_context(unreachable)?;
    Ok(Engine { api, host })
}

/// Marks an error of [`connect`]: the engine never answered, so [`explain_lost_connection`]
/// has nothing to add.
#[derive(Debug)]
struct Unreachable;

impl std::fmt::Display for Unreachable {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("the Docker engine did not answer")
    }
}

/// Says so first when `error` comes from the connection to the Docker engine breaking part
/// way (the engine stopped or restarted, its socket went away), rather than from an answer
/// of the engine; other errors are returned as they are.
pub fn explain_lost_connection(error: anyhow::Error) -> anyhow::Error {
    let never_answered = error.downcast_ref::<Unreachable>().is_some();
    let lost = error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<bollard::errors::Error>())
        .any(is_connection_error);
    if never_answered || !lost {
        return error;
    }
    error.context(format!(
        "lost the connection to the Docker engine at {} part way (did Docker stop or \
         restart?): what was under way was abandoned, and nothing was left looking complete; \
         once `docker info` answers, run the command again",
        configured_host()
    ))
}

/// Whether bollard failed to talk to the engine at all (no answer, a cut connection), as
/// opposed to the engine answering with an error.
fn is_connection_error(error: &bollard::errors::Error) -> bool {
    use bollard::errors::Error;
    matches!(
        error,
        Error::HyperLegacyError { .. }
            | Error::HyperResponseError { .. }
            | Error::HttpClientError { .. }
            | Error::IOError { .. }
            | Error::RequestTimeoutError
            | Error::SocketNotFoundError(_)
    )
}

/// Where the engine is looked for: `DOCKER_HOST`, or Docker's default socket.
pub fn configured_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_connection_that_broke_part_way_is_called_lost() {
        let cut = || {
            anyhow::Error::new(bollard::errors::Error::IOError {
                err: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
            })
            .context("cannot inspect exec `x`")
        };
        let lost = format!("{:#}", explain_lost_connection(cut()));
        assert!(
            lost.starts_with("lost the connection to the Docker engine at"),
            "{lost}"
        );
        let never = format!("{:#}", explain_lost_connection(cut().context(Unreachable)));
        assert!(!never.contains("lost the connection"), "{never}");
        let answered = anyhow::Error::new(bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message: "no such container".to_string(),
        });
        let answered = format!("{:#}", explain_lost_connection(answered));
        assert!(!answered.contains("lost the connection"), "{answered}");
    }
}
