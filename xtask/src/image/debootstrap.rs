//! The local build's steps, on Linux only: debootstrap (installed in CI, root needed), the
//! root file system trimmed and imported into Docker as the image.

use std::time::Instant;

use anyhow::{Context as _, bail};
use futures_util::StreamExt;

use super::folder::BuildFolder;
use super::{recipe, rootfs};
use crate::context::Context;
use crate::docker::Engine;
use crate::ui;

/// Builds the image `tag` in a temporary folder, which goes however the build ends.
pub(super) async fn build_image(ctx: &Context, engine: &Engine, tag: &str) -> anyhow::Result<()> {
    ensure_debootstrap().await?;
    let folder = BuildFolder::new(&build_parent(ctx))?;
    // On Ctrl-C the build is dropped: debootstrap is killed and the folder removed.
    tokio::select! {
        built = build(engine, tag, &folder) => built,
        _ = tokio::signal::ctrl_c() => bail!("interrupted; the build folder was removed"),
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
    // SAFETY: geteuid takes no arguments, touches no memory and cannot fail.
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
