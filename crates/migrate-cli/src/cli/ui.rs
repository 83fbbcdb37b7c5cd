//! Everything the binary shows a person goes through here, on stderr.

use std::io::Write;

use nelo_migrate::{Event, RunMode};

/// Renders one progress event.
pub fn event(event: Event) {
    match event {
        Event::Applying { name, mode } => {
            let mode = match mode {
                RunMode::InTransaction => String::new(),
                other => format!(" ({other})"),
            };
            eprint!("applying {name}{mode} ... ");
            let _ = std::io::stderr().flush();
        }
        Event::Applied { duration, .. } => eprintln!("done in {} ms", duration.as_millis()),
        Event::Failed { duration, .. } => eprintln!("failed after {} ms", duration.as_millis()),
        Event::RecordedMeanwhile { .. } => {
            eprintln!("recorded meanwhile by another deploy; reading the history again")
        }
        Event::Modified { name } => {
            eprintln!(
                "warning: migration `{name}` changed after it was applied; deploy leaves it as it is"
            )
        }
        Event::Missing { name } => {
            eprintln!(
                "warning: migration `{name}` is applied but missing from the migrations folder"
            )
        }
        Event::LintWarning { path, finding, .. } => {
            eprint!("{}", nelo_migrate::lint::finding_text(&path, &finding))
        }
        Event::SchemaDropped { schema } => eprintln!("dropped schema `{schema}`"),
        Event::LockWait(wait) => {
            let what = match &wait.lock {
                Some(lock) => format!("waiting for {lock}"),
                None => "waiting for a table lock".to_string(),
            };
            eprint!(
                "\n  {what}: timed out after {} ms, rolled back; retrying in {} ms (attempt {}) ... ",
                wait.waited_ms,
                wait.retry_in_ms,
                wait.attempt + 1
            );
            let _ = std::io::stderr().flush();
        }
        _ => {}
    }
}

/// A line of information.
pub fn note(text: &str) {
    eprintln!("{text}");
}

/// A warning: something is ignored or may not do what was meant.
pub fn warning(text: &str) {
    eprintln!("warning: {text}");
}

/// The error chain, once (every URL in it was redacted where the message was made), then
/// this binary's next step for a library error.
pub fn error(error: &anyhow::Error) {
    nelo_migrate_cli::print_error_chain(error, super::advice::for_chain(error).as_deref());
}
