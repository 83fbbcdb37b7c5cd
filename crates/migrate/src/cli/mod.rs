//! The subcommands of the `nelo-migrate` binary, one file each.

pub mod args;
pub mod create;
pub mod deploy;
pub mod lint;
pub mod reset;
pub mod resolve;
pub mod seed;
pub mod status;
pub mod ui;
