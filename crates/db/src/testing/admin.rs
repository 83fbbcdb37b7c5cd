//! The process's admin side: a runtime of its own and, per server, a small pool of
//! connections to its `postgres` database.
//!
//! Every test has its own runtime, and a connection cannot outlive the runtime that opened
//! it. Running the admin work here instead lets all tests share a few warm connections (no
//! connection and authentication per database made or dropped), and lets `Drop` wait for a
//! drop without building a runtime each time.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::runtime::Runtime;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("nelo-db-admin")
            .enable_all()
            .build()
            .expect("cannot start the runtime of the test-database helpers")
    })
}

/// The pool of admin connections to the server of `url` (its `postgres` database).
pub fn pool(url: &str, options: &PgConnectOptions) -> PgPool {
    static POOLS: OnceLock<Mutex<HashMap<String, PgPool>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    pools
        .entry(url.to_string())
        .or_insert_with(|| {
            // The pool's housekeeping task belongs on the admin runtime, with its connections.
            let _entered = runtime().enter();
            PgPoolOptions::new()
                .max_connections(4)
                .idle_timeout(Duration::from_secs(60))
                .connect_lazy_with(options.clone())
        })
        .clone()
}

/// Runs `work` on the admin runtime; awaitable from any runtime.
pub async fn run<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> T {
    match runtime().spawn(work).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// Runs `work` on the admin runtime and blocks until it is done: for `Drop`.
pub fn run_blocking<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (sender, receiver) = std::sync::mpsc::channel();
    runtime().spawn(async move {
        let _ = sender.send(work.await);
    });
    // `None` when the work panicked and the sender was dropped unsent.
    receiver.recv().ok()
}
