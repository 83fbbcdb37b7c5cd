//! Applying one migration as its [`RunMode`] says, with its history row, and describing a
//! failure by the file's line and column.

use std::time::Instant;

use chrono::Utc;
use sqlx::postgres::{PgConnection, PgDatabaseError, PgErrorPosition};

use crate::Error;
use crate::error::{ConnectionLoss, MigrationFailure};
use crate::folder::Migration;
use crate::lock_retry::{
    self, DdlLocks, LockObserver, LockRetry, LockWaitInfo, concurrent_index_target,
    is_lock_timeout, sets_own_lock_timeout,
};
use crate::migrator::Event;
use crate::migrator::Locking;
use crate::position::{char_count_before, line_column};
use crate::run_mode::{RunMode, RunPlan, TransactionControl, commits, transaction_control};
use crate::split::{Statement, top_level_words};
use crate::store::{self, Finish, HistoryTable, TransactionLock, Wrapping, wrapped_script};
use crate::wire::{self, CountedError};

/// Where a migration is applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'c> {
    pub table: &'c HistoryTable,
    /// Whether the history table is still to be created.
    pub create_table: bool,
    pub locking: Locking,
    /// The URL's `?schema=`.
    pub url_schema: Option<&'c str>,
    /// Lock-safe DDL: each attempt's `lock_timeout` and the retry budget.
    pub ddl: DdlLocks,
}

/// What became of a migration that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Applied,
    /// Through a transaction-mode pooler: another deploy recorded it after the history was
    /// read; nothing was done, and the history is to be read again.
    RecordedMeanwhile,
}

/// Applies `migration` on a connection that holds the migration lock, or in a transaction
/// that takes it ([`Locking::PerTransaction`]).
pub(crate) async fn apply(
    conn: &mut PgConnection,
    context: Context<'_>,
    migration: &Migration,
    plan: &RunPlan<'_>,
    observer: &mut LockObserver,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, Error> {
    on_event(Event::Applying {
        name: migration.name.clone(),
        mode: plan.mode,
    });
    let started = Instant::now();
    let run = Run {
        migration,
        plan,
        table: context.table,
        create_table: context.create_table,
        context,
    };
    let outcome = match plan.mode {
        RunMode::InTransaction | RunMode::AsWritten | RunMode::Alone => {
            run.apply_as_one(conn, observer, on_event).await
        }
        RunMode::StatementByStatement => run
            .apply_statement_by_statement(conn, observer, on_event)
            .await
            .map(|()| Outcome::Applied),
    };
    let name = migration.name.clone();
    let duration = started.elapsed();
    match outcome {
        Ok(Outcome::Applied) => on_event(Event::Applied { name, duration }),
        Ok(Outcome::RecordedMeanwhile) => on_event(Event::RecordedMeanwhile { name }),
        Err(_) => on_event(Event::Failed { name, duration }),
    }
    outcome
}

struct Run<'r, 'a> {
    migration: &'a Migration,
    plan: &'r RunPlan<'a>,
    table: &'r HistoryTable,
    create_table: bool,
    context: Context<'r>,
}

/// A stretch of the file sent as one simple query, and the `COPY ... FROM STDIN` after it.
struct Chunk<'r, 'a> {
    /// Byte range of the stretch in the file.
    start: usize,
    end: usize,
    /// The statements in it.
    statements: &'r [Statement<'a>],
    copy: Option<&'r Statement<'a>>,
}

/// Where a failure happened.
struct Failed<'r, 'a> {
    error: sqlx::Error,
    /// The failing statement, when known.
    statement: Option<&'r Statement<'a>>,
    /// Whether it was nelo's own reset and history write after the migration's SQL.
    in_history_write: bool,
    /// Whether it was the COMMIT ending the migration's transaction.
    at_commit: bool,
    /// Whether it was the transaction's migration lock or its check for a row recorded meanwhile.
    in_lock: Option<LockStep>,
    /// The server's position, as a character position in the file.
    file_position: Option<usize>,
    /// Statements of the file that completed before it.
    completed_before: usize,
}

