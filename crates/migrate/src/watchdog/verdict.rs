//! The watchdog's decisions, from what a probe learnt: plain functions over plain data.

use std::time::Duration;

use super::{SILENCE_LIMIT, STALL_LIMIT};
use crate::error::ConnectionLoss;
use crate::migrator::Event;
use crate::run_mode::RunMode;
use crate::{DatabaseUrl, Error};

/// What one probe learnt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Answer {
    /// The server showed the run's session: whether it runs a statement, and for how long it
    /// has been in its current state.
    Session { active: bool, for_: Duration },
    /// The server answered that the session is gone.
    Gone,
    /// The server answered without telling about the session: an error (too many
    /// connections, starting up), a session it does not show, or through a pooler.
    Alive,
    /// No answer: the connection failed (I/O) or the probe's timeout passed.
    Silent,
}

/// What the watchdog knows when a probe ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Observation {
    pub answer: Answer,
    /// Since the server last answered.
    pub silent_for: Duration,
    /// Since the run last went waiting for the server (zero while it works).
    pub waiting_for: Duration,
}

/// The watchdog's decision after a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Healthy,
    /// The run's connection is lost: stop it, with this reason; `terminate`: its session is
    /// still on the server and should be ended.
    Lost {
        reason: String,
        terminate: bool,
    },
}

/// Decides from one observation; `silence_limit` `None` is no limit.
pub(crate) fn verdict(observation: Observation, silence_limit: Option<Duration>) -> Verdict {
    let seconds = |duration: Duration| duration.as_secs_f32();
    match observation.answer {
        Answer::Gone => Verdict::Lost {
            reason: "the server says the session of this run has ended".to_string(),
            terminate: false,
        },
        Answer::Session {
            active: false,
            for_,
        } if for_ >= STALL_LIMIT && observation.waiting_for >= STALL_LIMIT => Verdict::Lost {
            reason: format!(
                "the server has waited {:.0} s for the next query of this run while the run waited {:.0} s for its answer, so the answer was lost on the way; the session was ended on the server",
                seconds(for_),
                seconds(observation.waiting_for)
            ),
            terminate: true,
        },
        Answer::Silent if silence_limit.is_some_and(|limit| observation.silent_for >= limit) => {
            Verdict::Lost {
                reason: format!(
                    "the server has not answered for {:.0} s",
                    seconds(observation.silent_for)
                ),
                terminate: false,
            }
        }
        _ => Verdict::Healthy,
    }
}

/// The silence limit a URL asks for: its `socket_timeout`, else [`SILENCE_LIMIT`].
pub(crate) fn silence_limit(url: &DatabaseUrl) -> Option<Duration> {
    match url.socket_timeout() {
        None => Some(SILENCE_LIMIT),
        Some(timeout) if timeout.is_zero() => None,
        Some(timeout) => Some(timeout),
    }
}

/// The run stopped by the watchdog, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lost {
    pub reason: String,
}

impl Lost {
    /// The connection-lost error for the migration in progress; outside a migration, a
    /// database error whose source is the lost connection.
    pub(crate) fn into_error(self, in_progress: &InProgress) -> Error {
        match &in_progress.0 {
            Some((name, mode)) => Error::ConnectionLost(Box::new(ConnectionLoss {
                migration: name.clone(),
                atomic: *mode == RunMode::InTransaction,
                message: self.reason,
            })),
            None => Error::Database {
                action: "waiting for the server",
                source: sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the connection to the server was lost: {}", self.reason),
                )),
            },
        }
    }
}

/// The migration in progress, followed from the run's events.
#[derive(Debug, Default)]
pub(crate) struct InProgress(Option<(String, RunMode)>);

