//! The container nelo asks Docker for, as plain data: what `db up` and `cargo xtask test` want
//! (image, env, labels, port, storage, healthcheck, stop signal). What to do about the
//! container Docker reports is decided in [`crate::decision`]; the Docker adapter turns a
//! [`ContainerSpec`] into bollard's types.

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

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use super::*;

    /// A configuration whose DATABASE_URL sets every part (user, password, port, database).
    pub(crate) fn config() -> Config {
        let vars = [(
            "DATABASE_URL",
            "postgresql://app:s3cret@localhost:6543/main",
        )]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Config::from_vars(&vars, Path::new("/repo")).unwrap()
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
}
