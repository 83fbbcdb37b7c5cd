//! What to do about the container and the volume Docker reports, as pure functions: create,
//! start or leave the container, whether a volume is nelo's, and what an interrupted first
//! initialisation looks like.

use std::collections::BTreeMap;

use crate::spec::{ContainerSpec, MANAGED_LABEL};

/// What Docker says about an existing container, reduced to what the decision needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedContainer {
    pub running: bool,
    pub status: ContainerStatus,
    /// The healthcheck's verdict, when the container has one.
    pub health: Option<Health>,
    pub labels: BTreeMap<String, String>,
    /// The image the container was created from, as it was named then.
    pub image: String,
    pub host_port: Option<u16>,
    pub volume: Option<String>,
    pub exit_code: Option<i64>,
}

impl ObservedContainer {
    /// Whether nelo created it (it carries [`MANAGED_LABEL`]); nelo never touches one it did
    /// not.
    pub fn is_managed(&self) -> bool {
        carries_managed_label(&self.labels)
    }
}

/// Docker's state of a container, as `docker ps` names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContainerStatus {
    /// Docker gave no state (shown empty, as Docker does).
    #[default]
    Unknown,
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Stopping,
}

impl std::fmt::Display for ContainerStatus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            ContainerStatus::Unknown => "",
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Restarting => "restarting",
            ContainerStatus::Removing => "removing",
            ContainerStatus::Exited => "exited",
            ContainerStatus::Dead => "dead",
            ContainerStatus::Stopping => "stopping",
        })
    }
}

/// The verdict of a container's healthcheck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not yet decided: the container is in its start period.
    Starting,
    Healthy,
    Unhealthy,
}

impl std::fmt::Display for Health {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        })
    }
}

/// Whether `labels` mark a container or volume nelo created.
fn carries_managed_label(labels: &BTreeMap<String, String>) -> bool {
    labels.get(MANAGED_LABEL).map(String::as_str) == Some("true")
}

/// What `db up` does about the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Create,
    Start,
    AlreadyRunning,
    /// A container of that name exists but nelo did not create it.
    NotOurs,
    /// Ours, but created with another port or volume: using it would not match DATABASE_URL.
    Conflicting(Vec<Difference>),
}

/// A way an existing container differs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub field: Field,
    pub container: String,
    pub config: String,
}

/// What of a container [`Difference`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Only reported: the data is the same whatever image serves it.
    Image,
    Port,
    Volume,
}

impl std::fmt::Display for Field {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Field::Image => "the image",
            Field::Port => "the port",
            Field::Volume => "the volume",
        })
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} is `{}` in the container but `{}` in the configuration",
            self.field, self.container, self.config
        )
    }
}

/// Create, start or leave the container as it is.
pub fn decide(spec: &ContainerSpec, observed: Option<&ObservedContainer>) -> Decision {
    let Some(observed) = observed else {
        return Decision::Create;
    };
    if !observed.is_managed() {
        return Decision::NotOurs;
    }
    let blocking: Vec<Difference> = differences(spec, observed)
        .into_iter()
        .filter(|difference| difference.field != Field::Image)
        .collect();
    if !blocking.is_empty() {
        return Decision::Conflicting(blocking);
    }
    if observed.running {
        Decision::AlreadyRunning
    } else {
        Decision::Start
    }
}

/// Every difference between the spec and the container; an image difference alone does not
/// stop `db up` (the data is the same), it is only reported.
pub fn differences(spec: &ContainerSpec, observed: &ObservedContainer) -> Vec<Difference> {
    let mut found = Vec::new();
    if observed.image != spec.image {
        found.push(Difference {
            field: Field::Image,
            container: observed.image.clone(),
            config: spec.image.clone(),
        });
    }
    if observed.host_port != Some(spec.host_port) {
        found.push(Difference {
            field: Field::Port,
            container: observed
                .host_port
                .map_or("none".to_string(), |port| port.to_string()),
            config: spec.host_port.to_string(),
        });
    }
    if let Some(volume) = spec.volume()
        && observed.volume.as_deref() != Some(volume)
    {
        found.push(Difference {
            field: Field::Volume,
            container: observed
                .volume
                .clone()
                .unwrap_or_else(|| "none".to_string()),
            config: volume.to_string(),
        });
    }
    found
}

/// The file in the data directory that nelo's entrypoint writes last when it initialises it
/// (`user=NAME`).
pub const INIT_MARKER: &str = ".nelo-initialised";
/// The exit code of the image's entrypoint when the data directory holds an interrupted
/// first initialisation (initdb began, no server ever ran: no data).
pub const INTERRUPTED_INIT_EXIT_CODE: i64 = 3;
/// What the entrypoint prints then.
const INTERRUPTED_INIT_LOG: &str = "holds an interrupted initialisation";

/// Whether a container stopped because its data directory holds an interrupted first
/// initialisation, from its exit code and the end of its log.
pub fn is_interrupted_initialisation(exit_code: Option<i64>, log: &str) -> bool {
    exit_code == Some(INTERRUPTED_INIT_EXIT_CODE) && log.contains(INTERRUPTED_INIT_LOG)
}

/// What Docker says about a volume, reduced to what the decisions need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedVolume {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub driver: String,
    /// When Docker created it (RFC 3339), if it says.
    pub created_at: Option<String>,
}

impl ObservedVolume {
    /// Whether nelo created it: the same label rule as for containers.
    pub fn is_ours(&self) -> bool {
        carries_managed_label(&self.labels)
    }

