//! A migration engine for PostgreSQL that reads Prisma Migrate's folder layout and keeps
//! Prisma's `_prisma_migrations` history table, so it can take over from Prisma (and back).
//!
//! ```no_run
//! # async fn example() -> Result<(), nelo_migrate::Error> {
//! let migrator = nelo_migrate::Migrator::new("migrations");
//! let report = migrator.deploy("postgresql://nelo@localhost/nelo", |_event| {}).await?;
//! println!("applied {}", report.applied.len());
//! # Ok(()) }
//! ```

mod apply;
mod checksum;
mod create;
mod database_url;
mod deploy;
pub mod diff;
mod error;
mod folder;
pub mod lint;
pub mod lock_retry;
mod migrator;
mod plan;
mod pooler;
mod position;
pub mod postgres;
mod redact;
mod reset;
mod resolve;
mod run_mode;
pub mod seed;
pub mod shadow;
pub mod split;
pub mod sql;
mod status;
mod store;
pub mod template;
mod watchdog;
mod wire;

pub use checksum::checksum;
pub use create::{EMPTY_MIGRATION, create_migration, create_migrations};
pub use database_url::{DatabaseUrl, UrlError, UrlPart};
pub use error::{ConnectionLoss, Error, LockHolder, MigrationFailure};
pub use folder::{Migration, NO_TRANSACTION_MARKER, is_migration_folder_name, load};
pub use lock_retry::{Blocker, DdlLocks, LockWait, LockWaitInfo};
pub use migrator::{DeployReport, Event, Migrator};
pub use plan::{MigrationStatus, State, StatusReport};
pub use position::line_column;
pub use redact::{redact_text, redact_url};
pub use run_mode::{RunMode, RunPlan, Unrunnable, UnrunnableReason, run_plan};
pub use sql::quote_identifier;
pub use store::LOCK_KEY;
