//! The library's test support (crates/migrate/tests/common: throwaway databases, migration
//! folders, Prisma's side, PgBouncer), included rather than copied, plus the binary under test.
#![allow(dead_code)]

#[path = "../../../migrate/tests/common/mod.rs"]
mod library;

use std::process::Command;

#[allow(unused_imports)] // each test binary uses its own part
pub use library::*;

/// The `nelo-migrate` binary, never interactive, with no configuration from the environment.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nelo-migrate"));
    command
        .env("CI", "1")
        .env_remove("DATABASE_URL")
        .env_remove("NELO_MIGRATIONS_DIR")
        .env_remove("NELO_SEED_COMMAND")
        .env_remove("NELO_LOCK_TIMEOUT")
        .env_remove("NELO_CONNECT_TIMEOUT")
        .env_remove("NELO_DDL_LOCK_TIMEOUT")
        .env_remove("NELO_LOCK_RETRY_BUDGET")
        .current_dir(std::env::temp_dir());
    command
}
