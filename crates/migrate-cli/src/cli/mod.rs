//! The subcommands of the `nelo-migrate` binary, one file each.

pub mod advice;
pub mod args;
pub mod create;
pub mod deploy;
pub mod diff;
pub mod lint;
pub mod push;
pub mod reset;
pub mod resolve;
pub mod seed;
pub mod signal;
pub mod status;
pub mod ui;

/// This binary's commands, as the shared advice names them.
pub const COMMANDS: nelo_migrate_cli::Commands = nelo_migrate_cli::Commands {
    deploy: "nelo-migrate deploy",
    resolve: "nelo-migrate resolve",
};
