//! `cargo xtask db backups [--prune --keep N]`: the backups in NELO_BACKUP_DIR, newest first,
//! read from their file names; pruning keeps the newest N of each database.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::context::Context;
use crate::dump::name::{BackupName, parse_backup_file_name, prune_plan};
use crate::dump_file::checksum_path;
use crate::ui;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Delete old backups (and their `.sha256`), keeping the newest `--keep` per database.
    #[arg(long, requires = "keep")]
    prune: bool,
    /// How many backups of each database `--prune` keeps.
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let dir = &ctx.config.backup_dir;
    let mut backups = list(dir)?;
    if args.prune {
        let Some(keep) = args.keep else {
            bail!("--prune needs --keep N")
        };
        let doomed: Vec<String> = prune_plan(&backups, keep)
            .into_iter()
            .map(String::from)
            .collect();
        for file_name in &doomed {
            let path = dir.join(file_name);
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove `{}`", path.display()))?;
            let _ = std::fs::remove_file(checksum_path(&path));
            ui::step(format!("removed {file_name}"));
        }
        backups.retain(|(file_name, _)| !doomed.contains(file_name));
    } else if args.keep.is_some() {
        bail!("--keep only applies with --prune");
    }
    if backups.is_empty() {
        ui::note(format!("no backups in {}", dir.display()));
        return Ok(ExitCode::SUCCESS);
    }
    backups.sort_by(|a, b| b.1.taken_at.cmp(&a.1.taken_at).then_with(|| a.0.cmp(&b.0)));
    ui::stdout_line(format!(
        "{:<24} {:<20} {:<14} {:>10}  FILE",
        "DATABASE", "TIME (UTC)", "REASON", "SIZE"
    ));
    for (file_name, backup) in &backups {
        let size = std::fs::metadata(dir.join(file_name))
            .map(|meta| meta.len())
            .unwrap_or(0);
        ui::stdout_line(format!(
            "{:<24} {:<20} {:<14} {:>10}  {file_name}",
            backup.database,
            backup.taken_at.format("%Y-%m-%d %H:%M:%S"),
            backup.reason,
            ui::bytes(size)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The backups in `dir` (absent: none), by file name.
fn list(dir: &Path) -> anyhow::Result<Vec<(String, BackupName)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot list `{}`", dir.display()));
        }
    };
    let mut backups = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list `{}`", dir.display()))?;
        let Some(file_name) = entry.file_name().to_str().map(String::from) else {
            continue;
        };
        if let Some(backup) = parse_backup_file_name(&file_name) {
            backups.push((file_name, backup));
        }
    }
    Ok(backups)
}
