//! SIGINT and SIGTERM end a command cleanly, with the shell's exit codes (130, 143).
//!
//! The command's future is dropped, which closes its connection. The server then rolls back
//! the transaction in progress and releases the session's migration lock: it checks every
//! second that the client is still there (`client_connection_check_interval`, set by the
//! library), so this does not wait for a long statement to end. A migration that runs
//! statement by statement keeps the steps it completed, recorded in its history row.

use std::future::Future;
use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};

/// Runs `command` until it ends or the process is asked to stop.
pub async fn until_interrupted(
    command: impl Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        outcome = command => outcome,
        _ = interrupt.recv() => Ok(interrupted("SIGINT", 130)),
        _ = terminate.recv() => Ok(interrupted("SIGTERM", 143)),
    }
}

fn interrupted(signal: &str, code: u8) -> ExitCode {
    eprintln!(
        "\ninterrupted by {signal}: the connection is closed, so the server rolls back the statement in progress and releases the migration lock. A migration in one transaction is left pending; one that runs outside a single transaction (alone, with its own COMMITs, or statement by statement) may be partly applied and is then left started, which blocks the next deploy until it is resolved: see `nelo-migrate status`"
    );
    ExitCode::from(code)
}
