//! Drift: a live database against what its applied migrations build.
//!
//! Prisma's `migrate dev` reports "Drift detected: Your database schema is not in sync with
//! your migration history" after replaying the applied migrations into a shadow database and
//! comparing (prisma-engines `schema-engine/core/src/commands/dev_diagnostic.rs`,
//! `DevAction::Reset` with a `DriftDetected` reason). nelo does the same, read only: the
//! applied migrations (by the history table) are replayed into a shadow on the shadow server
//! (a clone of their template, [`crate::template`], built by the first check), both sides are
//! read with the catalog introspector, and the differences are the drift.

use std::path::Path;

use serde::Serialize;

use super::sides::Context;
use super::{DiffError, DiffOptions, Difference, NotCompared, compare};
use crate::database_url::url_schema;
use crate::plan::State;
use crate::shadow::ShadowServer;
use crate::template::{Slot, canonical_folder};
use crate::{Error, Migrator};

/// What [`drift`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    /// The migrations replayed (applied in the database and present in the folder), in order.
    pub replayed: Vec<String>,
    /// Applied migrations whose file changed since (replayed as the file is now, so the
    /// comparison is with the current text, not the applied one).
    pub modified: Vec<String>,
    /// Migrations recorded as started and never finished: not replayed; what they left in
    /// the database, if anything, shows as drift.
    pub failed: Vec<String>,
    /// What differs, from what the migrations build (`from`) to the live database (`to`):
    /// an added object exists only in the database, a dropped one only in the migrations.
    pub differences: Vec<Difference>,
    /// Objects of kinds nelo does not compare, on either side.
    pub not_compared: Vec<NotCompared>,
}

impl Drift {
    /// No difference in what nelo compares (see [`Drift::cannot_tell`] for the rest).
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }

    /// The objects of kinds nelo does not compare that exist on one side only or differ:
    /// while there is one, the database cannot be called free of drift.
    pub fn cannot_tell(&self) -> Vec<&NotCompared> {
        self.not_compared
            .iter()
            .filter(|object| object.cannot_tell())
            .collect()
    }
}

/// Compares the database at `database_url` with what the migrations of `migrations_dir` that
/// its history table records as applied build in a shadow database.
///
/// Shadows go on `options.shadow_server_url`, else on the database's own server; the role
/// needs CREATEDB there. The database itself is only read (its history table and catalog).
///
/// # Errors
///
/// [`DiffError::DriftUnreplayable`] when an applied migration is no longer in the folder;
/// connection, shadow and replay errors as [`super::diff`] returns them.
pub async fn drift(
    database_url: &str,
    migrations_dir: &Path,
    options: &DiffOptions,
) -> Result<Drift, Error> {
    let folder = canonical_folder(migrations_dir)?;
    let (status, local) = Migrator::new(&folder)
        .connect_timeout(options.connect_timeout)
        .status_and_folder(database_url)
        .await?;
    let names_in = |state: State| -> Vec<String> {
        status
            .in_state(state)
            .map(|entry| entry.name.clone())
            .collect()
    };
    let missing = names_in(State::Missing);
    if !missing.is_empty() {
        return Err(DiffError::DriftUnreplayable { missing }.into());
    }
    let modified = names_in(State::Modified);
    let replayed: Vec<String> = status
        .entries
        .iter()
        .filter(|entry| matches!(entry.state, State::Applied | State::Modified))
        .map(|entry| entry.name.clone())
        .collect();
    let local_count = local.len();
    let to_replay: Vec<_> = local
        .into_iter()
        .filter(|migration| replayed.contains(&migration.name))
        .collect();
    // The whole folder shares `diff`'s template; a subset keeps a slot of its own.
    let slot = if to_replay.len() == local_count {
        Slot::Full
    } else {
        Slot::Applied
    };

    let server_url = options
        .shadow_server_url
        .clone()
        .unwrap_or_else(|| database_url.to_string());
    let search_path = url_schema(database_url).unwrap_or_else(|| "public".to_string());
    let context = Context {
        server: ShadowServer::new(&server_url, &search_path, options.connect_timeout)?,
        search_path,
        scope: url_schema(database_url),
        connect_timeout: options.connect_timeout,
    };
    context.server.sweep().await?;
    let expected = context.replay(&folder, &to_replay, slot).await?;
    let live = context.introspect(database_url).await?;
    Ok(Drift {
        replayed,
        modified,
        failed: names_in(State::Failed),
        differences: compare::compare(&expected, &live),
        not_compared: compare::not_compared(&expected, &live),
    })
}