impl InProgress {
    pub(crate) fn note(&mut self, event: &Event) {
        match event {
            Event::Applying { name, mode } => self.0 = Some((name.clone(), *mode)),
            Event::Applied { .. } | Event::Failed { .. } | Event::RecordedMeanwhile { .. } => {
                self.0 = None
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(answer: Answer, silent: u64, waiting: u64) -> Observation {
        Observation {
            answer,
            silent_for: Duration::from_secs(silent),
            waiting_for: Duration::from_secs(waiting),
        }
    }

    fn lost(verdict: &Verdict) -> bool {
        matches!(verdict, Verdict::Lost { .. })
    }

    const LIMIT: Option<Duration> = Some(SILENCE_LIMIT);

    #[test]
    fn a_session_the_server_says_is_gone_stops_the_run() {
        assert!(lost(&verdict(seen(Answer::Gone, 0, 0), LIMIT)));
        assert!(lost(&verdict(seen(Answer::Gone, 0, 0), None)));
    }

    #[test]
    fn a_long_statement_or_a_server_that_refuses_the_probe_is_healthy() {
        let long_statement = Answer::Session {
            active: true,
            for_: Duration::from_secs(3600),
        };
        assert_eq!(
            verdict(seen(long_statement, 0, 3600), LIMIT),
            Verdict::Healthy
        );
        // `too many connections` is an answer: the server is alive.
        assert_eq!(
            verdict(seen(Answer::Alive, 0, 3600), LIMIT),
            Verdict::Healthy
        );
    }

    #[test]
    fn an_idle_session_stops_the_run_only_while_the_run_waits_as_long() {
        let idle = |seconds| Answer::Session {
            active: false,
            for_: Duration::from_secs(seconds),
        };
        let stall = STALL_LIMIT.as_secs();
        // Between two queries, or while the run works (lint, a slow event callback).
        assert_eq!(verdict(seen(idle(stall), 0, 0), LIMIT), Verdict::Healthy);
        assert_eq!(verdict(seen(idle(1), 0, stall), LIMIT), Verdict::Healthy);
        let both = verdict(seen(idle(stall), 0, stall), LIMIT);
        assert!(
            matches!(
                both,
                Verdict::Lost {
                    terminate: true,
                    ..
                }
            ),
            "{both:?}"
        );
    }

    #[test]
    fn silence_stops_the_run_at_the_limit_and_never_without_one() {
        let limit = SILENCE_LIMIT.as_secs();
        assert_eq!(
            verdict(seen(Answer::Silent, limit - 1, 0), LIMIT),
            Verdict::Healthy
        );
        let verdict_at_limit = verdict(seen(Answer::Silent, limit, 0), LIMIT);
        assert_eq!(
            verdict_at_limit,
            Verdict::Lost {
                reason: format!("the server has not answered for {limit} s"),
                terminate: false
            }
        );
        assert_eq!(
            verdict(seen(Answer::Silent, 10 * limit, 0), None),
            Verdict::Healthy
        );
    }

    #[test]
    fn socket_timeout_sets_the_silence_limit() {
        let limit = |url: &str| silence_limit(&DatabaseUrl::parse(url).unwrap());
        assert_eq!(limit("postgresql://u@h/db"), Some(SILENCE_LIMIT));
        assert_eq!(
            limit("postgresql://u@h/db?socket_timeout=7"),
            Some(Duration::from_secs(7))
        );
        assert_eq!(limit("postgresql://u@h/db?socket_timeout=0"), None);
    }

    #[test]
    fn the_migration_in_progress_names_the_lost_connection() {
        let mut in_progress = InProgress::default();
        let lost = || Lost {
            reason: "gone".to_string(),
        };
        assert!(matches!(
            lost().into_error(&in_progress),
            Error::Database { .. }
        ));
        in_progress.note(&Event::Applying {
            name: "20250101000000_a".to_string(),
            mode: RunMode::InTransaction,
        });
        match lost().into_error(&in_progress) {
            Error::ConnectionLost(loss) => {
                assert_eq!(loss.migration, "20250101000000_a");
                assert!(loss.atomic);
            }
            other => panic!("{other:?}"),
        }
        in_progress.note(&Event::Applied {
            name: "20250101000000_a".to_string(),
            duration: Duration::ZERO,
        });
        assert!(matches!(
            lost().into_error(&in_progress),
            Error::Database { .. }
        ));
    }
}
