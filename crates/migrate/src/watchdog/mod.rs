//! A bounded wait for a run that holds the migration lock (deploy, reset) when its connection
//! goes half-open: the server or the network gone without a FIN or RST, so the client's read
//! would wait forever (sqlx 0.8 sets no TCP keepalive on its socket).
//!
//! A second, light connection (application name [`PROBE_APPLICATION_NAME`], opened only once
//! the run has lasted [`PROBE_INTERVAL`]) asks the server every [`PROBE_INTERVAL`] about the
//! run's own session, named by its backend pid and start time (a pid alone may be reused):
//! - the session is gone (the server rolled it back; with `client_connection_check_interval`
//!   it notices a closed client within a second): the run stops at once;
//! - the session has been idle for [`STALL_LIMIT`] while the run has been waiting for its
//!   answer as long: the answer was lost on the way; the run stops and the probe ends the
//!   orphaned session (`pg_terminate_backend`), so that its transaction rolls back and the
//!   lock is freed now rather than when the server's TCP gives up;
//! - the server gives no answer at all (no connection, no reply within the probe's timeout)
//!   for the silence limit ([`SILENCE_LIMIT`], or the URL's `socket_timeout`): the run stops.
//!
//! Any answer of the server counts as alive, an error too (`too many connections` when
//! `max_connections` is reached, the server starting up or shutting down): a long
//! `CREATE INDEX` or a full server never stops a healthy run. The run stops with the
//! connection-lost error ([`crate::ConnectionLoss`]: a migration in one transaction is then
//! not applied, so running deploy again is safe).
//!
//! Through a transaction-mode pooler (`pgbouncer=true`) a backend pid names whichever server
//! connection served one transaction, so only the silence limit holds there, and it watches
//! the pooler, not the server: a connection half-open between nelo and a pooler that still
//! answers is not detected.

mod verdict;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use self::verdict::{Answer, Observation, Verdict, silence_limit, verdict};
pub(crate) use self::verdict::{InProgress, Lost};
use crate::migrator::Locking;
use crate::{DatabaseUrl, Error, store};

/// Time between two probes, and before the first: a run shorter than this opens no probe.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// How long one probe (connecting included) may take before it counts as no answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may give no answer before the run stops, unless the URL's
/// `socket_timeout` (seconds; `0`: no limit) says otherwise.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// How long the run's session may sit idle on the server while the run waits for its answer.
pub const STALL_LIMIT: Duration = Duration::from_secs(15);
/// The probe connection's `application_name`.
pub const PROBE_APPLICATION_NAME: &str = "nelo-migrate watchdog";

/// The run's session on the server: its backend pid and its start time in microseconds since
/// the epoch, which together name it (a pid is reused once its backend exits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Session {
    pub pid: i32,
    pub started: i64,
}

/// Watches one run on one connection.
pub(crate) struct Watchdog {
    options: PgConnectOptions,
    /// `None` through a transaction-mode pooler.
    session: Option<Session>,
    silence_limit: Option<Duration>,
}

impl Watchdog {
    /// Names the session of `conn`, a connection to `database_url` that holds the lock as
    /// `locking` says. The question is bounded by the silence limit.
    pub(crate) async fn start(
        conn: &mut PgConnection,
        database_url: &str,
        locking: Locking,
    ) -> Result<Watchdog, Error> {
        let url = DatabaseUrl::parse(database_url)?;
        let options = url
            .connect_options_unpinned()?
            .application_name(PROBE_APPLICATION_NAME);
        let silence_limit = silence_limit(&url);
        let session = match locking {
            Locking::PerTransaction { .. } => None,
            Locking::Session => Some(identify(conn, silence_limit).await?),
        };
        Ok(Watchdog {
            options,
            session,
            silence_limit,
        })
    }

    /// Runs `work` (which uses the watched connection) to its end, or until the watchdog
    /// finds its connection lost; `work` is then dropped, and its connection with it.
    pub(crate) async fn watch<F: Future>(&self, work: F) -> Result<F::Output, Lost> {
        // When `work` last went waiting: the end of its last poll after a wake-up of its
        // own (the probes wake this task too; `work` is not polled for them).
        let waiting_since = Mutex::new(None::<Instant>);
        let mut work = std::pin::pin!(work);
        let wake_up = Arc::new(WakeUp {
            woken: AtomicBool::new(true),
            outer: Mutex::new(None),
        });
        let waker = Waker::from(wake_up.clone());
        let watched = std::future::poll_fn(|context| {
            *wake_up.outer.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(context.waker().clone());
            if !wake_up.woken.swap(false, Ordering::SeqCst) {
                return Poll::Pending;
            }
            let poll = work.as_mut().poll(&mut Context::from_waker(&waker));
            *waiting_since.lock().unwrap_or_else(|e| e.into_inner()) =
                poll.is_pending().then(Instant::now);
            poll
        });
        let mut probe = None;
        let outcome = tokio::select! {
            biased;
            output = watched => Ok(output),
            lost = self.probe_until_lost(&mut probe, &waiting_since) => Err(lost),
        };
        if let Some(conn) = probe {
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
        }
        outcome
    }

