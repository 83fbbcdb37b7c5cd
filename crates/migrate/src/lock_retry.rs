//! Lock-safe DDL: a migration waits for a table lock only briefly, and retries.
//!
//! A statement that needs a lock (an `ALTER TABLE` wants ACCESS EXCLUSIVE) queues behind the
//! session holding a conflicting one (a long report, a nightly `pg_dump`), and every
//! application query on the table then queues behind it: the whole application stalls for as
//! long as the longest reader. So each migration runs with a short `lock_timeout`
//! ([`DdlLocks::timeout`], `NELO_DDL_LOCK_TIMEOUT`, 500 ms by default): the wait ends with
//! SQLSTATE 55P03 (`lock_not_available`), the application's queries go through, and the work
//! is tried again after a backoff with jitter, until [`DdlLocks::budget`]
//! (`NELO_LOCK_RETRY_BUDGET`, 300 s) is spent ([`crate::Error::LockRetryBudgetSpent`]).
//! This is GitLab's `with_lock_retries` and strong_migrations' lock-timeout retry; Prisma,
//! sqlx and golang-migrate wait without a timeout (`0` here does that too).
//!
//! What is retried is what the timeout rolled back: the whole transaction of a migration that
//! runs in one; only the statement (or the file's own transaction block) that timed out for
//! the others, since it changed nothing. A `CREATE INDEX CONCURRENTLY` that times out leaves
//! an INVALID index behind; it is dropped before the retry.
//!
//! The decisions are the pure functions of this module ([`backoff`], [`next_step`],
//! [`sets_own_lock_timeout`], [`concurrent_index_target`]); [`LockRetry`] applies them, and
//! [`LockObserver`] reads who blocks the wait from a second connection while it lasts.

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::Error;
use crate::migrator::Event;
use crate::split::{Statement, top_level_words};
use crate::store;

/// How long a migration's statement waits for a table lock by default: 500 ms.
pub const DDL_LOCK_TIMEOUT: Duration = Duration::from_millis(500);
/// How long lock timeouts are retried by default: 300 s.
pub const LOCK_RETRY_BUDGET: Duration = Duration::from_secs(300);
/// The first backoff; each next one doubles, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest backoff: a deploy resumes within about this long after the blocker ends. It
/// stays well under the watchdog's stall limit (the session sits idle meanwhile).
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How long past an attempt's lock timeout the observer keeps looking.
pub const OBSERVE_FOR: Duration = Duration::from_secs(1);
/// The bound on the observer's connecting and on each of its looks.
pub const LOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// The observer connection's `application_name`.
pub const OBSERVER_APPLICATION_NAME: &str = "nelo-migrate lock observer";

/// The lock-safe DDL settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DdlLocks {
    /// `lock_timeout` of each attempt; zero: wait forever, as Prisma does (no retry then).
    pub timeout: Duration,
    /// Total time spent retrying before giving up.
    pub budget: Duration,
}

impl Default for DdlLocks {
    fn default() -> Self {
        DdlLocks {
            timeout: DDL_LOCK_TIMEOUT,
            budget: LOCK_RETRY_BUDGET,
        }
    }
}

impl DdlLocks {
    /// Whether a lock timeout is set at all.
    pub fn enabled(self) -> bool {
        !self.timeout.is_zero()
    }

    /// The statement setting the timeout: `SET LOCAL` inside a migration's transaction,
    /// session-level (reset with the session after the migration) outside one.
    pub fn set_statement(self, local: bool) -> String {
        format!(
            "SET {}lock_timeout = '{}ms'",
            if local { "LOCAL " } else { "" },
            self.timeout.as_millis().max(1)
        )
    }
}

/// The `attempt`-th backoff (1-based): [`FIRST_BACKOFF`] doubled each time up to
/// [`MAX_BACKOFF`], of which a random half (`jitter`, in `[0, 1)`) is kept ("equal jitter"),
/// so that deploys retrying together spread out.
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let doubled = FIRST_BACKOFF
        .checked_mul(1u32 << attempt.saturating_sub(1).min(16))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF);
    let half = doubled / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// What to do after the `attempt`-th lock timeout, `elapsed` after the first attempt started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then try again.
    Retry(Duration),
    /// The budget is spent.
    GiveUp,
}

