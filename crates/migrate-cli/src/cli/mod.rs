//! The subcommands of the `nelo-migrate` binary, one file each.

pub mod advice;
pub mod args;
pub mod create;
pub mod deploy;
pub mod diff;
pub mod lint;
pub mod reset;
pub mod resolve;
pub mod seed;
pub mod signal;
pub mod status;
pub mod ui;
