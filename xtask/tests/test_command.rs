//! `cargo xtask test` itself: it runs `cargo test` against a throwaway server, passes cargo's
//! exit code through, and removes the server afterwards.

mod common;

use common::{Run, Sandbox};

/// The name in `removed test container `NAME``.
fn removed_container(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|line| line.contains("removed test container"))
        .unwrap_or_else(|| panic!("no cleanup line in:\n{stderr}"));
    line.split('`').nth(1).unwrap().to_string()
}

#[test]
fn the_suite_runs_against_a_throwaway_server_that_is_removed_afterwards() {
    let sandbox = Sandbox::new();
    let run = Run::from(
        sandbox
            .command(&[
                "test",
                "--",
                "-p",
                "xtask",
                "--bin",
                "xtask",
                "spec::tests::no_container_means_create",
            ])
            .output()
            .unwrap(),
    );
    run.assert_success();
    assert!(
        run.stderr
            .contains("is ready on postgresql://postgres:***@127.0.0.1:"),
        "{}",
        run.stderr
    );
    let name = removed_container(&run.stderr);
    let state = common::block_on(move || async move {
        common::docker()
            .inspect_container(&name, None)
            .await
            .is_ok()
    });
    assert!(!state, "the test server is still there");
}

#[test]
fn cargo_test_failures_become_the_exit_code_and_the_server_is_still_removed() {
    let sandbox = Sandbox::new();
    let run = Run::from(
        sandbox
            .command(&["test", "--", "-p", "no-such-package-in-this-workspace"])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, Some(101), "{}", run.stderr);
    let name = removed_container(&run.stderr);
    let exists = common::block_on(move || async move {
        common::docker()
            .inspect_container(&name, None)
            .await
            .is_ok()
    });
    assert!(!exists, "the test server is still there");
}