/// Retry while the budget lasts; the last backoff is cut so as not to overrun it, and an
/// attempt that would start past the budget is not made.
pub fn next_step(locks: DdlLocks, attempt: u32, elapsed: Duration, jitter: f64) -> Next {
    if !locks.enabled() || elapsed >= locks.budget {
        return Next::GiveUp;
    }
    Next::Retry(backoff(attempt, jitter).min(locks.budget - elapsed))
}

/// Whether one of `statements` sets `lock_timeout` itself (`SET [LOCAL|SESSION]
/// lock_timeout`, `set_config('lock_timeout', ...)`, `ALTER ... SET lock_timeout`): then the
/// migration's own value wins and deploy sets none before it.
pub fn sets_own_lock_timeout(statements: &[Statement<'_>]) -> bool {
    statements.iter().any(|statement| {
        let words: Vec<String> = top_level_words(statement.sql)
            .iter()
            .map(|word| word.to_ascii_lowercase())
            .collect();
        let set = words.windows(2).any(|pair| {
            pair[1] == "lock_timeout" && matches!(pair[0].as_str(), "set" | "local" | "session")
        });
        set || statement
            .sql
            .to_ascii_lowercase()
            .contains("set_config('lock_timeout'")
    })
}

/// Whether `error` is a lock wait that timed out (SQLSTATE 55P03, `lock_not_available`: the
/// `lock_timeout`, or a `NOWAIT`), which rolled back what it interrupted.
pub fn is_lock_timeout(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|database| database.code())
        .is_some_and(|code| code == "55P03")
}

/// The index a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON [ONLY] table`
/// creates: its name as PostgreSQL stores it (unquoted, or folded to lower case) and the
/// table as written (for `to_regclass`). `None` for any other statement, or an index with
/// no name (PostgreSQL makes one up: the INVALID index is then found as new on the table).
pub fn concurrent_index_target(sql: &str) -> Option<(Option<String>, String)> {
    let tokens = tokens(sql);
    let lower: Vec<String> = tokens
        .iter()
        .map(|token| match token {
            Token::Word(word) => word.to_ascii_lowercase(),
            _ => String::new(),
        })
        .collect();
    let mut index = 0;
    let expect = |index: &mut usize, word: &str| {
        let found = lower.get(*index).is_some_and(|found| found == word);
        if found {
            *index += 1;
        }
        found
    };
    if !expect(&mut index, "create") {
        return None;
    }
    expect(&mut index, "unique");
    if !(expect(&mut index, "index") && expect(&mut index, "concurrently")) {
        return None;
    }
    if lower.get(index).is_some_and(|word| word == "if") {
        index += 3;
    }
    let name = if lower.get(index).is_some_and(|word| word == "on") {
        None
    } else {
        let name = tokens.get(index)?.identifier()?;
        index += 1;
        Some(name)
    };
    if !expect(&mut index, "on") {
        return None;
    }
    expect(&mut index, "only");
    let mut table = tokens.get(index)?.as_written()?;
    while let (Some(Token::Dot), Some(next)) = (tokens.get(index + 1), tokens.get(index + 2)) {
        table = format!("{table}.{}", next.as_written()?);
        index += 2;
    }
    Some((name, table))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    /// A quoted identifier, its text unescaped.
    Quoted(String),
    Dot,
    Other,
}

impl Token {
    fn identifier(&self) -> Option<String> {
        match self {
            Token::Word(word) => Some(word.to_ascii_lowercase()),
            Token::Quoted(text) => Some(text.clone()),
            _ => None,
        }
    }

    fn as_written(&self) -> Option<String> {
        match self {
            Token::Word(word) => Some(word.clone()),
            Token::Quoted(text) => Some(crate::sql::quote_identifier(text)),
            _ => None,
        }
    }
}

