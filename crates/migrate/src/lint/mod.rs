//! Lint: a safety review of migration SQL before it runs, by squawk's rules
//! (<https://squawkhq.com>), with nelo's levels ([`rules::RULES`]) and the transaction
//! context that nelo's run mode gives each file.
//!
//! Suppression is squawk's own: `-- squawk-ignore rule-a, rule-b` on the line above the
//! statement, or `-- squawk-ignore-file rule` anywhere in the file (a bare
//! `-- squawk-ignore-file` ignores every rule).

#[cfg(test)]
mod reader_evaluation;
mod rules;
mod squawk;

use std::path::PathBuf;

pub use rules::{RULES, RulePolicy, enabled_rule_names, policy};

use crate::folder::Migration;
use crate::position::{char_count_before, line_column};
use crate::run_mode::{RunMode, Unrunnable, run_plan};

/// The PostgreSQL major version the rules judge for (some, like `adding-field-with-default`,
/// depend on it).
pub const PG_MAJOR: u32 = 17;

/// The rule name of nelo's own finding for a file that deploy refuses before anything runs.
pub const UNRUNNABLE: &str = "unrunnable";

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Off,
    Warning,
    Error,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Off => "off",
            Level::Warning => "warning",
            Level::Error => "error",
        })
    }
}

/// Whether the file runs inside a transaction block that it does not open itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Context {
    /// Nelo wraps the file in one transaction (the default run mode).
    InTransaction,
    /// The file runs alone, statement by statement (`-- nelo:no-transaction`), or with its
    /// own `BEGIN`/`COMMIT`.
    OutsideTransaction,
}

impl From<RunMode> for Context {
    fn from(mode: RunMode) -> Self {
        match mode {
            RunMode::InTransaction => Context::InTransaction,
            RunMode::StatementByStatement | RunMode::Alone | RunMode::AsWritten => {
                Context::OutsideTransaction
            }
        }
    }
}

/// One finding, at a place in the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Squawk's rule name (`require-concurrent-index-creation`), `syntax-error`, or
    /// `unrunnable`.
    pub rule: String,
    pub level: Level,
    /// Whether it stops `deploy` under `--lint warn`, the default.
    pub blocks_deploy: bool,
    pub message: String,
    pub help: Option<String>,
    /// 1-based line and column (in characters) where it starts and ends.
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// A migration's findings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationLint {
    pub name: String,
    pub path: PathBuf,
    /// How deploy runs it (`None` when deploy refuses it: see the `unrunnable` finding).
    pub run_mode: Option<RunMode>,
    pub findings: Vec<Finding>,
}

impl MigrationLint {
    pub fn count(&self, level: Level) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.level == level)
            .count()
    }
}

/// Lints SQL that runs in `context` (for SQL nelo generates before it is a migration, e.g.
/// `create --from-schema`): every enabled rule, ordered by position.
pub fn lint_sql(sql: &str, context: Context) -> Vec<Finding> {
    let text = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let enabled = enabled_rule_names();
    squawk::lint(text, &enabled, context == Context::InTransaction, PG_MAJOR)
        .into_iter()
        .filter_map(|raw| {
            let policy = policy(&raw.rule);
            let level = policy.map_or(Level::Warning, |policy| policy.level);
            (level != Level::Off).then(|| {
                let (line, column) = position(text, raw.start);
                let (end_line, end_column) = position(text, raw.end);
                Finding {
                    blocks_deploy: policy.is_some_and(|policy| policy.blocks_deploy),
                    rule: raw.rule,
                    level,
                    message: raw.message,
                    help: raw.help,
                    line,
                    column,
                    end_line,
                    end_column,
                }
            })
        })
        .collect()
}

/// Lints a migration as deploy would run it: inside a transaction unless its run mode
/// ([`run_plan`]) runs it outside one. A file deploy refuses gets an `unrunnable` finding
/// and is linted as the one transaction Prisma would send it in.
pub fn lint_migration(migration: &Migration) -> MigrationLint {
    match run_plan(migration) {
        Ok(plan) => lint_in_mode(migration, Some(plan.mode)),
        Err(unrunnable) => {
            let mut lint = lint_in_mode(migration, None);
            lint.findings.insert(
                0,
                Finding {
                    rule: UNRUNNABLE.to_string(),
                    level: Level::Error,
                    blocks_deploy: true,
                    help: None,
                    line: unrunnable.line,
                    column: unrunnable.column,
                    end_line: unrunnable.line,
                    end_column: unrunnable.column,
                    message: unrunnable_reason(&unrunnable),
                },
            );
            lint
        }
    }
}

/// Below this many migrations, threads cost more than they save.
const PARALLEL_MIN_MIGRATIONS: usize = 32;

/// [`lint_migration`] for each of `migrations`, in order, on every core for a large folder.
pub fn lint_migrations(migrations: &[&Migration]) -> Vec<MigrationLint> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if threads < 2 || migrations.len() < PARALLEL_MIN_MIGRATIONS {
        return migrations.iter().map(|m| lint_migration(m)).collect();
    }
    let chunk_size = migrations.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = migrations
            .chunks(chunk_size)
            .map(|chunk| {
                scope.spawn(move || chunk.iter().map(|m| lint_migration(m)).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("a lint thread panicked"))
            .collect()
    })
}

