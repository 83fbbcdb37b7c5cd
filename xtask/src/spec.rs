//! The container decisions, as plain data and pure functions: what container `db up` and
//! `cargo xtask test` want (image, env, labels, port, storage, healthcheck, stop signal), what
//! to do given the container Docker reports, and what Docker's port errors mean.
//! The Docker adapter turns a [`ContainerSpec`] into bollard's types.

use std::collections::BTreeMap;

use crate::config::Config;

/// Marks every container and volume nelo creates; nelo never touches one without it.
pub const MANAGED_LABEL: &str = "dev.nelo.managed";
/// On a container: the name of the volume that holds its data.
pub const VOLUME_LABEL: &str = "dev.nelo.volume";
/// On the throwaway resources of `cargo xtask test`: the pid of the run that created them.
pub const TEST_RUN_LABEL: &str = "dev.nelo.test-run";

/// Where PostgreSQL keeps its data in both the official and nelo's image.
pub const DATA_DIR: &str = "/var/lib/postgresql/data";
/// The port the server listens on inside the container.
pub const CONTAINER_PORT: u16 = 5432;
/// PostgreSQL's fast shutdown; nelo's imported image cannot carry `STOPSIGNAL` itself.
pub const STOP_SIGNAL: &str = "SIGINT";

/// Where the container keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// A named volume, which outlives the container.
    Volume(String),
    /// Memory only: gone with the container (throwaway test servers).
    Tmpfs,
}

/// Everything nelo asks Docker for when it creates a PostgreSQL container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub env: Vec<(String, String)>,
    pub labels: BTreeMap<String, String>,
    /// The host side of the published port; always bound to 127.0.0.1.
    pub host_ip: String,
    pub host_port: u16,
    pub storage: Storage,
    /// Arguments after `postgres` (server settings as `-c name=value`).
    pub server_args: Vec<String>,
    pub healthcheck: Vec<String>,
    pub stop_signal: String,
}

impl ContainerSpec {
    /// The container command: the server and its settings.
    pub fn cmd(&self) -> Vec<String> {
        std::iter::once("postgres".to_string())
            .chain(self.server_args.iter().cloned())
            .collect()
    }

    pub fn volume(&self) -> Option<&str> {
        match &self.storage {
            Storage::Volume(volume) => Some(volume),
            Storage::Tmpfs => None,
        }
    }

    /// The labels nelo puts on the volume it creates for this container.
    pub fn volume_labels(&self) -> BTreeMap<String, String> {
        self.labels
            .iter()
            .filter(|(key, _)| key.as_str() != VOLUME_LABEL)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

/// The development container of `db up`, from the configuration: DATABASE_URL gives the user,
/// password, database and port.
pub fn container_spec(config: &Config) -> ContainerSpec {
    let url = &config.database_url;
    let mut labels = BTreeMap::new();
    labels.insert(MANAGED_LABEL.to_string(), "true".to_string());
    labels.insert(VOLUME_LABEL.to_string(), config.volume.clone());
    ContainerSpec {
        name: config.container.clone(),
        image: config.image.clone(),
        env: server_env(&url.user(), &url.password(), &url.database()),
        labels,
        host_ip: "127.0.0.1".to_string(),
        host_port: url.port(),
        storage: Storage::Volume(config.volume.clone()),
        server_args: Vec::new(),
        healthcheck: healthcheck(&url.user(), &url.database()),
        stop_signal: STOP_SIGNAL.to_string(),
    }
}

/// A throwaway server for `cargo xtask test`: data in memory, durability off, labelled with
/// the pid of the run so that a later run can sweep it up if this one is killed.
pub fn test_container_spec(
    name: &str,
    image: &str,
    host_port: u16,
    password: &str,
    run_pid: u32,
) -> ContainerSpec {
    let mut labels = BTreeMap::new();
    labels.insert(MANAGED_LABEL.to_string(), "true".to_string());
    labels.insert(TEST_RUN_LABEL.to_string(), run_pid.to_string());
    let server_args = [
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
    ]
    .iter()
    .flat_map(|setting| ["-c".to_string(), setting.to_string()])
    .collect();
    ContainerSpec {
        name: name.to_string(),
        image: image.to_string(),
        env: server_env("postgres", password, "postgres"),
        labels,
        host_ip: "127.0.0.1".to_string(),
        host_port,
        storage: Storage::Tmpfs,
        server_args,
        healthcheck: healthcheck("postgres", "postgres"),
        stop_signal: STOP_SIGNAL.to_string(),
    }
}

fn server_env(user: &str, password: &str, database: &str) -> Vec<(String, String)> {
    vec![
        ("POSTGRES_USER".to_string(), user.to_string()),
        ("POSTGRES_PASSWORD".to_string(), password.to_string()),
        ("POSTGRES_DB".to_string(), database.to_string()),
    ]
}

fn healthcheck(user: &str, database: &str) -> Vec<String> {
    [
        "CMD",
        "pg_isready",
        "-U",
        user,
        "-d",
        database,
        "-h",
        "127.0.0.1",
    ]
    .iter()
    .map(|part| part.to_string())
    .collect()
}

/// What Docker says about an existing container, reduced to what the decision needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedContainer {
    pub running: bool,
    /// Docker's state: `created`, `running`, `exited`, ...
    pub status: String,
    /// The healthcheck's verdict: `starting`, `healthy`, `unhealthy`.
    pub health: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The image the container was created from, as it was named then.
    pub image: String,
    pub host_port: Option<u16>,
    pub volume: Option<String>,
    pub exit_code: Option<i64>,
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
    pub what: &'static str,
    pub container: String,
    pub config: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} is `{}` in the container but `{}` in the configuration",
            self.what, self.container, self.config
        )
    }
}

