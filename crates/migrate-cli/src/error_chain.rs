//! How a binary reports the error that ended it: once, with its causes and the next step.

/// `error: …`, then one `  caused by: …` line per source, then `hint: …` when `next_step` is
/// given; each line ends with a newline. Every URL in the chain was redacted where the message
/// was made.
pub fn error_chain_text(error: &anyhow::Error, next_step: Option<&str>) -> String {
    let mut text = format!("error: {error}\n");
    for cause in error.chain().skip(1) {
        text += &format!("  caused by: {cause}\n");
    }
    if let Some(step) = next_step {
        text += &format!("hint: {step}\n");
    }
    text
}

/// Prints [`error_chain_text`] on stderr.
pub fn print_error_chain(error: &anyhow::Error, next_step: Option<&str>) {
    eprint!("{}", error_chain_text(error, next_step));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_is_printed_once_outermost_first_then_the_hint() {
        let error = anyhow::anyhow!("connection refused")
            .context("cannot connect")
            .context("deploy stopped");
        assert_eq!(
            error_chain_text(&error, Some("start the server")),
            "error: deploy stopped\n  caused by: cannot connect\n  caused by: connection refused\nhint: start the server\n"
        );
        assert_eq!(
            error_chain_text(&anyhow::anyhow!("alone"), None),
            "error: alone\n"
        );
    }
}
