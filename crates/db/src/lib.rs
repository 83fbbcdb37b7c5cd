//! Nelo's own database package.
//!
//! - [`seed`] loads the demo project, in one transaction, idempotently (`nelo-seed` wraps it);
//! - [`embedding`] makes the deterministic stand-in embeddings the seed and the tests use;
//! - [`testing`] hands each Rust test a fresh, fully migrated database, cloned from a template.
//!
//! The schema itself lives in `migrations/` at the root of the workspace; its contract is
//! checked by `tests/schema_validation.rs`.

pub mod embedding;
pub mod seed;
pub mod testing;

use std::path::PathBuf;

/// Nelo's migrations folder, `migrations/` at the root of the workspace.
pub fn migrations_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
}