/// The reason of [`Unrunnable`]'s message, without the place a finding already gives.
fn unrunnable_reason(unrunnable: &Unrunnable) -> String {
    let text = unrunnable.to_string();
    let place = format!(
        "{}:{}:{}: ",
        unrunnable.path.display(),
        unrunnable.line,
        unrunnable.column
    );
    text.split_once(&place)
        .map_or_else(|| text.clone(), |(_, reason)| reason.to_string())
}

/// Lints a migration whose run mode is known (`None`: deploy refuses it; linted as one
/// transaction).
fn lint_in_mode(migration: &Migration, run_mode: Option<RunMode>) -> MigrationLint {
    let context = run_mode.map_or(Context::InTransaction, Context::from);
    MigrationLint {
        name: migration.name.clone(),
        path: migration.path.clone(),
        run_mode,
        findings: lint_sql(migration.sql_to_send(), context),
    }
}

/// Deploy's check, before anything runs: lints the migrations about to be applied, in the run
/// mode deploy has planned for each, reports each finding that does not stop the deploy to
/// `on_warning`, and returns the ones that do.
pub(crate) fn check_before_deploy(
    to_apply: &[(&Migration, RunMode)],
    mode: LintMode,
    mut on_warning: impl FnMut(&MigrationLint, &Finding),
) -> Option<LintRefusal> {
    if mode == LintMode::Off {
        return None;
    }
    let lints: Vec<MigrationLint> = to_apply
        .iter()
        .map(|(migration, run_mode)| lint_in_mode(migration, Some(*run_mode)))
        .collect();
    let mut stopped = Vec::new();
    for lint in &lints {
        for finding in &lint.findings {
            if mode.stops(finding) {
                stopped.push(StoppingFinding {
                    migration: lint.name.clone(),
                    path: lint.path.clone(),
                    finding: finding.clone(),
                });
            } else {
                on_warning(lint, finding);
            }
        }
    }
    (!stopped.is_empty()).then_some(LintRefusal {
        mode,
        findings: stopped,
    })
}

/// Why lint stopped a deploy before anything ran.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LintRefusal {
    pub mode: LintMode,
    pub findings: Vec<StoppingFinding>,
}

/// A finding that stopped a deploy, with its migration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoppingFinding {
    pub migration: String,
    pub path: PathBuf,
    pub finding: Finding,
}

impl std::fmt::Display for LintRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lint stopped the deploy before anything ran ({} finding(s) under lint mode `{}`):",
            self.findings.len(),
            self.mode
        )?;
        for stopping in &self.findings {
            write!(
                f,
                "\n  {}",
                finding_text(&stopping.path, &stopping.finding)
                    .trim_end()
                    .replace('\n', "\n  ")
            )?;
        }
        f.write_str(match self.mode {
            LintMode::Deny => "\nfix the migrations, or put `-- squawk-ignore RULE` on the line above the statement if it is safe here",
            _ => "\nthese would fail at run time or break the migration's one transaction: fix the migrations (a statement that cannot run in a transaction block goes in a folder of its own), or put `-- squawk-ignore RULE` on the line above the statement if you are sure",
        })
    }
}

/// What lint stops in `deploy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LintMode {
    /// Stop on every error-level finding.
    Deny,
    /// Stop only on findings that would fail at run time or break the one-transaction
    /// guarantee; print the rest as warnings.
    #[default]
    Warn,
    /// Do not lint.
    Off,
}

impl std::str::FromStr for LintMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "deny" => Ok(LintMode::Deny),
            "warn" => Ok(LintMode::Warn),
            "off" => Ok(LintMode::Off),
            _ => Err(format!(
                "`{text}` is not a lint mode; use deny, warn or off"
            )),
        }
    }
}

impl std::fmt::Display for LintMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LintMode::Deny => "deny",
            LintMode::Warn => "warn",
            LintMode::Off => "off",
        })
    }
}

impl LintMode {
    /// Whether `finding` stops a deploy in this mode.
    pub fn stops(self, finding: &Finding) -> bool {
        match self {
            LintMode::Deny => finding.level == Level::Error,
            LintMode::Warn => finding.blocks_deploy,
            LintMode::Off => false,
        }
    }
}

/// The findings that stop a deploy in `mode`, with their migration; empty when it may go on.
pub fn refusals(lints: &[MigrationLint], mode: LintMode) -> Vec<(&MigrationLint, &Finding)> {
    lints
        .iter()
        .flat_map(|lint| lint.findings.iter().map(move |finding| (lint, finding)))
        .filter(|(_, finding)| mode.stops(finding))
        .collect()
}

/// `path:line:column: level[rule]: message`, then `  help: ...`, each line ending in a
/// newline, as compilers print.
pub fn finding_text(path: &std::path::Path, finding: &Finding) -> String {
    let mut text = format!(
        "{}:{}:{}: {}[{}]: {}\n",
        path.display(),
        finding.line,
        finding.column,
        finding.level,
        finding.rule,
        finding.message
    );
    if let Some(help) = &finding.help {
        text += &format!("  help: {help}\n");
    }
    text
}

fn position(text: &str, byte_offset: usize) -> (usize, usize) {
    let offset = byte_offset.min(text.len());
    line_column(text, char_count_before(text, offset) + 1).unwrap_or((1, 1))
}
