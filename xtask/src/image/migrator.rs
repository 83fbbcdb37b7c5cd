//! `cargo xtask image migrator`: the `nelo-migrate` image, assembled without a base image or
//! a registry: the release binary and the shared libraries `ldd` names, the user database
//! (65532, `nonroot`), the host's CA roots, `/tmp` and the migrations at `/migrations`, as
//! one tar layer imported through the Docker API. No shell, no package manager.

mod archive;
mod config;
mod host;
mod layout;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

pub(crate) use self::host::build_release_binary;

use self::config::{binary_version, changes, image_tags};
use self::layout::{Inputs, rootfs_entries};
use crate::context::Context;
use crate::docker::{self, Engine, ImageFacts};
use crate::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Another reference for the image, besides `nelo-migrate:latest` and
    /// `nelo-migrate:<version>` (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Put this `nelo-migrate` binary in the image instead of building the release one (the
    /// tests pass the test profile's).
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
    /// Only the `--tag` references, not `nelo-migrate:latest` and `nelo-migrate:<version>`.
    #[arg(long, requires = "tags")]
    no_default_tags: bool,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    if !cfg!(target_os = "linux") {
        bail!(
            "the migrator image holds this machine's `nelo-migrate` binary, so it is built on \
             Linux (x86_64 or arm64): run `cargo xtask image migrator` there or in CI"
        );
    }
    let engine = docker::connect().await?;
    let binary = match args.binary {
        Some(binary) => binary,
        None => host::build_release_binary(&ctx.root).await?,
    };
    let version = version_of(&binary).await?;
    let ca_bundle = PathBuf::from(host::HOST_CA_BUNDLE);
    if !ca_bundle.is_file() {
        bail!(
            "{} is missing: the image carries the host's CA roots for `sslmode=verify-full`; \
             install them (`sudo apt-get install ca-certificates`)",
            ca_bundle.display()
        );
    }
    let migrations_dir = ctx.config.migrations_dir.clone();
    let inputs = Inputs {
        libraries: host::shared_libraries(&binary).await?,
        migration_files: host::migration_files(&migrations_dir)?,
        binary,
        ca_bundle,
        migrations_dir,
    };
    let (libraries, migration_files) = (inputs.libraries.len(), inputs.migration_files.len());
    let facts = host::build_facts(&ctx.root, &version).await?;
    let tags = image_tags(&version, &args.tags, !args.no_default_tags);

    let entries = rootfs_entries(&inputs);
    let archive = tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        archive::write_archive(&entries, &mut bytes).map(|()| bytes)
    })
    .await
    .context("the archive step panicked")??;

    let mut replaced = Vec::new();
    for tag in &tags {
        if let Some(previous) = engine.inspect_image(tag).await? {
            replaced.push((tag.clone(), previous));
        }
    }
    let bar = ui::spinner(format!("importing `{}`", tags[0]));
    let tar = futures_util::stream::once(async move { Ok(bytes::Bytes::from(archive)) });
    if let Err(error) = engine.import_image(&tags[0], changes(&facts), tar).await {
        ui::failed(&bar);
        return Err(error);
    }
    for tag in &tags[1..] {
        engine.tag_image(&tags[0], tag).await?;
    }
    ui::done(&bar, format!("imported `{}`", tags.join("`, `")));
    let built = engine
        .inspect_image(&tags[0])
        .await?
        .context("the imported image is not there")?;
    remove_replaced(&engine, &built, &replaced).await;
    ui::step(format!(
        "built image `{}` ({:.1} MB: the binary, {}, {}) from `nelo-migrate` {version}, \
         revision {}",
        tags[0],
        built.size as f64 / 1e6,
        ui::count(libraries, "shared object"),
        ui::count(migration_files, "migration file"),
        facts.revision
    ));
    Ok(ExitCode::SUCCESS)
}

/// The version `binary --version` prints; the binary must run here, as it will in the image.
async fn version_of(binary: &std::path::Path) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(binary)
        .arg("--version")
        .env_clear()
        .output()
        .await
        .with_context(|| {
            format!(
                "cannot run {} --version: build it with `cargo build --release -p \
                 nelo-migrate-cli`, or leave out --binary",
                binary.display()
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match binary_version(&stdout) {
        Some(version) if output.status.success() => Ok(version.to_string()),
        _ => bail!(
            "{} is not a `nelo-migrate` binary: `--version` printed {:?}",
            binary.display(),
            stdout.trim()
        ),
    }
}

/// The images the tags named before are left untagged: remove them unless a container still
/// uses them. A failure is only worth a warning.
async fn remove_replaced(engine: &Engine, built: &ImageFacts, replaced: &[(String, ImageFacts)]) {
    let mut removed: Vec<&str> = Vec::new();
    for (tag, previous) in replaced {
        if previous.id == built.id || removed.contains(&previous.id.as_str()) {
            continue;
        }
        match engine.remove_image_if_unused(&previous.id).await {
            Ok(true) => {
                removed.push(&previous.id);
                ui::note(format!("removed the image `{tag}` named before"));
            }
            // Still tagged elsewhere or used by a container: it stays.
            Ok(false) => {}
            Err(error) => ui::warn(format!("{error:#}")),
        }
    }
}
