//! The image's recipe, as plain data: the Debian suite and packages, what is trimmed, the
//! entrypoint, the import's Dockerfile instructions, and the hash that labels an image with
//! the recipe that built it.

// Only the label and its hash are used where the image cannot be built (not Linux).
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::path::Path;

use sha2::{Digest, Sha256};

pub const SUITE: &str = "trixie";
pub const MIRROR: &str = "http://deb.debian.org/debian";
pub const PACKAGES: &[&str] = &["postgresql-17", "postgresql-17-pgvector"];

/// What the image does not need: caches, apt lists, documentation, translations, logs, and
/// the cluster Debian's package creates (the entrypoint makes its own in PGDATA).
/// `dir/*` empties a folder and keeps it; anything else is removed.
pub const TRIM: &[&str] = &[
    "var/cache/apt/*",
    "var/lib/apt/lists/*",
    "usr/share/doc/*",
    "usr/share/man/*",
    "usr/share/locale/*",
    "var/lib/postgresql/17",
    "etc/postgresql/17",
    "var/log/*",
];

/// The entrypoint, built into the binary so that the image is the same wherever it is built.
pub const ENTRYPOINT: &[u8] = include_bytes!("../../../infra/image/entrypoint.sh");
pub const ENTRYPOINT_PATH: &str = "usr/local/bin/nelo-entrypoint";

/// The label that records which recipe built an image.
pub const RECIPE_LABEL: &str = "dev.nelo.image-recipe";

/// The sha256 of everything that decides the image's content: the entrypoint, the suite and
/// the package list.
pub fn recipe_hash() -> String {
    let mut hasher = Sha256::new();
    hasher.update(ENTRYPOINT);
    hasher.update(SUITE.as_bytes());
    for package in PACKAGES {
        hasher.update(b"\0");
        hasher.update(package.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The debootstrap command line that makes the root file system in `target`.
pub fn debootstrap_args(target: &Path) -> Vec<String> {
    vec![
        "--variant=minbase".to_string(),
        format!("--include={}", PACKAGES.join(",")),
        SUITE.to_string(),
        target.display().to_string(),
        MIRROR.to_string(),
    ]
}

/// The Dockerfile instructions the import applies: what the official image sets, and the
/// recipe label.
pub fn changes(recipe: &str) -> Vec<String> {
    vec![
        "ENV PATH=/usr/lib/postgresql/17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            .to_string(),
        "ENV PGDATA=/var/lib/postgresql/data".to_string(),
        "ENV LANG=C.UTF-8".to_string(),
        "ENTRYPOINT [\"/usr/local/bin/nelo-entrypoint\"]".to_string(),
        "CMD [\"postgres\"]".to_string(),
        "EXPOSE 5432".to_string(),
        "VOLUME /var/lib/postgresql/data".to_string(),
        format!("LABEL {RECIPE_LABEL}={recipe}"),
    ]
}

/// Splits a trim entry into the path under the root and whether only its contents go.
pub fn trim_target(entry: &str) -> (&str, bool) {
    match entry.strip_suffix("/*") {
        Some(folder) => (folder, true),
        None => (entry, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recipe_is_debootstrap_minbase_with_postgres_and_pgvector() {
        assert_eq!(
            debootstrap_args(Path::new("/tmp/x/rootfs")).join(" "),
            "--variant=minbase --include=postgresql-17,postgresql-17-pgvector trixie \
             /tmp/x/rootfs http://deb.debian.org/debian"
        );
    }

    #[test]
    fn trim_entries_empty_folders_or_remove_paths() {
        assert_eq!(trim_target("var/cache/apt/*"), ("var/cache/apt", true));
        assert_eq!(
            trim_target("etc/postgresql/17"),
            ("etc/postgresql/17", false)
        );
        assert!(TRIM.iter().all(|entry| !entry.starts_with('/')));
    }

    #[test]
    fn changes_set_path_pgdata_entrypoint_and_the_recipe_label() {
        let changes = changes("abc");
        assert!(changes[0].starts_with("ENV PATH=/usr/lib/postgresql/17/bin:"));
        assert!(changes.contains(&"ENTRYPOINT [\"/usr/local/bin/nelo-entrypoint\"]".to_string()));
        assert!(changes.contains(&"VOLUME /var/lib/postgresql/data".to_string()));
        assert_eq!(changes.last().unwrap(), "LABEL dev.nelo.image-recipe=abc");
    }

    #[test]
    fn the_recipe_hash_covers_the_entrypoint() {
        assert_eq!(recipe_hash().len(), 64);
        assert!(
            std::str::from_utf8(ENTRYPOINT)
                .unwrap()
                .starts_with("#!/bin/sh")
        );
    }
}
