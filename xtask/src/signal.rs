//! SIGINT and SIGTERM end a command cleanly, with the shell's exit codes (130, 143), once for
//! every command that changes files or databases.
//!
//! The command's future is dropped: what it holds cleans up on drop (a dump's `.partial` is
//! removed, a host `pg_dump` is killed, connections close so the server rolls back). What
//! needs a round trip to undo (a restore's scratch database) registers an [`on_interrupt`]
//! cleanup, which runs after the command is dropped, with a deadline.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use tokio::signal::unix::{SignalKind, signal};

use crate::ui;

/// How long the cleanups may take, all together, before the process exits anyway.
const CLEANUP_DEADLINE: Duration = Duration::from_secs(10);

type Cleanup = Box<dyn FnOnce() -> LocalBoxFuture<'static, ()> + Send>;

static CLEANUPS: Mutex<Vec<(u64, Cleanup)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Runs `command` until it ends or the process is asked to stop; then drops it, runs the
/// registered cleanups and returns 130 (SIGINT) or 143 (SIGTERM).
pub async fn until_interrupted(
    command: impl Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut command = Box::pin(command);
    let (name, code) = tokio::select! {
        outcome = &mut command => return outcome,
        _ = interrupt.recv() => ("SIGINT", 130),
        _ = terminate.recv() => ("SIGTERM", 143),
    };
    // Taken before the command is dropped, so that its guards find nothing to remove.
    let cleanups: Vec<Cleanup> = std::mem::take(&mut *lock())
        .into_iter()
        .map(|(_, cleanup)| cleanup)
        .collect();
    drop(command);
    let cleaned = tokio::time::timeout(CLEANUP_DEADLINE, async {
        for cleanup in cleanups {
            cleanup().await;
        }
    })
    .await;
    if cleaned.is_err() {
        ui::warn(format!(
            "the cleanup after {name} took more than {} s and was abandoned",
            CLEANUP_DEADLINE.as_secs()
        ));
    }
    eprintln!(
        "\ninterrupted by {name}: stopped cleanly (no partial file is left and no database was \
         changed half way); run the command again to go on"
    );
    Ok(ExitCode::from(code))
}

/// Registers `cleanup` to run if the command is interrupted while the returned guard lives.
pub fn on_interrupt<F>(cleanup: impl FnOnce() -> F + Send + 'static) -> CleanupGuard
where
    F: Future<Output = ()> + 'static,
{
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let boxed: Cleanup = Box::new(move || Box::pin(cleanup()));
    lock().push((id, boxed));
    CleanupGuard { id }
}

/// Unregisters its cleanup when dropped (the work it undoes finished or was undone).
pub struct CleanupGuard {
    id: u64,
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        lock().retain(|(id, _)| *id != self.id);
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(u64, Cleanup)>> {
    CLEANUPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