    async fn probe_until_lost(
        &self,
        probe: &mut Option<PgConnection>,
        waiting_since: &Mutex<Option<Instant>>,
    ) -> Lost {
        let mut last_answer = Instant::now();
        loop {
            tokio::time::sleep(PROBE_INTERVAL).await;
            let answer = self.probe(probe).await;
            let now = Instant::now();
            if answer != Answer::Silent {
                last_answer = now;
            }
            let waiting_since = *waiting_since.lock().unwrap_or_else(|e| e.into_inner());
            let observation = Observation {
                answer,
                silent_for: now - last_answer,
                waiting_for: waiting_since.map_or(Duration::ZERO, |since| now - since),
            };
            if let Verdict::Lost { reason, terminate } = verdict(observation, self.silence_limit) {
                if terminate {
                    self.terminate(probe).await;
                }
                return Lost { reason };
            }
        }
    }

    fn probe_timeout(&self) -> Duration {
        self.silence_limit
            .map_or(PROBE_TIMEOUT, |limit| limit.min(PROBE_TIMEOUT))
    }

    /// One probe, bounded by its timeout; a probe connection that failed is dropped.
    async fn probe(&self, probe: &mut Option<PgConnection>) -> Answer {
        match tokio::time::timeout(self.probe_timeout(), self.ask(probe)).await {
            Ok(answer) => answer,
            Err(_elapsed) => {
                *probe = None;
                Answer::Silent
            }
        }
    }

    async fn ask(&self, probe: &mut Option<PgConnection>) -> Answer {
        let conn = match probe {
            Some(conn) => conn,
            None => match PgConnection::connect_with(&self.options).await {
                Ok(conn) => probe.insert(conn),
                Err(error) => return failure(&error),
            },
        };
        let sql = match self.session {
            Some(session) => session_query(session),
            None => "SELECT 1".to_string(),
        };
        match store::fetch_rows(conn, &sql).await {
            Ok(rows) => match self.session {
                Some(session) => session_answer(session, rows.first()),
                None => Answer::Alive,
            },
            Err(error) => {
                *probe = None;
                failure(&error)
            }
        }
    }

    /// Ends the run's session on the server, if it is still there; bounded, best effort.
    async fn terminate(&self, probe: &mut Option<PgConnection>) {
        let (Some(session), Some(conn)) = (self.session, probe.as_mut()) else {
            return;
        };
        let sql = format!(
            "SELECT pg_terminate_backend(pid) FROM ({}) AS ours WHERE started = {}",
            session_query(session),
            session.started
        );
        let _ = tokio::time::timeout(self.probe_timeout(), store::fetch_rows(conn, &sql)).await;
    }
}

/// The waker given to the watched work: notes that the work has something to do, and wakes
/// the task that polls it.
struct WakeUp {
    woken: AtomicBool,
    outer: Mutex<Option<Waker>>,
}

impl Wake for WakeUp {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if let Some(outer) = &*self.outer.lock().unwrap_or_else(|e| e.into_inner()) {
            outer.wake_by_ref();
        }
    }
}

/// The session of `conn`, asked on `conn` itself.
async fn identify(conn: &mut PgConnection, limit: Option<Duration>) -> Result<Session, Error> {
    let action = "naming the session for the watchdog";
    let sql = format!("SELECT pid, {STARTED} FROM pg_stat_activity WHERE pid = pg_backend_pid()");
    let asked = store::fetch_rows(conn, &sql);
    let rows = match limit {
        Some(limit) => tokio::time::timeout(limit, asked).await.map_err(|_| {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {:.0} s", limit.as_secs_f32()),
            ))
        }),
        None => Ok(asked.await),
    };
    let rows = rows
        .and_then(|rows| rows)
        .map_err(|source| Error::Database { action, source })?;
    let row = rows.first().ok_or_else(|| Error::Database {
        action,
        source: sqlx::Error::RowNotFound,
    })?;
    let session = (|| {
        Ok::<_, sqlx::Error>(Session {
            pid: row.try_get(0)?,
            started: row.try_get(1)?,
        })
    })();
    session.map_err(|source| Error::Database { action, source })
}

/// A session's start in microseconds since the epoch, computed alike by every query.
const STARTED: &str = "(extract(epoch FROM backend_start) * 1000000)::int8";

/// `pid`, start, whether it runs a statement, seconds in its state: the row of `session`'s
/// pid (whose start tells whether it is still the same session).
fn session_query(session: Session) -> String {
    format!(
        "SELECT pid, {STARTED} AS started, coalesce(state = 'active', true) AS active, \
         coalesce(extract(epoch FROM clock_timestamp() - state_change), 0)::float8 AS for_seconds \
         FROM pg_stat_activity WHERE pid = {}",
        session.pid
    )
}

fn session_answer(session: Session, row: Option<&sqlx::postgres::PgRow>) -> Answer {
    let Some(row) = row else {
        return Answer::Gone;
    };
    let read = || -> Result<Answer, sqlx::Error> {
        let started: Option<i64> = row.try_get(1)?;
        Ok(match started {
            // Not shown to this role: nothing can be told.
            None => Answer::Alive,
            Some(started) if started != session.started => Answer::Gone,
            Some(_) => Answer::Session {
                active: row.try_get(2)?,
                for_: Duration::try_from_secs_f64(row.try_get::<f64, _>(3)?.max(0.0))
                    .unwrap_or(Duration::ZERO),
            },
        })
    };
    read().unwrap_or(Answer::Alive)
}

/// A failed connection or query: an error the server sent is an answer, anything else is not.
fn failure(error: &sqlx::Error) -> Answer {
    match error {
        sqlx::Error::Database(_) => Answer::Alive,
        _ => Answer::Silent,
    }
}
