//! Building the PostgreSQL 17 + pgvector image locally from Debian packages, with no
//! registry: debootstrap into a temporary folder, trim, and import it through the Docker API;
//! and whether an image built so comes from this checkout's recipe. `image build` and the
//! image policy of [`crate::server::ensure_image`] use it.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context as _, bail};
use futures_util::StreamExt;

use super::folder::BuildFolder;
use super::{recipe, rootfs};
use crate::context::Context;
use crate::docker::{Engine, ImageFacts};
use crate::ui;

/// Whether an image with these labels was built by `image build` from another recipe than
/// this checkout's. An image without the label (pulled, or made elsewhere) is not ours to
/// judge.
pub fn is_stale(labels: &BTreeMap<String, String>) -> bool {
    labels
        .get(recipe::RECIPE_LABEL)
        .is_some_and(|recipe| *recipe != recipe::recipe_hash())
}

/// Builds the image `tag` unless it exists (or always, with `force`).
pub async fn ensure_built(
    ctx: &Context,
    engine: &Engine,
    tag: &str,
    force: bool,
) -> anyhow::Result<()> {
    let existing = engine.inspect_image(tag).await?;
    if !force && let Some(existing) = existing {
        ui::step(format!(
            "image `{tag}` exists; keeping it (`--force` builds it again)"
        ));
        if is_stale(&existing.labels) {
            ui::warn(format!(
                "`{tag}` was built from an older recipe (entrypoint or packages changed); \
                 `cargo xtask image build --tag {tag} --force` rebuilds it"
            ));
        }
        return Ok(());
    }
    ensure_debootstrap().await?;
    let folder = BuildFolder::new(&build_parent(ctx))?;
    // On Ctrl-C the build is dropped: debootstrap is killed and the folder removed.
    tokio::select! {
        built = build(engine, tag, &folder) => built?,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted; the build folder was removed"),
    }
    if let Some(replaced) = existing {
        remove_replaced(engine, tag, &replaced).await;
    }
    Ok(())
}

/// The image that `tag` named before a rebuild is left untagged: remove it, unless a
/// container still runs from it. A failure here is only worth a warning.
async fn remove_replaced(engine: &Engine, tag: &str, replaced: &ImageFacts) {
    match engine.remove_image_if_unused(&replaced.id).await {
        Ok(true) => ui::note(format!(
            "removed the image `{tag}` named before ({} MB)",
            replaced.size / 1_000_000
        )),
        Ok(false) => ui::note(format!(
            "kept the image `{tag}` named before: a container still uses it"
        )),
        Err(error) => ui::warn(format!("{error:#}")),
    }
}

async fn build(engine: &Engine, tag: &str, folder: &BuildFolder) -> anyhow::Result<()> {
    let started = Instant::now();
    let root = folder.path().join("rootfs");

    let bar = ui::spinner("debootstrap: starting");
    let bootstrapped = rootfs::debootstrap(&root, |line| {
        bar.set_message(format!("debootstrap: {line}"))
    })
    .await;
    if let Err(error) = bootstrapped {
        ui::failed(&bar);
        return Err(error);
    }
    ui::done(
        &bar,
        format!(
            "installed {} from Debian {}",
            recipe::PACKAGES.join(", "),
            recipe::SUITE
        ),
    );

    let trim_root = root.clone();
    tokio::task::spawn_blocking(move || rootfs::finish(&trim_root))
        .await
        .context("the trim step panicked")??;
    ui::step("trimmed docs, caches and logs; installed the entrypoint");

    let bar = ui::byte_counter(format!("importing `{tag}`"));
    let counter = bar.clone();
    let tar = rootfs::tar_stream(root).inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            counter.inc(chunk.len() as u64);
        }
    });
    let imported = engine
        .import_image(tag, recipe::changes(&recipe::recipe_hash()), tar)
        .await;
    if let Err(error) = imported {
        ui::failed(&bar);
        return Err(error);
    }
    ui::done(&bar, format!("imported `{tag}`"));
    let size = engine
        .inspect_image(tag)
        .await?
        .map_or(0, |image| image.size);
    ui::step(format!(
        "built image `{tag}` ({} MB) in {:.0} s",
        size / 1_000_000,
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// debootstrap needs root; when it is missing, CI (as root) installs it and anyone else is told
/// how.
async fn ensure_debootstrap() -> anyhow::Result<()> {
    let is_root = unsafe { libc::geteuid() } == 0;
    if !is_root {
        bail!(
            "building the PostgreSQL image needs root (debootstrap creates device files and \
             sets ownership): run `sudo -E cargo xtask image build`, or make a registry \
             reachable so that the image can be pulled"
        );
    }
    if which::which("debootstrap").is_ok() {
        return Ok(());
    }
    if std::env::var_os("CI").is_none() {
        bail!("debootstrap is not installed: install it with `sudo apt-get install debootstrap`");
    }
    let bar = ui::spinner("installing debootstrap (CI)");
    let output = tokio::process::Command::new("apt-get")
        .args(["install", "-y", "debootstrap"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .await
        .context("cannot run apt-get")?;
    if !output.status.success() {
        ui::failed(&bar);
        bail!(
            "`apt-get install -y debootstrap` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    ui::done(&bar, "installed debootstrap");
    Ok(())
}

/// Where the build folder goes: /var/tmp (on disk, not a small tmpfs), else target/.
fn build_parent(ctx: &Context) -> std::path::PathBuf {
    let var_tmp = std::path::Path::new("/var/tmp");
    if var_tmp.is_dir() {
        var_tmp.to_path_buf()
    } else {
        ctx.root.join("target")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_images_from_another_recipe_are_stale() {
        let labelled =
            |recipe: &str| BTreeMap::from([(recipe::RECIPE_LABEL.to_string(), recipe.to_string())]);
        assert!(!is_stale(&BTreeMap::new()));
        assert!(!is_stale(&labelled(&recipe::recipe_hash())));
        assert!(is_stale(&labelled("0123abcd")));
    }
}