impl<'r, 'a> Run<'r, 'a> {
    fn sql(&self) -> &'a str {
        self.migration.sql_to_send()
    }

    /// The file split at its `COPY ... FROM STDIN` statements, whose rows travel apart.
    /// From statement `resume` on (0-based; a retry after the file's own last COMMIT).
    fn chunks(&self, resume: usize) -> Vec<Chunk<'r, 'a>> {
        let sql = self.sql();
        let statements = &self.plan.statements[..];
        let mut chunks = Vec::new();
        let (mut start, mut first) = match statements.get(resume) {
            Some(statement) if resume > 0 => (statement.offset, resume),
            _ => (0, 0),
        };
        for (index, statement) in statements.iter().enumerate().skip(first) {
            if let Some(data) = statement.copy_data {
                chunks.push(Chunk {
                    start,
                    end: statement.offset,
                    statements: &statements[first..index],
                    copy: Some(statement),
                });
                // Past the rows and the `\.` line.
                let data_end = data.offset + data.text.len();
                start = sql[data_end..]
                    .find('\n')
                    .map_or(sql.len(), |found| data_end + found + 1);
                first = index + 1;
            }
        }
        chunks.push(Chunk {
            start,
            end: sql.len(),
            statements: &statements[first..],
            copy: None,
        });
        chunks
    }

    /// InTransaction: `BEGIN`, the file, the history row, `COMMIT` (one round trip without
    /// COPY rows). AsWritten: the file as Prisma sends it, with the history row after its last
    /// `COMMIT`. Alone: the one statement by itself, then the history row.
    ///
    /// A lock timeout (lock-safe DDL, [`crate::lock_retry`]) rolls the attempt back and
    /// retries it: InTransaction, the whole transaction with its row; Alone, the statement
    /// (a `CREATE INDEX CONCURRENTLY` after its INVALID index is dropped); AsWritten, what
    /// follows the file's own last COMMIT that ran.
    async fn apply_as_one(
        &self,
        conn: &mut PgConnection,
        observer: &mut LockObserver,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Outcome, Error> {
        let mode = self.plan.mode;
        let in_transaction = mode == RunMode::InTransaction;
        let locks = self.context.ddl;
        // A lone `CALL` or `DO` that commits inside is not retried: what it committed before
        // the timeout cannot be told apart.
        let retrying =
            locks.enabled() && !(mode == RunMode::AsWritten && self.plan.statements.len() < 2);
        let own_timeout = sets_own_lock_timeout(&self.plan.statements);
        // What does not run in one transaction with its row gets its row first, as Prisma
        // writes it: interrupted part way, it stays started, so the next deploy stops on it
        // (P3009) instead of running it again over what it left (an invalid index, tables
        // its own COMMIT kept).
        let started_row = if in_transaction {
            None
        } else {
            if self.create_table {
                store::ensure_table(conn, self.table).await?;
            }
            Some(store::start_row(conn, self.table, self.migration).await?)
        };
        let concurrent_index = match (mode, self.plan.statements.first()) {
            (RunMode::Alone, Some(statement)) if retrying => concurrent_index_target(statement.sql),
            _ => None,
        };
        let invalid_before = match &concurrent_index {
            Some((_, table)) => lock_retry::invalid_indexes(conn, table, None).await?,
            None => Vec::new(),
        };
        let mut retry = LockRetry::new(locks);
        let mut resume = 0;
        // A file with its own transactions keeps the session it set up across a retry, so
        // its timeout is set once; a statement sent alone gets a fresh session each time.
        if retrying && mode == RunMode::AsWritten && !own_timeout {
            set_session_lock_timeout(conn, locks).await?;
        }
        loop {
            if retrying && mode == RunMode::Alone && !own_timeout {
                set_session_lock_timeout(conn, locks).await?;
            }
            let attempt = self
                .attempt_as_one(
                    conn,
                    observer,
                    started_row.as_deref(),
                    (retrying && in_transaction && !own_timeout).then_some(locks.timeout),
                    retrying,
                    resume,
                )
                .await;
            let (seen, failure) = match attempt {
                Ok(outcome) => return Ok(outcome),
                Err(Attempt::Failed(error)) => return Err(error),
                Err(Attempt::LockTimedOut {
                    seen,
                    resume: from,
                    failure,
                }) => {
                    resume = from;
                    (seen, failure)
                }
            };
            if mode == RunMode::AsWritten {
                // Only what the file's own transaction in progress did is undone; what its
                // own COMMITs kept, and the session settings made before, stay.
                store::run_script(conn, "ROLLBACK")
                    .await
                    .map_err(|source| Error::Database {
                        action: "rolling back a migration's transaction that timed out",
                        source,
                    })?;
            } else {
                // Out of the rolled-back transaction, the session as it started (this also
                // ends the session-level lock_timeout of a statement sent alone).
                store::reset_session(conn).await?;
            }
            if let Some((name, table)) = &concurrent_index {
                drop_invalid_index(conn, table, name.as_deref(), &invalid_before, &retry).await?;
            }
            if let Err(spent) = retry.wait(&self.migration.name, seen, on_event).await {
                let id = started_row.as_deref().unwrap_or_default();
                if resume > 0 {
                    // The file's own COMMITs kept part of it: a failure to resolve, as any.
                    let mut failure = failure;
                    failure.hint = Some(format!("{spent}"));
                    store::reset_session(conn).await?;
                    let _ =
                        store::record_row_failure(conn, self.table, id, &failure.to_string()).await;
                    return Err(Error::MigrationFailed(failure));
                }
                if started_row.is_some() {
                    store::reset_session(conn).await?;
                    store::delete_started_row(conn, self.table, id).await?;
                }
                return Err(spent);
            }
        }
    }

    /// One attempt of [`Self::apply_as_one`]: `ddl_lock_timeout`, the `SET LOCAL` of an
    /// InTransaction migration; `retrying`, whether a lock timeout is retried.
    async fn attempt_as_one(
        &self,
        conn: &mut PgConnection,
        observer: &mut LockObserver,
        started_row: Option<&str>,
        ddl_lock_timeout: Option<std::time::Duration>,
        retrying: bool,
        resume: usize,
    ) -> Result<Outcome, Attempt> {
        let started_at = Utc::now();
        let mode = self.plan.mode;
        let in_transaction = mode == RunMode::InTransaction;
        let started_row = started_row.map(str::to_string);
        let id = started_row
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let finish = match started_row {
            None => Finish::Insert(self.table, self.migration, &id),
            Some(_) => Finish::Update(self.table, &id),
        };
        let chunks = self.chunks(resume);
        let last = chunks.len() - 1;
        let mut completed = resume;
        for (index, chunk) in chunks.iter().enumerate() {
            let finish = (index == last).then_some(finish);
            let lock = match self.context.locking {
                Locking::PerTransaction { timeout } if in_transaction && index == 0 => {
                    Some(TransactionLock {
                        timeout,
                        search_path: self.context.url_schema,
                        guard: (self.table, self.migration),
                    })
                }
                _ => None,
            };
            let wrapping = Wrapping {
                begin: in_transaction && index == 0,
                create_table: (index == 0
                    && (self.create_table || lock.is_some())
                    && in_transaction)
                    .then_some(self.table),
                finish: finish.filter(|_| mode != RunMode::Alone),
                commit: in_transaction && index == last,
                lock,
                ddl_lock_timeout: ddl_lock_timeout.filter(|_| index == 0),
            };
            let (result, seen) = observer
                .watch(
                    self.context.ddl.timeout,
                    self.run_chunk(conn, chunk, wrapping, completed),
                )
                .await;
            let result = match result {
                Ok(count) => {
                    completed += count;
                    Ok(())
                }
                Err(failed) => Err(failed),
            };
            let result = match (result, chunk.copy) {
                (Ok(()), Some(copy)) => self.run_copy(conn, copy, completed).await,
                (result, _) => result,
            };
            if let Err(failed) = result {
                if let Some(step) = failed.in_lock
                    && wire::connection_usable(&failed.error)
                {
                    return self
                        .lock_step_failed(conn, step, failed)
                        .await
                        .map_err(Attempt::Failed);
                }
                if retrying
                    && is_lock_timeout(&failed.error)
                    && wire::connection_usable(&failed.error)
                {
                    // Everything after the file's last COMMIT that ran was rolled back.
                    let resume = if mode == RunMode::AsWritten {
                        self.plan.statements
                            [..failed.completed_before.min(self.plan.statements.len())]
                            .iter()
                            .rposition(|statement| commits(&top_level_words(statement.sql)))
                            .map_or(0, |index| index + 1)
                    } else {
                        0
                    };
                    let failure = match self.describe(failed, None) {
                        Described::Failure(failure) => failure,
                        Described::Lost(loss) => {
                            return Err(Attempt::Failed(Error::ConnectionLost(loss)));
                        }
                    };
                    return Err(Attempt::LockTimedOut {
                        seen,
                        resume,
                        failure,
                    });
                }
                return Err(Attempt::Failed(
                    self.fail(conn, failed, started_at, started_row.as_deref())
                        .await,
                ));
            }
            if chunk.copy.is_some() {
                completed += 1;
            }
        }
        if mode == RunMode::Alone {
            let finish = wrapped_script(
                "",
                Wrapping {
                    begin: false,
                    create_table: None,
                    finish: Some(finish),
                    commit: false,
                    lock: None,
                    ddl_lock_timeout: None,
                },
            );
            store::run_script(conn, &finish.text)
                .await
                .map_err(|source| {
                    Attempt::Failed(Error::Database {
                        action: "recording an applied migration",
                        source,
                    })
                })?;
        }
        Ok(Outcome::Applied)
    }

    /// The transaction's migration lock timed out, or another deploy recorded the migration
    /// meanwhile: nothing of it ran, and the transaction is rolled back.
    async fn lock_step_failed(
        &self,
        conn: &mut PgConnection,
        step: LockStep,
        failed: Failed<'r, 'a>,
    ) -> Result<Outcome, Error> {
        let _ = store::reset_session(conn).await;
        let timed_out = failed
            .error
            .as_database_error()
            .and_then(|database| database.code())
            .is_some_and(|code| code == "55P03");
        match (step, self.context.locking) {
            (LockStep::RecordedMeanwhile, _) => Ok(Outcome::RecordedMeanwhile),
            (LockStep::Lock, Locking::PerTransaction { timeout }) if timed_out => {
                Err(Error::LockTimeout {
                    key: store::LOCK_KEY,
                    waited: timeout,
                    holder: store::lock_holder(conn).await.ok().flatten(),
                })
            }
            _ => Err(Error::Database {
                action: "taking the migration lock",
                source: failed.error,
            }),
        }
    }

    /// Sends one chunk; returns how many of the file's statements completed.
    async fn run_chunk(
        &self,
        conn: &mut PgConnection,
        chunk: &Chunk<'r, 'a>,
        wrapping: Wrapping<'_>,
        completed_before: usize,
    ) -> Result<usize, Failed<'r, 'a>> {
        let sql = self.sql();
        let script = wrapped_script(&sql[chunk.start..chunk.end], wrapping);
        match wire::run_counted(conn, &script.text).await {
            Ok(count) => Ok(count
                .saturating_sub(script.prefix_statements)
                .min(chunk.statements.len())),
            Err(CountedError { error, completed }) => {
                let index = completed.checked_sub(script.prefix_statements);
                let statement = index.and_then(|index| chunk.statements.get(index));
                let in_history_write = wrapping.finish.is_some()
                    && index.is_some_and(|index| index >= chunk.statements.len());
                // The script's own COMMIT: a deferred constraint or trigger of the migration.
                let at_commit = wrapping.commit
                    && completed + 1 == crate::split::split_statements(&script.text).len();
                let in_lock = if Some(completed) == script.lock_statement {
                    Some(LockStep::Lock)
                } else if Some(completed) == script.guard_statement {
                    Some(LockStep::RecordedMeanwhile)
                } else {
                    None
                };
                let chunk_chars = char_count_before(sql, chunk.start);
                let body_chars = sql[chunk.start..chunk.end].chars().count();
                let file_position = server_position(&error).and_then(|position| {
                    let in_body = position.checked_sub(script.prefix_chars)?;
                    (in_body >= 1 && in_body <= body_chars + 1).then_some(chunk_chars + in_body)
                });
                Err(Failed {
                    error,
                    statement,
                    in_history_write,
                    at_commit,
                    in_lock,
                    file_position,
                    completed_before: completed_before
                        + index.unwrap_or(0).min(chunk.statements.len()),
                })
            }
        }
    }

    async fn run_copy(
        &self,
        conn: &mut PgConnection,
        copy: &'r Statement<'a>,
        completed_before: usize,
    ) -> Result<(), Failed<'r, 'a>> {
        let rows = copy.copy_data.map_or("", |data| data.text);
        match wire::copy_in(conn, copy.sql, rows).await {
            Ok(_) => Ok(()),
            Err(error) => {
                // The server names the row: `COPY Tag, line 2, column name: ...`.
                let file_position = copy_row_line(&error).and_then(|row| {
                    let data = copy.copy_data?;
                    let first_row_line =
                        line_column(self.sql(), char_count_before(self.sql(), data.offset) + 1)?.0;
                    line_start_position(self.sql(), first_row_line + row - 1)
                });
                Err(Failed {
                    error,
                    statement: Some(copy),
                    in_history_write: false,
                    at_commit: false,
                    in_lock: None,
                    file_position,
                    completed_before,
                })
            }
        }
    }

    /// Statement by statement (`-- nelo:no-transaction`): the row first, its step count after
    /// each statement outside the file's own transaction blocks, `finished_at` at the end.
    ///
    /// Lock-safe DDL ([`crate::lock_retry`]): the session's `lock_timeout` is set first
    /// (unless the file sets its own); a statement that times out changed nothing and is
    /// retried, or, inside the file's own transaction block, the block from its `BEGIN`.
    /// Given up before any statement applied, the row is removed: nothing to resolve.
    async fn apply_statement_by_statement(
        &self,
        conn: &mut PgConnection,
        observer: &mut LockObserver,
        on_event: &mut (dyn FnMut(Event) + Send),
    ) -> Result<(), Error> {
        if self.create_table {
            store::ensure_table(conn, self.table).await?;
        }
        let id = store::start_row(conn, self.table, self.migration).await?;
        let statements = &self.plan.statements;
        let locks = self.context.ddl;
        if locks.enabled() && !sets_own_lock_timeout(statements) {
            set_session_lock_timeout(conn, locks).await?;
        }
        let mut retry = LockRetry::new(locks);
        let mut in_block = false;
        let mut block_start = 0;
        let mut steps_recorded = 0;
        let mut index = 0;
        while let Some(statement) = statements.get(index) {
            let concurrent_index = concurrent_index_target(statement.sql).filter(|_| !in_block);
            let invalid_before = match &concurrent_index {
                Some((_, table)) if locks.enabled() => {
                    lock_retry::invalid_indexes(conn, table, None).await?
                }
                _ => Vec::new(),
            };
            let (result, seen) = observer
                .watch(locks.timeout, self.run_statement(conn, statement, index))
                .await;
            if let Err(failed) = result {
                if locks.enabled()
                    && is_lock_timeout(&failed.error)
                    && wire::connection_usable(&failed.error)
                {
                    if in_block {
                        let _ = store::run_script(conn, "ROLLBACK").await;
                    }
                    if let Some((name, table)) = &concurrent_index {
                        drop_invalid_index(conn, table, name.as_deref(), &invalid_before, &retry)
                            .await?;
                    }
                    match retry.wait(&self.migration.name, seen, on_event).await {
                        Ok(()) => {
                            if in_block {
                                index = block_start;
                                in_block = false;
                            }
                            continue;
                        }
                        Err(spent) if steps_recorded == 0 => {
                            store::reset_session(conn).await?;
                            store::delete_started_row(conn, self.table, &id).await?;
                            return Err(spent);
                        }
                        // Some statements are applied: a failure to resolve, as any other.
                        Err(_) => {}
                    }
                }
                let step = failed.completed_before + 1;
                let error = self.describe(failed, Some(step));
                return Err(match error {
                    Described::Failure(failure) => {
                        let _ =
                            store::record_row_failure(conn, self.table, &id, &failure.to_string())
                                .await;
                        Error::MigrationFailed(failure)
                    }
                    Described::Lost(loss) => Error::ConnectionLost(loss),
                });
            }
            match transaction_control(&top_level_words(statement.sql)) {
                Some(TransactionControl::Open) => {
                    in_block = true;
                    block_start = index;
                }
                Some(TransactionControl::Close) => in_block = false,
                None => {}
            }
            if !in_block {
                let steps = i32::try_from(index + 1).unwrap_or(i32::MAX);
                store::record_steps(conn, self.table, &id, steps).await?;
                steps_recorded = index + 1;
            }
            on_event(Event::StepApplied {
                name: self.migration.name.clone(),
                step: index + 1,
                total: statements.len(),
            });
            index += 1;
        }
        store::finish_row(conn, self.table, &id).await
    }

    /// One statement of a migration run statement by statement (`index`: 0-based).
    async fn run_statement(
        &self,
        conn: &mut PgConnection,
        statement: &'r Statement<'a>,
        index: usize,
    ) -> Result<(), Failed<'r, 'a>> {
        match statement.copy_data {
            Some(_) => self.run_copy(conn, statement, index).await,
            None => match wire::run_counted(conn, statement.sql).await {
                Ok(_) => Ok(()),
                Err(CountedError { error, .. }) => Err(Failed {
                    file_position: server_position(&error)
                        .map(|position| char_count_before(self.sql(), statement.offset) + position),
                    error,
                    statement: Some(statement),
                    in_history_write: false,
                    at_commit: false,
                    in_lock: None,
                    completed_before: index,
                }),
            },
        }
    }

    /// Records a failure of [`Self::apply_as_one`] and turns it into the error.
    async fn fail(
        &self,
        conn: &mut PgConnection,
        failed: Failed<'r, 'a>,
        started_at: chrono::DateTime<Utc>,
        started_row: Option<&str>,
    ) -> Error {
        match self.describe(failed, None) {
            Described::Lost(loss) => Error::ConnectionLost(loss),
            Described::Failure(failure) if started_row.is_some() => {
                let id = started_row.unwrap_or_default();
                let _ = store::record_row_failure(conn, self.table, id, &failure.to_string()).await;
                Error::MigrationFailed(failure)
            }
            Described::Failure(failure) => {
                // After the rollback (which also took a history table created with it) and
                // out of a failed transaction block the file itself opened.
                let _ = store::reset_session(conn).await;
                if self.create_table {
                    let _ = store::ensure_table(conn, self.table).await;
                }
                let _ = store::record_failure(
                    conn,
                    self.table,
                    self.migration,
                    started_at,
                    &failure.to_string(),
                )
                .await;
                Error::MigrationFailed(failure)
            }
        }
    }

    /// What the user is told: where in the file, what the server said, what stays applied.
    fn describe(&self, failed: Failed<'r, 'a>, step: Option<usize>) -> Described {
        let sql = self.sql();
        let atomic = self.plan.mode == RunMode::InTransaction;
        if !wire::connection_usable(&failed.error) {
            return Described::Lost(Box::new(ConnectionLoss {
                migration: self.migration.name.clone(),
                atomic,
                message: failed.error.to_string(),
            }));
        }
        let statement_position = failed
            .statement
            .map(|statement| char_count_before(sql, statement.offset) + 1);
        let (line, column) = failed
            .file_position
            .or(statement_position)
            .and_then(|position| line_column(sql, position))
            .map_or((None, None), |(line, column)| (Some(line), Some(column)));
        // The file's own COMMITs that ran before the failure keep what they committed.
        let committed_through_line = if self.plan.mode == RunMode::AsWritten {
            self.plan.statements[..failed.completed_before.min(self.plan.statements.len())]
                .iter()
                .rev()
                .find(|statement| commits(&top_level_words(statement.sql)))
                .and_then(|statement| {
                    line_column(sql, char_count_before(sql, statement.offset) + 1)
                })
                .map(|(line, _)| line)
        } else {
            None
        };
        let mut failure = MigrationFailure {
            migration: self.migration.name.clone(),
            path: self.migration.path.clone(),
            line,
            column,
            step,
            statement: if failed.at_commit {
                Some("COMMIT at the end of the migration's transaction (a deferred constraint or trigger of the migration failed there)".to_string())
            } else if failed.in_history_write {
                Some("(after the migration's SQL) nelo-migrate's session reset and history row in `_prisma_migrations`".to_string())
            } else {
                failed
                    .statement
                    .or_else(|| statement_at(sql, &self.plan.statements, failed.file_position?))
                    .map(|statement| first_line(statement.sql))
            },
            committed_through_line,
            sqlstate: None,
            message: failed.error.to_string(),
            detail: None,
            hint: None,
        };
        if let Some(database) = failed
            .error
            .as_database_error()
            .and_then(|database| database.try_downcast_ref::<PgDatabaseError>())
        {
            failure.sqlstate = Some(database.code().to_string());
            failure.message = database.message().to_string();
            failure.detail = database.detail().map(str::to_string);
            failure.hint = database.hint().map(str::to_string);
            if let (Some(context), None) = (database.r#where(), &failure.detail) {
                failure.detail = Some(format!("context: {context}"));
            }
        }
        // A statement the classification does not know to need its own run (SQLSTATE
        // 25001: "cannot run inside a transaction block").
        if failure.sqlstate.as_deref() == Some("25001")
            && failure.message.contains("inside a transaction block")
            && failure.hint.is_none()
        {
            failure.hint = Some(format!(
                "give this statement a migration folder of its own (a file of one such statement runs outside a transaction, as Prisma runs it), or make the file's first line `{}` to run it statement by statement",
                crate::folder::NO_TRANSACTION_MARKER
            ));
        }
        Described::Failure(Box::new(failure))
    }
}

