//! The migrator image's configuration, as plain data: its tags, its OCI labels and the
//! Dockerfile instructions the import applies (user, entrypoint, command, environment).

/// The image's repository; tagged `latest` and the crate's version.
pub const REPOSITORY: &str = "nelo-migrate";

/// The numeric user and group the migrator runs as (distroless's `nonroot`).
pub const USER_ID: u32 = 65532;

/// Where the binary is, on the image's `PATH`.
pub const BINARY_PATH: &str = "usr/local/bin/nelo-migrate";

/// Where Nelo's migrations are baked, and where a mounted folder replaces them.
pub const MIGRATIONS_PATH: &str = "migrations";

/// The CA roots for `sslmode=verify-full` against public CAs; `SSL_CERT_FILE` names it, so a
/// mounted file (`-v ca.crt:/etc/ssl/certs/ca-certificates.crt:ro`) replaces it.
pub const CA_BUNDLE_PATH: &str = "etc/ssl/certs/ca-certificates.crt";

/// What is known about the build when the image is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildFacts {
    /// The `nelo-migrate-cli` package's version.
    pub version: String,
    /// `git rev-parse HEAD`, with `-dirty` when the work tree has uncommitted changes.
    pub revision: String,
    /// Where the source is (`git remote get-url origin`), when there is a remote.
    pub source: Option<String>,
    /// The build time, RFC 3339 UTC.
    pub created: String,
}

/// The references the image gets: `nelo-migrate:latest` and `nelo-migrate:<version>` unless
/// `default_tags` is off (tests use their own tag only), then each `--tag`; no duplicates.
pub fn image_tags(version: &str, extra: &[String], default_tags: bool) -> Vec<String> {
    let defaults = [
        format!("{REPOSITORY}:latest"),
        format!("{REPOSITORY}:{version}"),
    ];
    let mut tags: Vec<String> = Vec::new();
    let wanted = defaults
        .into_iter()
        .filter(|_| default_tags)
        .chain(extra.iter().cloned());
    for tag in wanted {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// The OCI annotations of the image, as `LABEL` pairs, in a fixed order.
pub fn oci_labels(facts: &BuildFacts) -> Vec<(&'static str, String)> {
    let mut labels = vec![
        ("org.opencontainers.image.title", REPOSITORY.to_string()),
        (
            "org.opencontainers.image.description",
            "Prisma Migrate-compatible migrations for PostgreSQL".to_string(),
        ),
        ("org.opencontainers.image.version", facts.version.clone()),
        ("org.opencontainers.image.revision", facts.revision.clone()),
        ("org.opencontainers.image.created", facts.created.clone()),
    ];
    if let Some(source) = &facts.source {
        labels.push(("org.opencontainers.image.source", source.clone()));
    }
    labels
}

/// The Dockerfile instructions of the import: no shell form anywhere (there is no shell).
pub fn changes(facts: &BuildFacts) -> Vec<String> {
    let mut changes = vec![
        format!("USER {USER_ID}:{USER_ID}"),
        "WORKDIR /".to_string(),
        "ENV PATH=/usr/local/bin".to_string(),
        format!("ENV NELO_MIGRATIONS_DIR=/{MIGRATIONS_PATH}"),
        format!("ENV SSL_CERT_FILE=/{CA_BUNDLE_PATH}"),
        "ENTRYPOINT [\"nelo-migrate\"]".to_string(),
        "CMD [\"deploy\"]".to_string(),
    ];
    changes.extend(
        oci_labels(facts)
            .into_iter()
            .map(|(key, value)| format!("LABEL {key}={}", quoted(&value))),
    );
    changes
}

/// The version in `nelo-migrate --version`'s output (`nelo-migrate 0.1.0`): the image is
/// tagged with the version of the binary it holds.
pub fn binary_version(output: &str) -> Option<&str> {
    let version = output.trim().strip_prefix("nelo-migrate ")?.trim();
    (!version.is_empty() && !version.contains(char::is_whitespace)).then_some(version)
}

/// A value in double quotes, as a Dockerfile `LABEL` reads it.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(source: Option<&str>) -> BuildFacts {
        BuildFacts {
            version: "0.1.0".to_string(),
            revision: "6555047b699b3c1d4ecfdbeae27a948674dea1a5".to_string(),
            source: source.map(String::from),
            created: "2026-12-07T13:00:00Z".to_string(),
        }
    }

    #[test]
    fn tags_are_latest_and_the_version_then_each_extra_once() {
        assert_eq!(
            image_tags("0.1.0", &[], true),
            ["nelo-migrate:latest", "nelo-migrate:0.1.0"]
        );
        assert_eq!(
            image_tags(
                "0.1.0",
                &[
                    "registry.example/nelo-migrate:ci".into(),
                    "nelo-migrate:latest".into()
                ],
                true
            ),
            [
                "nelo-migrate:latest",
                "nelo-migrate:0.1.0",
                "registry.example/nelo-migrate:ci"
            ]
        );
        assert_eq!(
            image_tags("0.1.0", &["nelo-migrate-it:abc".into()], false),
            ["nelo-migrate-it:abc"]
        );
    }

    #[test]
    fn the_image_runs_nelo_migrate_deploy_as_65532_with_the_baked_folder() {
        let changes = changes(&facts(None));
        for expected in [
            "USER 65532:65532",
            "ENV PATH=/usr/local/bin",
            "ENV NELO_MIGRATIONS_DIR=/migrations",
            "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            "ENTRYPOINT [\"nelo-migrate\"]",
            "CMD [\"deploy\"]",
        ] {
            assert!(changes.contains(&expected.to_string()), "{expected}");
        }
        // Exec form only: there is no /bin/sh to run a shell form.
        assert!(
            changes
                .iter()
                .filter(|change| change.starts_with("ENTRYPOINT") || change.starts_with("CMD"))
                .all(|change| change.contains('['))
        );
    }

    #[test]
    fn labels_carry_version_revision_created_and_the_source_when_known() {
        let changes = changes(&facts(Some("https://example.org/nelo.git")));
        assert!(changes.contains(&"LABEL org.opencontainers.image.version=\"0.1.0\"".to_string()));
        assert!(changes.contains(
            &"LABEL org.opencontainers.image.revision=\"6555047b699b3c1d4ecfdbeae27a948674dea1a5\""
                .to_string()
        ));
        assert!(changes.contains(
            &"LABEL org.opencontainers.image.created=\"2026-12-07T13:00:00Z\"".to_string()
        ));
        assert!(changes.contains(
            &"LABEL org.opencontainers.image.source=\"https://example.org/nelo.git\"".to_string()
        ));
        let without_source = oci_labels(&facts(None));
        assert!(
            without_source
                .iter()
                .all(|(key, _)| *key != "org.opencontainers.image.source")
        );
    }

    #[test]
    fn the_version_comes_from_the_binary() {
        assert_eq!(binary_version("nelo-migrate 0.1.0\n"), Some("0.1.0"));
        assert_eq!(binary_version("something else 1.0"), None);
        assert_eq!(binary_version("nelo-migrate \n"), None);
    }

    #[test]
    fn label_values_are_quoted_for_the_dockerfile_parser() {
        assert_eq!(quoted("a b"), "\"a b\"");
        assert_eq!(quoted("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
    }
}
