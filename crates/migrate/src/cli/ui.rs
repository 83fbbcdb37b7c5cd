//! Everything the binary shows a person goes through here, on stderr.

use std::io::Write;

use nelo_migrate::Event;

/// Renders one progress event.
pub fn event(event: Event) {
    match event {
        Event::Applying {
            name,
            no_transaction,
        } => {
            let mode = if no_transaction {
                " (no transaction)"
            } else {
                ""
            };
            eprint!("applying {name}{mode} ... ");
            let _ = std::io::stderr().flush();
        }
        Event::Applied { duration, .. } => eprintln!("done in {} ms", duration.as_millis()),
        Event::Failed { duration, .. } => eprintln!("failed after {} ms", duration.as_millis()),
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
        Event::SchemaDropped { schema } => eprintln!("dropped schema `{schema}`"),
        Event::LockAcquired | Event::StepApplied { .. } => {}
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

/// The error chain, once: `error: ...` then one `caused by: ...` per source. Every URL in
/// it was redacted where the message was made.
pub fn error(error: &anyhow::Error) {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("caused by: {cause}");
    }
}
