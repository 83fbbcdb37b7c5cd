//! What the image is assembled from, read on the host: the release binary (built with cargo
//! unless given), its shared libraries (`ldd`), the migrations folder's files, the CA roots
//! and the git revision.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use tokio::process::Command;

use super::config::BuildFacts;
use super::layout::ldd_libraries;

/// The host's CA roots (Debian's `ca-certificates`), copied into the image.
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `cargo build --release -p nelo-migrate-cli --bin nelo-migrate`; returns the binary.
pub async fn build_release_binary(root: &Path) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "nelo-migrate-cli",
            "--bin",
            "nelo-migrate",
        ])
        .current_dir(root)
        .status()
        .await
        .context("cannot run `cargo build`")?;
    if !status.success() {
        bail!(
            "`cargo build --release -p nelo-migrate-cli` failed ({status}); its errors are above"
        );
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("release").join("nelo-migrate"))
}

/// The shared libraries the binary loads, from `ldd`; none when it is static.
pub async fn shared_libraries(binary: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .await
        .context("cannot run `ldd` (glibc's, in the `libc-bin` package)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // `ldd` exits 1 for a static binary, saying so.
    if !output.status.success() && !format!("{stdout}{stderr}").contains("not a dynamic") {
        bail!(
            "`ldd {}` failed ({}): {}",
            binary.display(),
            output.status,
            stderr.trim()
        );
    }
    ldd_libraries(&stdout).map_err(|message| anyhow::anyhow!("{message}: {}", binary.display()))
}

/// Every file under `dir`, relative to it, sorted; hidden entries (`.git`, editors' files)
/// are left out.
pub fn migration_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let folder = dir.join(&relative);
        let children = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read the migrations folder {}", folder.display()))?;
        for child in children {
            let child = child.with_context(|| format!("cannot read {}", folder.display()))?;
            if child.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = relative.join(child.file_name());
            let file_type = std::fs::metadata(child.path())
                .with_context(|| format!("cannot read {}", child.path().display()))?
                .file_type();
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The version, git revision (`-dirty` with uncommitted changes), remote and time now.
pub async fn build_facts(root: &Path, version: &str) -> anyhow::Result<BuildFacts> {
    let head = git(root, &["rev-parse", "HEAD"])
        .await?
        .context("cannot read the git revision (`git rev-parse HEAD`): build from a checkout")?;
    let dirty = git(root, &["status", "--porcelain", "--untracked-files=no"])
        .await?
        .is_some_and(|changes| !changes.is_empty());
    let source = git(root, &["remote", "get-url", "origin"]).await?;
    Ok(BuildFacts {
        version: version.to_string(),
        revision: if dirty { format!("{head}-dirty") } else { head },
        source: source.filter(|url| !url.is_empty()),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// `git args` in `root`: its trimmed output, or `None` when git says no.
async fn git(root: &Path, args: &[&str]) -> anyhow::Result<Option<String>> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .await
        .context("cannot run git")?;
    Ok(output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_are_relative_sorted_and_skip_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("1_b")).unwrap();
        std::fs::create_dir(dir.path().join("0_a")).unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "x").unwrap();
        std::fs::write(dir.path().join("1_b/migration.sql"), "").unwrap();
        std::fs::write(dir.path().join("0_a/migration.sql"), "").unwrap();
        std::fs::write(dir.path().join("migration_lock.toml"), "").unwrap();
        assert_eq!(
            migration_files(dir.path()).unwrap(),
            [
                "0_a/migration.sql",
                "1_b/migration.sql",
                "migration_lock.toml"
            ]
            .map(PathBuf::from)
        );
    }
}
