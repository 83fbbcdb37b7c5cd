//! What the benchmark runs and where: the `nelo-migrate` and `sqlx` binaries (built or
//! installed when missing), their versions, and the server's.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sqlx::PgConnection;

use crate::context::Context;
use crate::ui;

pub struct Tools {
    pub nelo_migrate: PathBuf,
    pub nelo_version: String,
    pub sqlx: PathBuf,
    pub sqlx_version: String,
}

pub async fn ensure_tools(ctx: &Context, nelo_migrate: Option<PathBuf>) -> anyhow::Result<Tools> {
    let nelo_migrate = match nelo_migrate {
        // Absolute, because the children run in the scratch directory.
        Some(path) => std::fs::canonicalize(&path)
            .with_context(|| format!("`--nelo-migrate {}` does not exist", path.display()))?,
        None => build_nelo_migrate(&ctx.root).await?,
    };
    let sqlx = match which::which("sqlx") {
        Ok(path) => path,
        Err(_) => install_sqlx_cli().await?,
    };
    Ok(Tools {
        nelo_version: version(&nelo_migrate).await?,
        sqlx_version: version(&sqlx).await?,
        nelo_migrate,
        sqlx,
    })
}

pub async fn build_nelo_migrate(root: &Path) -> anyhow::Result<PathBuf> {
    let bar = ui::spinner("cargo build --release -p nelo-migrate-cli");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    run_quietly(tokio::process::Command::new(cargo).current_dir(root).args([
        "build",
        "--release",
        "-p",
        "nelo-migrate-cli",
    ]))
    .await
    .context("cannot build `nelo-migrate`; pass --nelo-migrate PATH to measure a built binary")?;
    ui::done(&bar, "built nelo-migrate (release)");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("release").join("nelo-migrate"))
}

async fn install_sqlx_cli() -> anyhow::Result<PathBuf> {
    let bar =
        ui::spinner("cargo install sqlx-cli --no-default-features --features postgres,rustls");
    run_quietly(tokio::process::Command::new("cargo").args([
        "install",
        "sqlx-cli",
        "--no-default-features",
        "--features",
        "postgres,rustls",
    ]))
    .await
    .context("cannot install sqlx-cli, the reference the bench compares with")?;
    ui::done(&bar, "installed sqlx-cli");
    which::which("sqlx")
        .context("sqlx-cli is installed but `sqlx` is not on PATH: add ~/.cargo/bin to PATH")
}

/// Runs a command to completion; a non-zero exit is an error carrying its stderr.
async fn run_quietly(command: &mut tokio::process::Command) -> anyhow::Result<String> {
    let output = command
        .output()
        .await
        .with_context(|| format!("cannot run {command:?}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

async fn version(program: &Path) -> anyhow::Result<String> {
    run_quietly(tokio::process::Command::new(program).arg("--version")).await
}

/// The server's version, for the report.
pub async fn postgres_version(admin: &mut PgConnection) -> anyhow::Result<String> {
    sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut *admin)
        .await
        .context("cannot read the server version")
}
