//! All human output: indicatif spinners and bars on stderr (hidden when stderr is not a
//! terminal, so CI logs stay clean), status lines, byte counts, and the final error report.
//! indicatif stays inside this module: commands hold a [`Progress`].
//! Machine output (`--json`) goes to stdout and does not pass through here.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether a person is watching stderr.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A spinner or a byte counter on stderr. Clones are handles on the same line.
#[derive(Clone)]
pub struct Progress(ProgressBar);

impl Progress {
    pub fn set_message(&self, message: impl Into<String>) {
        self.0.set_message(message.into());
    }

    /// The total, in bytes, of a byte counter.
    pub fn set_length(&self, total: u64) {
        self.0.set_length(total);
    }

    /// How many bytes of a byte counter are done.
    pub fn set_position(&self, done: u64) {
        self.0.set_position(done);
    }

    /// Adds `bytes` to a byte counter.
    pub fn inc(&self, bytes: u64) {
        self.0.inc(bytes);
    }

    /// Hides the line while `print` writes to stderr, then draws it again.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        self.0.suspend(print)
    }
}

/// A spinner with a message; finish it with [`done`], [`clear`] or [`failed`].
pub fn spinner(message: impl Into<String>) -> Progress {
    let bar = ProgressBar::with_draw_target(None, draw_target());
    bar.set_style(
        ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
            .expect("valid template"),
    );
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(100));
    Progress(bar)
}

/// A byte counter with rate, for streams of unknown length (downloads, dumps).
pub fn byte_counter(message: impl Into<String>) -> Progress {
    let bar = ProgressBar::with_draw_target(None, draw_target());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner:.cyan} {msg} {bytes} ({bytes_per_sec}) {elapsed:.dim}",
        )
        .expect("valid template"),
    );
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(100));
    Progress(bar)
}

/// Ends a spinner and leaves a line saying what was done.
pub fn done(bar: &Progress, message: impl AsRef<str>) {
    bar.0.finish_and_clear();
    step(message);
}

/// Ends a spinner and leaves no line, whatever happened: the caller says what it was.
pub fn clear(bar: &Progress) {
    bar.0.finish_and_clear();
}

/// Ends a spinner after a failure; the error itself is reported by `main`.
pub fn failed(bar: &Progress) {
    clear(bar);
}

/// A line of progress: `✓ created database nelo`.
pub fn step(message: impl AsRef<str>) {
    eprintln!("{} {}", mark("✓", "ok"), message.as_ref());
}

/// A line of information that is not a completed step.
pub fn note(message: impl AsRef<str>) {
    eprintln!("{} {}", mark("·", "--"), message.as_ref());
}

pub fn warn(message: impl AsRef<str>) {
    eprintln!("{} {}", mark("!", "warning:"), message.as_ref());
}

/// A byte count for people: `512 B`, `1.50 MiB`.
pub fn bytes(count: u64) -> String {
    indicatif::HumanBytes(count).to_string()
}

/// `1 migration`, `2 migrations`.
pub fn count(number: usize, noun: &str) -> String {
    nelo_migrate_cli::count(number, noun)
}

/// Machine output (paths, JSON, tables) on stdout. A reader that closed the pipe
/// (`cargo xtask db status --json | head -c 10`) has what it wanted: the rest is dropped and
/// the command goes on, with no panic. Any other write error is said on stderr.
pub fn stdout(text: impl std::fmt::Display) {
    if let Err(error) = nelo_migrate_cli::print_stdout(&text.to_string())
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        warn(format!("cannot write to stdout: {error}"));
    }
}

/// [`stdout`] with a line end.
pub fn stdout_line(text: impl std::fmt::Display) {
    stdout(format!("{text}\n"));
}

/// Prints the error chain once and returns the failure exit code.
pub fn report_error(error: &anyhow::Error) -> ExitCode {
    nelo_migrate_cli::print_error_chain(error, None);
    ExitCode::FAILURE
}

fn mark(fancy: &'static str, plain: &'static str) -> &'static str {
    if stderr_is_terminal() { fancy } else { plain }
}

fn draw_target() -> ProgressDrawTarget {
    if stderr_is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}
