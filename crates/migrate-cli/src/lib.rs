//! The front end of `nelo_migrate`: what the `nelo-migrate` binary and the `cargo xtask`
//! orchestrator both show and ask, written once. Each piece takes the tool's own command
//! names where its text names a command. The engine itself (crates/migrate) never prints.

pub mod dotenv;
