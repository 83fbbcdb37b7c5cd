//! The one PostgreSQL access layer of the workspace: connecting with the one retry rule and
//! named timeouts, the maintenance connection, creating and dropping databases, and the few
//! questions the tools ask of a database's contents. The migration engine, its shadow
//! databases, `nelo_db`'s test databases and `cargo xtask` all go through it.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use nelo_migrate::{DatabaseUrl, postgres};
//! let url = DatabaseUrl::parse("postgresql://nelo:nelo@localhost:5432/nelo")?;
//! let mut admin = postgres::connect_maintenance(&url, postgres::CONNECT_TIMEOUT).await?;
//! postgres::ensure_database(&mut admin, "nelo_scratch").await?;
//! postgres::drop_database(&mut admin, "nelo_scratch").await?;
//! # Ok(()) }
//! ```
//!
//! SQL text helpers (quoting, the system-schema filter) are in [`crate::sql`].

mod connect;
mod contents;
mod databases;
mod timeout;

use std::time::Duration;

use sqlx::PgConnection;

use crate::{DatabaseUrl, Error};

pub use connect::{Failure, classify_failure, connect};
pub use contents::{ensure_extension, has_user_tables};
pub use databases::{
    create_database, database_exists, drop_database, drop_template, ensure_database,
    is_concurrent_creation,
};
pub use timeout::{CONNECT_TIMEOUT, LOCK_TIMEOUT, PROBE_TIMEOUT, SecondsError, parse_seconds};

/// The database that every server has and that tools connect to when they work on the
/// others (create, drop, rename, list): `postgres`, as in `createdb` and `psql -l`.
pub const MAINTENANCE_DATABASE: &str = "postgres";

/// `url`'s server and credentials, with the [`MAINTENANCE_DATABASE`].
pub fn maintenance_url(url: &DatabaseUrl) -> DatabaseUrl {
    url.with_database(MAINTENANCE_DATABASE)
}

/// [`connect`] to the [`MAINTENANCE_DATABASE`] of `url`'s server, with `url`'s credentials.
///
/// # Errors
/// As [`connect`].
pub async fn connect_maintenance(
    url: &DatabaseUrl,
    timeout: Duration,
) -> Result<PgConnection, Error> {
    connect(&maintenance_url(url), timeout).await
}