/// How an attempt of [`Run::apply_as_one`] ended, when not applied.
enum Attempt {
    /// A failure, recorded as such.
    Failed(Error),
    /// A lock timeout: rolled back, nothing recorded; what was seen of the wait, the
    /// statement to resume from (after the file's own last COMMIT that ran) and the failure
    /// as it would be recorded, should the budget be spent after such a COMMIT.
    LockTimedOut {
        seen: Option<LockWaitInfo>,
        resume: usize,
        failure: Box<MigrationFailure>,
    },
}

/// Sets the session's `lock_timeout` (a migration that does not run in one transaction).
async fn set_session_lock_timeout(conn: &mut PgConnection, locks: DdlLocks) -> Result<(), Error> {
    store::run_script(conn, &locks.set_statement(false))
        .await
        .map_err(|source| Error::Database {
            action: "setting the migration's lock_timeout",
            source,
        })
}

/// Drops the INVALID indexes on `table` (named `name`, when it has one) that were not there
/// before a `CREATE INDEX CONCURRENTLY` timed out: PostgreSQL keeps its catalog entry
/// (`pg_index.indisvalid` false). `DROP INDEX CONCURRENTLY` takes SHARE UPDATE EXCLUSIVE, which
/// no application query waits behind; it waits for the transactions that use the table, up
/// to what is left of the budget (at least 10 s).
async fn drop_invalid_index(
    conn: &mut PgConnection,
    table: &str,
    name: Option<&str>,
    before: &[(u32, String)],
    retry: &LockRetry,
) -> Result<(), Error> {
    let left = lock_retry::invalid_indexes(conn, table, name).await?;
    for (oid, index) in left {
        if before.iter().any(|(existing, _)| *existing == oid) {
            continue;
        }
        let wait = retry.remaining().max(std::time::Duration::from_secs(10));
        // The session's own lock_timeout (a migration run statement by statement may have
        // set it) is put back after.
        let saved: Option<String> = store::fetch_rows(conn, "SHOW lock_timeout")
            .await
            .ok()
            .and_then(|rows| rows.first().and_then(|row| sqlx::Row::try_get(row, 0).ok()));
        let dropped = async {
            store::run_script(
                conn,
                &format!("SET lock_timeout = '{}ms'", wait.as_millis().max(1)),
            )
            .await?;
            store::run_script(conn, &format!("DROP INDEX CONCURRENTLY IF EXISTS {index}")).await
        }
        .await;
        let restore = match &saved {
            Some(value) => format!(
                "SELECT pg_catalog.set_config('lock_timeout', {}, false)",
                crate::sql::quote_literal(value)
            ),
            None => "RESET lock_timeout".to_string(),
        };
        let _ = store::run_script(conn, &restore).await;
        dropped.map_err(|source| Error::Database {
            action: "dropping the INVALID index that a timed-out CREATE INDEX CONCURRENTLY left (drop it with DROP INDEX CONCURRENTLY before running deploy again)",
            source,
        })?;
    }
    Ok(())
}

