//! The local build's steps, on Linux only: debootstrap (root needed; installed with apt-get
//! when it is missing and root can), the root file system trimmed and imported into Docker as
//! the image.

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

/// What this host lacks to run debootstrap, as plain facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BuildHost {
    is_root: bool,
    has_debootstrap: bool,
    has_apt_get: bool,
}

/// What to do before debootstrap can run.
#[derive(Debug, PartialEq, Eq)]
enum DebootstrapPlan {
    /// debootstrap is there and we are root.
    Ready,
    /// Root on a system with apt-get: install debootstrap, then build.
    Install,
    /// Stop with this message, which names the one command to run.
    Stop(String),
}

const APT_INSTALL: [&str; 4] = ["install", "-y", "--no-install-recommends", "debootstrap"];

/// Whether the image build can go on, install debootstrap itself, or must stop with the fix.
fn debootstrap_plan(host: BuildHost) -> DebootstrapPlan {
    const NEEDS_ROOT: &str = "building the PostgreSQL image needs root (debootstrap creates \
                              device files and sets ownership)";
    match host {
        BuildHost {
            is_root: true,
            has_debootstrap: true,
            ..
        } => DebootstrapPlan::Ready,
        BuildHost {
            is_root: true,
            has_apt_get: true,
            ..
        } => DebootstrapPlan::Install,
        BuildHost { is_root: true, .. } => DebootstrapPlan::Stop(
            "debootstrap is not installed and there is no apt-get here to install it: install \
             the `debootstrap` package with this system's package manager (for example \
             `dnf install debootstrap`), then run this command again"
                .to_string(),
        ),
        BuildHost {
            has_debootstrap: true,
            ..
        }
        | BuildHost {
            has_apt_get: true, ..
        } => DebootstrapPlan::Stop(format!(
            "{NEEDS_ROOT}: run `sudo -E cargo xtask image build` (it installs debootstrap with \
             apt-get when it is missing), then this command again as yourself; or make a \
             registry reachable so that the image can be pulled"
        )),
        BuildHost { .. } => DebootstrapPlan::Stop(format!(
            "{NEEDS_ROOT}, and debootstrap is not installed: install the `debootstrap` package \
             with this system's package manager, then run `sudo -E cargo xtask image build`; \
             or make a registry reachable so that the image can be pulled"
        )),
    }
}

/// Makes sure debootstrap can run: installs it with apt-get when root can, else stops with the
/// command to run ([`debootstrap_plan`]).
async fn ensure_debootstrap() -> anyhow::Result<()> {
    let host = BuildHost {
        // SAFETY: geteuid takes no arguments, touches no memory and cannot fail.
        is_root: unsafe { libc::geteuid() } == 0,
        has_debootstrap: which::which("debootstrap").is_ok(),
        has_apt_get: which::which("apt-get").is_ok(),
    };
    match debootstrap_plan(host) {
        DebootstrapPlan::Ready => Ok(()),
        DebootstrapPlan::Stop(message) => bail!(message),
        DebootstrapPlan::Install => install_debootstrap().await,
    }
}

/// `apt-get install debootstrap`, said first; when the package lists are missing or old (a
/// fresh container has none), `apt-get update` and one more try.
async fn install_debootstrap() -> anyhow::Result<()> {
    ui::step(format!(
        "debootstrap is needed to build the image and is missing; installing it (`apt-get {}`)",
        APT_INSTALL.join(" ")
    ));
    let bar = ui::spinner("installing debootstrap");
    let first = apt_get(&APT_INSTALL).await;
    let installed = match first {
        Ok(()) => Ok(()),
        Err(_) => {
            bar.set_message("installing debootstrap: apt-get update");
            match apt_get(&["update"]).await {
                Ok(()) => apt_get(&APT_INSTALL).await,
                Err(error) => Err(error),
            }
        }
    };
    match installed {
        Ok(()) => {
            ui::done(&bar, "installed debootstrap");
            Ok(())
        }
        Err(error) => {
            ui::failed(&bar);
            Err(error.context(
                "cannot install debootstrap: install it yourself (`apt-get install \
                 debootstrap`), then run this command again",
            ))
        }
    }
}

async fn apt_get(args: &[&str]) -> anyhow::Result<()> {
    let output = tokio::process::Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .context("cannot run apt-get")?;
    if !output.status.success() {
        bail!(
            "`apt-get {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
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

    fn host(is_root: bool, has_debootstrap: bool, has_apt_get: bool) -> BuildHost {
        BuildHost {
            is_root,
            has_debootstrap,
            has_apt_get,
        }
    }

    fn stop_message(plan: DebootstrapPlan) -> String {
        match plan {
            DebootstrapPlan::Stop(message) => message,
            other => panic!("expected a stop, got {other:?}"),
        }
    }

    #[test]
    fn root_with_debootstrap_builds() {
        assert_eq!(
            debootstrap_plan(host(true, true, true)),
            DebootstrapPlan::Ready
        );
        assert_eq!(
            debootstrap_plan(host(true, true, false)),
            DebootstrapPlan::Ready
        );
    }

    #[test]
    fn root_with_apt_get_installs_debootstrap_itself() {
        assert_eq!(
            debootstrap_plan(host(true, false, true)),
            DebootstrapPlan::Install
        );
    }

    #[test]
    fn root_without_apt_get_is_told_to_install_the_package() {
        let message = stop_message(debootstrap_plan(host(true, false, false)));
        assert!(message.contains("there is no apt-get"), "{message}");
        assert!(!message.contains("sudo"), "{message}");
    }

    #[test]
    fn anyone_else_is_given_the_one_command_to_run() {
        for has_debootstrap in [true, false] {
            let message = stop_message(debootstrap_plan(host(false, has_debootstrap, true)));
            assert!(
                message.contains("`sudo -E cargo xtask image build`"),
                "{message}"
            );
        }
        let message = stop_message(debootstrap_plan(host(false, false, false)));
        assert!(
            message.contains("debootstrap is not installed"),
            "{message}"
        );
        assert!(
            message.contains("`sudo -E cargo xtask image build`"),
            "{message}"
        );
    }
}
