//! Whether a file can restore whole, decided before anything is touched: its `.sha256`
//! when there is one, its format from the magic, then an archive's table of contents or a
//! plain script's pg_dump header and closing line.

use std::path::Path;

use anyhow::{Context as _, bail};

use super::stream::{Reads, feed_file};
use crate::backup::check::plain_dump_problem;
use crate::backup::dump::Format;
use crate::backup::file::{checksum_path, sha256_of};
use crate::backup::name::parse_checksum_line;
use crate::context::Context;
use crate::docker::Engine;

/// How much of each end of a plain script is read to check its header and closing line.
const PLAIN_CHECK_BYTES: u64 = 64 * 1024;

/// The file's format from its magic, after its `.sha256` (when there is one) has matched.
pub(crate) fn check_file(path: &Path) -> anyhow::Result<Format> {
    let mut head = [0u8; 512];
    let read = std::fs::File::open(path)
        .and_then(|mut file| std::io::Read::read(&mut file, &mut head))
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let checksum = checksum_path(path);
    if checksum.exists() {
        let text = std::fs::read_to_string(&checksum)
            .with_context(|| format!("cannot read `{}`", checksum.display()))?;
        let expected = parse_checksum_line(&text)
            .with_context(|| format!("`{}` holds no SHA-256 digest", checksum.display()))?;
        let actual = sha256_of(path)?;
        if actual != expected {
            bail!(
                "`{}` is damaged: its SHA-256 is {actual} but `{}` expects {expected}; refusing to \
                 restore it",
                path.display(),
                checksum.display()
            );
        }
    }
    Format::detect(&head[..read]).with_context(|| {
        format!(
            "`{}` is neither a pg_dump custom archive nor an SQL script",
            path.display()
        )
    })
}

/// Refuses a file that cannot restore whole: an archive whose table of contents pg_restore
/// cannot read, a script that is not pg_dump's or was cut short.
pub(super) async fn check_whole_file(
    ctx: &Context,
    engine: &Engine,
    path: &Path,
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Custom => {
            let argv = ["pg_restore", "--list"].map(String::from);
            feed_file(
                engine,
                &ctx.config.container,
                &argv,
                path,
                "reading the archive's table of contents",
                Reads::Start,
            )
            .await
            .with_context(|| {
                format!(
                    "`{}` is not a readable pg_dump archive; nothing was changed",
                    path.display()
                )
            })?;
        }
        Format::Plain => {
            let (head, tail) = ends_of(path)?;
            if let Some(problem) = plain_dump_problem(&head, &tail) {
                bail!(
                    "`{}` cannot be restored: {problem}; nothing was changed",
                    path.display()
                );
            }
        }
    }
    Ok(())
}

/// The first and the last [`PLAIN_CHECK_BYTES`] of a file.
fn ends_of(path: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    use std::io::{Read, Seek, SeekFrom};
    let read = || -> std::io::Result<(Vec<u8>, Vec<u8>)> {
        let mut file = std::fs::File::open(path)?;
        let length = file.metadata()?.len();
        let mut head = Vec::new();
        (&mut file).take(PLAIN_CHECK_BYTES).read_to_end(&mut head)?;
        file.seek(SeekFrom::Start(length.saturating_sub(PLAIN_CHECK_BYTES)))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        Ok((head, tail))
    };
    read().with_context(|| format!("cannot read `{}`", path.display()))
}
