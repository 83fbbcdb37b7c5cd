//! All human output: indicatif spinners and bars on stderr (hidden when stderr is not a
//! terminal, so CI logs stay clean), status lines, and the final error report.
//! Machine output (`--json`) goes to stdout and does not pass through here.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether a person is watching stderr.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A spinner with a message; finish it with [`done`] or [`failed`].
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, draw_target());
    bar.set_style(
        ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
            .expect("valid template"),
    );
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// A byte counter with rate, for streams of unknown length (downloads, dumps).
pub fn byte_counter(message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, draw_target());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner:.cyan} {msg} {bytes} ({bytes_per_sec}) {elapsed:.dim}",
        )
        .expect("valid template"),
    );
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Ends a spinner and leaves a line saying what was done.
pub fn done(bar: &ProgressBar, message: impl AsRef<str>) {
    bar.finish_and_clear();
    step(message);
}

/// Ends a spinner after a failure; the error itself is reported by `main`.
pub fn failed(bar: &ProgressBar) {
    bar.finish_and_clear();
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

/// `1 migration`, `2 migrations`.
pub fn count(number: usize, noun: &str) -> String {
    nelo_migrate_cli::count(number, noun)
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