/// Create, start or leave the container as it is.
pub fn decide(spec: &ContainerSpec, observed: Option<&ObservedContainer>) -> Decision {
    let Some(observed) = observed else {
        return Decision::Create;
    };
    if observed.labels.get(MANAGED_LABEL).map(String::as_str) != Some("true") {
        return Decision::NotOurs;
    }
    let blocking: Vec<Difference> = differences(spec, observed)
        .into_iter()
        .filter(|d| d.what != "the image")
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
            what: "the image",
            container: observed.image.clone(),
            config: spec.image.clone(),
        });
    }
    if observed.host_port != Some(spec.host_port) {
        found.push(Difference {
            what: "the port",
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
            what: "the volume",
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
        self.labels.get(MANAGED_LABEL).map(String::as_str) == Some("true")
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

/// Whether a Docker error says the host port is already in use.
pub fn is_port_conflict(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("port is already allocated")
        || message.contains("address already in use")
        || message.contains("bind: address already in use")
}

/// The message for a taken port, with the fix.
pub fn port_taken_message(port: u16) -> String {
    format!(
        "port {port} on 127.0.0.1 is taken by another process; stop it or change the port in \
         DATABASE_URL"
    )
}

/// Splits `repo[:tag]` into repository and tag (default `latest`); a `:` before the last
/// `/` belongs to a registry address, not a tag.
pub fn split_image_reference(reference: &str) -> (&str, &str) {
    let name_start = reference.rfind('/').map_or(0, |slash| slash + 1);
    match reference[name_start..].rfind(':') {
        Some(colon) => {
            let colon = name_start + colon;
            (&reference[..colon], &reference[colon + 1..])
        }
        None => (reference, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config() -> Config {
        let vars = [(
            "DATABASE_URL",
            "postgresql://app:s3cret@localhost:6543/main",
        )]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Config::from_vars(&vars, Path::new("/repo")).unwrap()
    }

    fn ours(spec: &ContainerSpec, running: bool) -> ObservedContainer {
        ObservedContainer {
            running,
            status: if running { "running" } else { "exited" }.to_string(),
            health: None,
            labels: spec.labels.clone(),
            image: spec.image.clone(),
            host_port: Some(spec.host_port),
            volume: spec.volume().map(str::to_string),
            exit_code: None,
        }
    }

    #[test]
    fn the_dev_container_follows_database_url() {
        let spec = container_spec(&config());
        assert_eq!(spec.name, "nelo_postgres");
        assert_eq!(spec.image, "pgvector/pgvector:pg17");
        assert_eq!(spec.host_ip, "127.0.0.1");
        assert_eq!(spec.host_port, 6543);
        assert_eq!(spec.storage, Storage::Volume("nelo_pgdata".to_string()));
        assert_eq!(spec.stop_signal, "SIGINT");
        assert_eq!(spec.cmd(), vec!["postgres"]);
        let env: BTreeMap<_, _> = spec.env.iter().cloned().collect();
        assert_eq!(env["POSTGRES_USER"], "app");
        assert_eq!(env["POSTGRES_PASSWORD"], "s3cret");
        assert_eq!(env["POSTGRES_DB"], "main");
        assert_eq!(spec.labels[MANAGED_LABEL], "true");
        assert_eq!(spec.labels[VOLUME_LABEL], "nelo_pgdata");
        assert_eq!(
            spec.healthcheck,
            [
                "CMD",
                "pg_isready",
                "-U",
                "app",
                "-d",
                "main",
                "-h",
                "127.0.0.1"
            ]
        );
        assert!(!spec.volume_labels().contains_key(VOLUME_LABEL));
    }

    #[test]
    fn the_test_container_lives_in_memory_without_durability() {
        let spec = test_container_spec("nelo_test_ab12", "img:1", 40000, "pw", 77);
        assert_eq!(spec.storage, Storage::Tmpfs);
        assert_eq!(spec.volume(), None);
        assert_eq!(spec.labels[TEST_RUN_LABEL], "77");
        assert_eq!(spec.host_ip, "127.0.0.1");
        let cmd = spec.cmd().join(" ");
        assert_eq!(
            cmd,
            "postgres -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        );
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
        assert_eq!(found[1].what, "the volume");

        let mut other_image = ours(&spec, true);
        other_image.image = "nelo-dev/pg17:dev".to_string();
        assert_eq!(decide(&spec, Some(&other_image)), Decision::AlreadyRunning);
        assert_eq!(differences(&spec, &other_image)[0].what, "the image");
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
        assert_eq!(
            port_taken_message(5432),
            "port 5432 on 127.0.0.1 is taken by another process; stop it or change the port in \
             DATABASE_URL"
        );
    }

    #[test]
    fn image_references_split_into_repository_and_tag() {
        assert_eq!(
            split_image_reference("pgvector/pgvector:pg17"),
            ("pgvector/pgvector", "pg17")
        );
        assert_eq!(split_image_reference("nelo"), ("nelo", "latest"));
        assert_eq!(
            split_image_reference("localhost:5000/nelo/pg"),
            ("localhost:5000/nelo/pg", "latest")
        );
        assert_eq!(
            split_image_reference("localhost:5000/pg:17"),
            ("localhost:5000/pg", "17")
        );
    }
}