/// Words, quoted identifiers and dots, comments skipped, up to the first `(`.
fn tokens(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((at, character)) = chars.next() {
        match character {
            '(' => break,
            '-' if sql[at..].starts_with("--") => {
                for (_, next) in chars.by_ref() {
                    if next == '\n' {
                        break;
                    }
                }
            }
            '/' if sql[at..].starts_with("/*") => {
                let end = sql[at + 2..]
                    .find("*/")
                    .map_or(sql.len(), |end| at + 2 + end + 2);
                while chars.peek().is_some_and(|(next, _)| *next < end) {
                    chars.next();
                }
            }
            '"' => {
                let mut text = String::new();
                while let Some((_, next)) = chars.next() {
                    if next == '"' {
                        if chars.peek().is_some_and(|(_, after)| *after == '"') {
                            chars.next();
                            text.push('"');
                        } else {
                            break;
                        }
                    } else {
                        text.push(next);
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            '.' => tokens.push(Token::Dot),
            character if character.is_alphanumeric() || character == '_' => {
                let mut word = String::from(character);
                while let Some((_, next)) = chars.peek() {
                    if next.is_alphanumeric() || *next == '_' || *next == '$' {
                        word.push(*next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(word));
            }
            character if character.is_whitespace() => {}
            _ => tokens.push(Token::Other),
        }
    }
    tokens
}

/// The lock a migration waited for and the session it waited behind, read from
/// `pg_locks` and `pg_blocking_pids` while the wait lasted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockWaitInfo {
    /// The relation waited for, as `regclass` prints it (`public."Scene"`), if it is one.
    pub relation: Option<String>,
    /// `pg_locks.locktype`: `relation`, `virtualxid` (a `CREATE INDEX CONCURRENTLY` waiting
    /// for older transactions), `transactionid`...
    pub lock_type: String,
    /// The mode asked for (`AccessExclusiveLock`).
    pub mode: String,
    /// The first session blocking it, when one was seen.
    pub blocker: Option<Blocker>,
}

/// A session that blocked a migration's lock, as `pg_stat_activity` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Blocker {
    pub pid: i32,
    pub user: String,
    pub application_name: String,
    /// `active`, `idle in transaction`...
    pub state: String,
    /// How long its transaction (or, outside one, its query) has been running, in ms.
    pub running_ms: i64,
    /// The first line of its current or last query, at most 100 characters.
    pub query: String,
}

impl std::fmt::Display for LockWaitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.relation {
            Some(relation) => write!(f, "{} on {relation}", self.mode)?,
            None => write!(f, "{} ({} lock)", self.mode, self.lock_type)?,
        }
        if let Some(blocker) = &self.blocker {
            write!(f, ", held by {blocker}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} (user `{}`", self.pid, self.user)?;
        if !self.application_name.is_empty() {
            write!(f, ", application `{}`", self.application_name)?;
        }
        write!(
            f,
            ", {} for {:.1} s): {}",
            self.state,
            self.running_ms as f64 / 1000.0,
            self.query
        )
    }
}

/// One wait that timed out, for [`Event::LockWait`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockWait {
    /// The migration (or `push`).
    pub name: String,
    /// 1-based number of the attempt that timed out.
    pub attempt: u32,
    /// The `lock_timeout` it waited, in ms.
    pub waited_ms: u64,
    /// The backoff before the next attempt, in ms.
    pub retry_in_ms: u64,
    /// What it waited for and behind whom, when seen.
    pub lock: Option<LockWaitInfo>,
}

/// The retry loop's state for one migration (or one part of a push).
#[derive(Debug)]
pub struct LockRetry {
    locks: DdlLocks,
    started: Instant,
    attempt: u32,
    last: Option<LockWaitInfo>,
}

impl LockRetry {
    pub fn new(locks: DdlLocks) -> Self {
        LockRetry {
            locks,
            started: Instant::now(),
            attempt: 0,
            last: None,
        }
    }

    pub fn locks(&self) -> DdlLocks {
        self.locks
    }

    /// What is left of the budget.
    pub fn remaining(&self) -> Duration {
        self.locks.budget.saturating_sub(self.started.elapsed())
    }

    /// After a lock timeout of `name`'s attempt: reports the wait, sleeps the backoff and
    /// returns `Ok` to try again; or, the budget spent, the error naming the blocker. The
    /// caller has already rolled back what the timeout interrupted.
    pub async fn wait(
        &mut self,
        name: &str,
        seen: Option<LockWaitInfo>,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), Error> {
        self.attempt += 1;
        if seen.is_some() {
            self.last = seen;
        }
        let jitter = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
        match next_step(self.locks, self.attempt, self.started.elapsed(), jitter) {
            Next::GiveUp => Err(self.spent(name)),
            Next::Retry(delay) => {
                on_event(Event::LockWait(LockWait {
                    name: name.to_string(),
                    attempt: self.attempt,
                    waited_ms: self.locks.timeout.as_millis() as u64,
                    retry_in_ms: delay.as_millis() as u64,
                    lock: self.last.clone(),
                }));
                tokio::time::sleep(delay).await;
                Ok(())
            }
        }
    }

    /// The error for a spent budget.
    pub fn spent(&self, name: &str) -> Error {
        Error::LockRetryBudgetSpent {
            migration: name.to_string(),
            budget: self.locks.budget,
            lock_timeout: self.locks.timeout,
            attempts: self.attempt,
            lock: self.last.clone().map(Box::new),
        }
    }
}

/// Reads, from a connection of its own, what a session of the run waits for and who blocks
/// it, while the wait lasts (once it timed out, `pg_blocking_pids` has nothing to say).
#[derive(Debug)]
pub struct LockObserver {
    options: Option<PgConnectOptions>,
    /// The run's backend; `None` through a transaction-mode pooler (no stable backend).
    pid: Option<i32>,
    conn: Option<PgConnection>,
}

impl LockObserver {
    /// An observer that sees nothing (no second connection).
    pub fn none() -> Self {
        LockObserver {
            options: None,
            pid: None,
            conn: None,
        }
    }

    /// An observer of backend `pid` on the server of `database_url`; it connects only when a
    /// wait lasts.
    pub fn new(database_url: &str, pid: i32) -> Self {
        let options = crate::DatabaseUrl::parse(database_url)
            .and_then(|url| url.connect_options_unpinned())
            .ok()
            .map(|options| options.application_name(OBSERVER_APPLICATION_NAME));
        LockObserver {
            options,
            pid: Some(pid),
            conn: None,
        }
    }

    /// Runs `work`; from half the lock timeout on, looks at what the run waits for, until
    /// [`OBSERVE_FOR`] past the timeout (a lock wait has timed out by then). It then stops
    /// waking the run, so that the watchdog still sees a run waiting for an answer that was
    /// lost ([`crate::watchdog`]). Returns the work's output and the last wait seen.
    pub async fn watch<F: Future>(
        &mut self,
        timeout: Duration,
        work: F,
    ) -> (F::Output, Option<LockWaitInfo>) {
        let (Some(pid), Some(_), false) = (self.pid, &self.options, timeout.is_zero()) else {
            return (work.await, None);
        };
        let mut seen = None;
        let mut busy = false;
        let output = {
            let look = async {
                let started = Instant::now();
                tokio::time::sleep(timeout / 2).await;
                while started.elapsed() < timeout + OBSERVE_FOR {
                    busy = true;
                    if let Some(found) = self.look(pid).await {
                        seen = Some(found);
                    }
                    busy = false;
                    tokio::time::sleep((timeout / 5).max(Duration::from_millis(20))).await;
                }
                std::future::pending::<()>().await
            };
            tokio::select! {
                biased;
                output = work => output,
                () = look => unreachable!("the observer loops until the work ends"),
            }
        };
        if busy {
            // Dropped mid-query: the connection's state is unknown.
            self.conn = None;
        }
        (output, seen)
    }

    async fn look(&mut self, pid: i32) -> Option<LockWaitInfo> {
        if self.conn.is_none() {
            let options = self.options.as_ref()?;
            let connecting = PgConnection::connect_with(options);
            self.conn = tokio::time::timeout(LOOK_TIMEOUT, connecting)
                .await
                .ok()?
                .ok();
        }
        let conn = self.conn.as_mut()?;
        let query = blocker_query(pid);
        match tokio::time::timeout(LOOK_TIMEOUT, store::fetch_rows(conn, &query)).await {
            Ok(Ok(rows)) => rows.first().and_then(|row| wait_from_row(row).ok()),
            _ => {
                self.conn = None;
                None
            }
        }
    }
}

/// What backend `pid` waits for and the first session blocking it.
fn blocker_query(pid: i32) -> String {
    format!(
        "SELECT w.relation::regclass::text, w.locktype, w.mode, b.pid, \
           coalesce(b.usename::text, ''), coalesce(b.application_name, ''), \
           coalesce(b.state, ''), \
           coalesce((extract(epoch FROM clock_timestamp() - coalesce(b.xact_start, b.query_start)) * 1000)::bigint, 0), \
           coalesce(b.query, '') \
         FROM (SELECT relation, locktype, mode FROM pg_catalog.pg_locks \
               WHERE pid = {pid} AND NOT granted LIMIT 1) AS w \
         LEFT JOIN LATERAL (SELECT a.* FROM pg_catalog.pg_stat_activity a \
               WHERE a.pid = (pg_catalog.pg_blocking_pids({pid}))[1]) AS b ON true"
    )
}

fn wait_from_row(row: &sqlx::postgres::PgRow) -> Result<LockWaitInfo, sqlx::Error> {
    let pid: Option<i32> = row.try_get(3)?;
    let blocker = match pid {
        None => None,
        Some(pid) => {
            let query: String = row.try_get(8)?;
            Some(Blocker {
                pid,
                user: row.try_get(4)?,
                application_name: row.try_get(5)?,
                state: row.try_get(6)?,
                running_ms: row.try_get(7)?,
                query: first_line(&query),
            })
        }
    };
    Ok(LockWaitInfo {
        relation: row.try_get(0)?,
        lock_type: row.try_get(1)?,
        mode: row.try_get(2)?,
        blocker,
    })
}

/// The first non-blank line, shortened to 100 characters.
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    match line.char_indices().nth(100) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

/// The INVALID indexes on `table` (as written) named `name` (any name: `None`), as
/// `regclass` prints them, and the OIDs of them.
pub async fn invalid_indexes(
    conn: &mut PgConnection,
    table: &str,
    name: Option<&str>,
) -> Result<Vec<(u32, String)>, Error> {
    let name_filter = name
        .map(|name| format!(" AND c.relname = {}", crate::sql::quote_literal(name)))
        .unwrap_or_default();
    let sql = format!(
        "SELECT c.oid::int8, c.oid::regclass::text FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
         WHERE i.indrelid = pg_catalog.to_regclass({}) AND NOT i.indisvalid{name_filter} \
         ORDER BY 1",
        crate::sql::quote_literal(table)
    );
    let action = "looking for an INVALID index left by CREATE INDEX CONCURRENTLY";
    let rows = store::fetch_rows(conn, &sql)
        .await
        .map_err(|source| Error::Database { action, source })?;
    rows.iter()
        .map(|row| {
            let oid: i64 = row.try_get(0)?;
            Ok((oid as u32, row.try_get(1)?))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|source| Error::Database { action, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::split_statements;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_half_of_it_random() {
        assert_eq!(backoff(1, 0.0), Duration::from_millis(25));
        assert_eq!(backoff(1, 1.0), Duration::from_millis(50));
        assert_eq!(backoff(2, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(3, 0.5), Duration::from_millis(150));
        assert_eq!(backoff(10, 0.0), MAX_BACKOFF / 2);
        assert_eq!(backoff(10, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX, 1.0), MAX_BACKOFF);
        // Out-of-range jitter is clamped.
        assert_eq!(backoff(1, 7.0), Duration::from_millis(50));
    }

    #[test]
    fn retries_last_until_the_budget_and_never_overrun_it() {
        let locks = DdlLocks {
            timeout: Duration::from_millis(500),
            budget: Duration::from_secs(10),
        };
        assert_eq!(
            next_step(locks, 1, Duration::ZERO, 0.0),
            Next::Retry(Duration::from_millis(25))
        );
        assert_eq!(
            next_step(locks, 20, Duration::from_millis(9_800), 1.0),
            Next::Retry(Duration::from_millis(200))
        );
        assert_eq!(
            next_step(locks, 20, Duration::from_secs(10), 0.0),
            Next::GiveUp
        );
        let forever = DdlLocks {
            timeout: Duration::ZERO,
            ..locks
        };
        assert_eq!(next_step(forever, 1, Duration::ZERO, 0.0), Next::GiveUp);
        let no_budget = DdlLocks {
            budget: Duration::ZERO,
            ..locks
        };
        assert_eq!(next_step(no_budget, 1, Duration::ZERO, 0.0), Next::GiveUp);
    }

    #[test]
    fn the_timeout_statement_is_local_in_a_transaction() {
        let locks = DdlLocks::default();
        assert_eq!(
            locks.set_statement(true),
            "SET LOCAL lock_timeout = '500ms'"
        );
        assert_eq!(locks.set_statement(false), "SET lock_timeout = '500ms'");
    }

    #[test]
    fn a_migration_setting_its_own_lock_timeout_is_recognised() {
        let own = |sql: &str| sets_own_lock_timeout(&split_statements(sql));
        assert!(own("SET lock_timeout = '5s';\nALTER TABLE a ADD b int;"));
        assert!(own("set local LOCK_TIMEOUT to 0; ALTER TABLE a ADD b int"));
        assert!(own("SET SESSION lock_timeout = 100"));
        assert!(own("SELECT set_config('lock_timeout', '1s', true)"));
        assert!(!own("ALTER TABLE a ADD b int; SET statement_timeout = 0"));
        // In a string or a comment, it is not a setting.
        assert!(!own(
            "-- SET lock_timeout = 0\nCOMMENT ON TABLE a IS 'SET lock_timeout'"
        ));
    }

    #[test]
    fn lock_timeouts_are_told_from_other_errors() {
        assert!(!is_lock_timeout(&sqlx::Error::RowNotFound));
    }

    #[test]
    fn the_index_of_a_concurrent_build_is_found() {
        assert_eq!(
            concurrent_index_target("CREATE INDEX CONCURRENTLY scene_title ON \"Scene\" (title)"),
            Some((Some("scene_title".into()), "\"Scene\"".into()))
        );
        assert_eq!(
            concurrent_index_target(
                "create unique index concurrently if not exists \"Scene_Key\" on only app.\"Scene\" using btree (k)"
            ),
            Some((Some("Scene_Key".into()), "app.\"Scene\"".into()))
        );
        assert_eq!(
            concurrent_index_target("CREATE INDEX CONCURRENTLY ON scene(title)"),
            Some((None, "scene".into()))
        );
        assert_eq!(
            concurrent_index_target("-- a comment\nCREATE INDEX CONCURRENTLY Idx ON t(a)"),
            Some((Some("idx".into()), "t".into()))
        );
        assert_eq!(concurrent_index_target("CREATE INDEX idx ON t (a)"), None);
        assert_eq!(concurrent_index_target("DROP INDEX CONCURRENTLY idx"), None);
    }

    #[test]
    fn a_wait_names_the_relation_and_the_blocker() {
        let wait = LockWaitInfo {
            relation: Some("\"Scene\"".into()),
            lock_type: "relation".into(),
            mode: "AccessExclusiveLock".into(),
            blocker: Some(Blocker {
                pid: 42,
                user: "report".into(),
                application_name: "psql".into(),
                state: "idle in transaction".into(),
                running_ms: 6_100,
                query: "SELECT count(*) FROM \"Scene\"".into(),
            }),
        };
        assert_eq!(
            wait.to_string(),
            "AccessExclusiveLock on \"Scene\", held by pid 42 (user `report`, application `psql`, idle in transaction for 6.1 s): SELECT count(*) FROM \"Scene\""
        );
        assert_eq!(first_line("\n  SELECT 1\nFROM t"), "SELECT 1");
    }
}
