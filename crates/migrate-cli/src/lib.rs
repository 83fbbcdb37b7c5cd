//! The front end of `nelo_migrate`: what the `nelo-migrate` binary and the `cargo xtask`
//! orchestrator both show and ask, written once. Where a text names a command, the caller
//! passes its own ([`Commands`]). The engine itself (crates/migrate) never prints.

mod confirm;
mod diff_args;
pub mod dotenv;
mod error_chain;
mod resolve;
mod schema_migration;
mod schema_report;
mod status_table;
mod stdout;

pub use confirm::{Confirmation, confirm, is_interactive, is_yes, yes_or_no};
pub use diff_args::{DiffOutputArgs, FromArgs, PlanArgs, ToArgs};
pub use error_chain::{error_chain_text, print_error_chain};
pub use resolve::ResolveArgs;
pub use schema_migration::{Written, schema_change, write_schema_change};
pub use schema_report::{
    diff_json, diff_summary, difference_lines, drift_json, drift_summary, push_json,
};
pub use status_table::status_table;
pub use stdout::{is_broken_pipe, print_stdout};

/// A tool's own commands, as its advice names them: `nelo-migrate deploy`,
/// `cargo xtask db migrate deploy --test`.
#[derive(Debug, Clone, Copy)]
pub struct Commands<'a> {
    /// The command that applies pending migrations.
    pub deploy: &'a str,
    /// The command that marks a migration applied or rolled back (`--applied NAME`,
    /// `--rolled-back NAME` follow it).
    pub resolve: &'a str,
}

/// `1 migration`, `2 migrations`: `noun` with an `s` unless `number` is 1.
pub fn count(number: usize, noun: &str) -> String {
    if number == 1 {
        format!("1 {noun}")
    } else {
        format!("{number} {noun}s")
    }
}