/// A statement of the transaction lock's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockStep {
    Lock,
    RecordedMeanwhile,
}

enum Described {
    Failure(Box<MigrationFailure>),
    Lost(Box<ConnectionLoss>),
}

/// The statement holding 1-based character `position` of `sql` (a syntax error's).
fn statement_at<'s, 'a>(
    sql: &str,
    statements: &'s [Statement<'a>],
    position: usize,
) -> Option<&'s Statement<'a>> {
    statements.iter().find(|statement| {
        let start = char_count_before(sql, statement.offset) + 1;
        (start..=start + statement.sql.chars().count()).contains(&position)
    })
}

/// The server's 1-based character position in the query, when it gave one.
fn server_position(error: &sqlx::Error) -> Option<usize> {
    let database = error
        .as_database_error()?
        .try_downcast_ref::<PgDatabaseError>()?;
    match database.position() {
        Some(PgErrorPosition::Original(position)) => Some(position),
        _ => None,
    }
}

/// The row number in a COPY error's context (`COPY Tag, line 2, column name: ...`).
fn copy_row_line(error: &sqlx::Error) -> Option<usize> {
    let database = error
        .as_database_error()?
        .try_downcast_ref::<PgDatabaseError>()?;
    let context = database.r#where()?;
    let after = &context[context.find(", line ")? + ", line ".len()..];
    let digits = after
        .find(|character: char| !character.is_ascii_digit())
        .map_or(after, |end| &after[..end]);
    digits.parse().ok()
}

/// The 1-based character position of the start of 1-based `line`.
fn line_start_position(text: &str, line: usize) -> Option<usize> {
    if line == 1 {
        return Some(1);
    }
    let mut seen = 1;
    for (index, character) in text.chars().enumerate() {
        if character == '\n' {
            seen += 1;
            if seen == line {
                return Some(index + 2);
            }
        }
    }
    None
}

/// The statement's first line, shortened to 100 characters.
fn first_line(sql: &str) -> String {
    let line = sql.lines().next().unwrap_or_default().trim_end();
    match line.char_indices().nth(100) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_starts() {
        let text = "a\nbc\n\nd";
        assert_eq!(line_start_position(text, 1), Some(1));
        assert_eq!(line_start_position(text, 2), Some(3));
        assert_eq!(line_start_position(text, 4), Some(7));
        assert_eq!(line_start_position(text, 5), None);
    }

    #[test]
    fn first_lines_are_short() {
        assert_eq!(first_line("UPDATE t\nSET a = 1"), "UPDATE t");
        let long = format!("SELECT {}", "x".repeat(200));
        assert_eq!(first_line(&long).chars().count(), 103);
    }
}
