//! Whether a file can restore whole, decided before anything is touched: its `.sha256`
//! when there is one, its format from the magic, then an archive's table of contents or a
//! plain script's pg_dump header and closing line.

use std::path::Path;

use anyhow::{Context as _, bail};

use crate::context::Context;
use crate::docker::Engine;
use crate::dump::check::plain_dump_problem;
use crate::dump::check::{replaced_database_name, scratch_database_name};
use crate::dump::programs::{Format, pg_restore_list_argv};
use crate::dump::script::first_problem;
use crate::workflow::restore::stream::{Reads, feed_file};

/// How much of each end of a plain script is read to check its header and closing line.
const PLAIN_CHECK_BYTES: u64 = 64 * 1024;

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
            let argv = pg_restore_list_argv();
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
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            let found = first_problem(std::io::BufReader::with_capacity(256 * 1024, file))
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            if let Some((line, problem)) = found {
                bail!(
                    "`{}:{line}` cannot be restored: {problem}; a restore acts only on the \
                     database it restores into; nothing was changed",
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

/// PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes.
const MAX_IDENTIFIER: usize = 63;
/// What the server's own tools need: never a restore's target.
const SYSTEM_DATABASES: [&str; 3] = ["postgres", "template0", "template1"];

/// Why `target` cannot be restored into, decided from its name alone: a system database,
/// or a name too long for PostgreSQL once the restore's working suffix is added.
pub(super) fn target_name_problem(target: &str) -> Option<String> {
    if target.is_empty() {
        return Some("the database to restore into has no name: pass --into NAME".to_string());
    }
    if SYSTEM_DATABASES.contains(&target) {
        return Some(format!(
            "`{target}` is one of the server's own databases ({}); a restore never replaces \
             it: restore into another one with --into NAME",
            SYSTEM_DATABASES.map(|name| format!("`{name}`")).join(", ")
        ));
    }
    let suffix = scratch_database_name("")
        .len()
        .max(replaced_database_name("").len());
    let limit = MAX_IDENTIFIER - suffix;
    if target.len() > limit {
        return Some(format!(
            "`{target}` is {} bytes long; a restore target may have at most {limit} \
             (PostgreSQL names hold {MAX_IDENTIFIER} bytes and the restore works in \
             `{}`): choose a shorter name with --into NAME",
            target.len(),
            scratch_database_name("<target>")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_databases_and_names_too_long_for_the_scratch_database_are_refused() {
        for name in ["postgres", "template0", "template1", ""] {
            assert!(target_name_problem(name).is_some(), "{name}");
        }
        let longest = "a".repeat(48);
        assert_eq!(target_name_problem(&longest), None);
        assert_eq!(scratch_database_name(&longest).len(), 63);
        let problem = target_name_problem(&"a".repeat(49)).unwrap();
        assert!(
            problem.contains("49 bytes") && problem.contains("at most 48"),
            "{problem}"
        );
        // Bytes, not characters.
        assert!(target_name_problem(&"é".repeat(25)).is_some());
        assert_eq!(target_name_problem("nelo_restored_20261124t101500z"), None);
    }
}