    /// What is known of a volume nelo did not create, for the person deciding about it.
    pub fn describe(&self) -> String {
        let labels = if self.labels.is_empty() {
            "no labels".to_string()
        } else {
            let pairs: Vec<String> = self
                .labels
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            format!("labels {}", pairs.join(", "))
        };
        let created = self
            .created_at
            .as_deref()
            .map_or(String::new(), |at| format!("created {at}, "));
        format!("{created}driver `{}`, {labels}", self.driver)
    }
}

/// What `db up` does about the data volume before it creates a container on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeDecision {
    /// None yet: it is created with nelo's labels.
    Create,
    /// nelo's own.
    UseOurs,
    /// Not nelo's, and the user said to use it (`--adopt-volume`); nelo never removes it.
    Adopt,
    /// Not nelo's: left alone.
    NotOurs,
}

pub fn decide_volume(observed: Option<&ObservedVolume>, adopt: bool) -> VolumeDecision {
    match observed {
        None => VolumeDecision::Create,
        Some(volume) if volume.is_ours() => VolumeDecision::UseOurs,
        Some(_) if adopt => VolumeDecision::Adopt,
        Some(_) => VolumeDecision::NotOurs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::container_spec;
    use crate::spec::tests::config;

    fn ours(spec: &ContainerSpec, running: bool) -> ObservedContainer {
        ObservedContainer {
            running,
            status: if running {
                ContainerStatus::Running
            } else {
                ContainerStatus::Exited
            },
            health: None,
            labels: spec.labels.clone(),
            image: spec.image.clone(),
            host_port: Some(spec.host_port),
            volume: spec.volume().map(str::to_string),
            exit_code: None,
        }
    }

    #[test]
    fn no_container_means_create() {
        let spec = container_spec(&config());
        assert_eq!(decide(&spec, None), Decision::Create);
    }

    #[test]
    fn a_stopped_container_is_started_and_a_running_one_left_alone() {
        let spec = container_spec(&config());
        assert_eq!(decide(&spec, Some(&ours(&spec, false))), Decision::Start);
        assert_eq!(
            decide(&spec, Some(&ours(&spec, true))),
            Decision::AlreadyRunning
        );
    }

    #[test]
    fn a_container_without_our_label_is_not_touched() {
        let spec = container_spec(&config());
        let mut foreign = ours(&spec, true);
        foreign.labels.clear();
        assert_eq!(decide(&spec, Some(&foreign)), Decision::NotOurs);
    }

    #[test]
    fn another_port_or_volume_is_a_conflict_but_another_image_is_not() {
        let spec = container_spec(&config());
        let mut moved = ours(&spec, true);
        moved.host_port = Some(5432);
        moved.volume = Some("old".to_string());
        let Decision::Conflicting(found) = decide(&spec, Some(&moved)) else {
            panic!("expected a conflict");
        };
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].to_string(),
            "the port is `5432` in the container but `6543` in the configuration"
        );
        assert_eq!(found[1].field, Field::Volume);

        let mut other_image = ours(&spec, true);
        other_image.image = "nelo-dev/pg17:dev".to_string();
        assert_eq!(decide(&spec, Some(&other_image)), Decision::AlreadyRunning);
        assert_eq!(differences(&spec, &other_image)[0].field, Field::Image);
    }

    #[test]
    fn a_volume_is_ours_only_with_our_label_and_a_foreign_one_needs_adopting() {
        let mut volume = ObservedVolume {
            name: "pgdata".to_string(),
            driver: "local".to_string(),
            ..Default::default()
        };
        assert_eq!(decide_volume(None, false), VolumeDecision::Create);
        assert_eq!(decide_volume(Some(&volume), false), VolumeDecision::NotOurs);
        assert_eq!(decide_volume(Some(&volume), true), VolumeDecision::Adopt);
        assert_eq!(volume.describe(), "driver `local`, no labels");
        volume.labels.insert(
            "com.docker.compose.project".to_string(),
            "other".to_string(),
        );
        volume.created_at = Some("2026-11-30T09:00:00Z".to_string());
        assert_eq!(
            volume.describe(),
            "created 2026-11-30T09:00:00Z, driver `local`, labels com.docker.compose.project=other"
        );
        volume
            .labels
            .insert(MANAGED_LABEL.to_string(), "false".to_string());
        assert_eq!(decide_volume(Some(&volume), false), VolumeDecision::NotOurs);
        volume
            .labels
            .insert(MANAGED_LABEL.to_string(), "true".to_string());
        assert_eq!(decide_volume(Some(&volume), false), VolumeDecision::UseOurs);
        assert_eq!(decide_volume(Some(&volume), true), VolumeDecision::UseOurs);
    }

    #[test]
    fn an_interrupted_initialisation_is_recognised_from_the_entrypoint() {
        let entrypoint = include_str!("../../infra/image/entrypoint.sh");
        assert!(entrypoint.contains(INTERRUPTED_INIT_LOG));
        assert!(entrypoint.contains(&format!("MARKER=\"$PGDATA/{INIT_MARKER}\"")));
        assert!(entrypoint.contains(&format!("exit {INTERRUPTED_INIT_EXIT_CODE}")));
        let log =
            "nelo: /var/lib/postgresql/data holds an interrupted initialisation: initdb began";
        assert!(is_interrupted_initialisation(Some(3), log));
        assert!(!is_interrupted_initialisation(Some(1), log));
        assert!(!is_interrupted_initialisation(
            Some(3),
            "FATAL: password authentication failed"
        ));
        assert!(!is_interrupted_initialisation(None, log));
    }
}
