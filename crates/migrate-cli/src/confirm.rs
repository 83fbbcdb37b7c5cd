//! The type-the-name confirmation before something irreversible, and when it may be asked.

use std::io::IsTerminal;

use anyhow::{Context, bail};

/// Whether a command may ask a question: stdin is a terminal and `CI` is not set.
pub fn is_interactive() -> bool {
    std::io::stdin().is_terminal() && std::env::var_os("CI").is_none()
}

/// What is about to happen to which database.
pub struct Confirmation<'a> {
    /// The action, as the refusal and the cancellation name it: `reset`.
    pub action: &'a str,
    /// The database's name, which the person types.
    pub database: &'a str,
    /// Shown before the question: `this drops every schema and all data in …` (redacted).
    pub consequence: &'a str,
}

/// Asks the person at the terminal to type the database's name; an error when nobody can
/// answer (no terminal on stdin, or `CI` set: pass `--force` instead), when stdin cannot be
/// read, or when the answer is not the name.
pub fn confirm(confirmation: &Confirmation) -> anyhow::Result<()> {
    let Confirmation {
        action,
        database,
        consequence,
    } = confirmation;
    if !is_interactive() {
        bail!(
            "refusing to {action} `{database}` without confirmation: nobody can answer here (no \
             terminal on stdin, or CI is set); pass --force to go ahead"
        );
    }
    eprintln!("{consequence}\ntype the database name (`{database}`) to confirm:");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the confirmation")?;
    if answer.trim() != *database {
        bail!(
            "{action} cancelled: `{}` is not `{database}`",
            answer.trim()
        );
    }
    Ok(())
}

/// Asks `question` with `[y/N]` at the terminal; true only for `y` or `yes` (any case). An
/// error when nobody can answer ([`is_interactive`]) or stdin cannot be read.
pub fn yes_or_no(question: &str) -> anyhow::Result<bool> {
    if !is_interactive() {
        bail!(
            "cannot ask `{question}`: nobody can answer here (no terminal on stdin, or CI is set)"
        );
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(is_yes(&answer))
}

/// Whether an answer to a `[y/N]` question is yes: `y` or `yes`, any case; anything else,
/// the empty answer included, is no.
pub fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_y_and_yes_are_yes() {
        for yes in ["y", "Y\n", " yes ", "YES"] {
            assert!(super::is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yep", "y es"] {
            assert!(!super::is_yes(no), "{no:?}");
        }
    }
}
