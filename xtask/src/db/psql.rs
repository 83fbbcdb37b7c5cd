//! `cargo xtask db psql`: hands the terminal to `psql` inside the container, through the
//! docker CLI (the one command that needs it: an interactive TTY).

use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::TargetDatabase;
use crate::context::Context;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Open the test database (TEST_DATABASE_URL) instead of the development one.
    #[arg(long)]
    test: bool,
}

/// The `docker exec` arguments: `-t` only when stdin is a terminal. A script piped in stops
/// at its first error, and psql's exit code (3) says so, as `psql -f` in CI should.
fn exec_args(container: &str, user: &str, database: &str, tty: bool) -> Vec<String> {
    let mut args = vec![
        "exec".to_string(),
        if tty { "-it" } else { "-i" }.to_string(),
    ];
    args.extend([container, "psql", "-U", user, "-d", database].map(str::to_string));
    if !tty {
        args.extend(["--set", "ON_ERROR_STOP=1"].map(str::to_string));
    }
    args
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let url = ctx
        .config
        .target_url(TargetDatabase::from_test_flag(args.test));
    let docker = which::which("docker").map_err(|_| {
        anyhow::anyhow!(
            "`db psql` needs the docker command-line client, which is not on PATH: install it \
             (for example `sudo apt-get install docker.io`), or connect with any client to {url}"
        )
    })?;
    let tty = std::io::stdin().is_terminal();
    // Replace this process, so that Ctrl-C and the terminal belong to psql alone.
    let error = std::process::Command::new(&docker)
        .args(exec_args(
            &ctx.config.container,
            &url.user(),
            &url.database(),
            tty,
        ))
        .exec();
    Err(error).with_context(|| format!("cannot run {}", docker.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_gets_a_tty_and_a_pipe_does_not() {
        assert_eq!(
            exec_args("nelo_postgres", "nelo", "nelo_test", true).join(" "),
            "exec -it nelo_postgres psql -U nelo -d nelo_test"
        );
        assert_eq!(
            exec_args("c", "u", "d", false).join(" "),
            "exec -i c psql -U u -d d --set ON_ERROR_STOP=1"
        );
    }
}
