//! `db status`, `db logs`, `db psql` and `image build` on an image that exists, against the
//! real engine.

mod common;

use common::{Sandbox, in_a_terminal, with_input};

#[test]
fn status_is_zero_when_up_to_date_and_one_when_the_server_is_down() {
    let sandbox = Sandbox::new();
    let absent = sandbox.run(&["db", "status"]);
    assert_eq!(absent.code, Some(1), "{}", absent.stdout);
    assert!(absent.stdout.contains("absent"), "{}", absent.stdout);

    sandbox.run(&["db", "up"]).assert_success();
    let up = sandbox.run(&["db", "status", "--json"]);
    up.assert_success();
    let status: serde_json::Value = serde_json::from_str(&up.stdout).unwrap();
    assert_eq!(status["state"], "running");
    assert_eq!(status["port"], sandbox.port);
    assert_eq!(status["volume"], sandbox.volume.as_str());
    let databases = status["databases"].as_array().unwrap();
    assert_eq!(databases.len(), 2);
    for database in databases {
        assert_eq!(
            database["pending"].as_array().unwrap().len(),
            0,
            "{database}"
        );
        assert_eq!(database["applied"], common::migration_count(), "{database}");
        assert!(!database["url"].as_str().unwrap().contains(common::PASSWORD));
    }

    let logs = sandbox.run(&["db", "logs"]);
    logs.assert_success();
    let log_text = format!("{}{}", logs.stdout, logs.stderr);
    assert!(
        log_text.contains("ready to accept connections"),
        "{log_text}"
    );
    let tail = sandbox.run(&["db", "logs", "--tail", "2"]);
    tail.assert_success();
    assert_eq!(format!("{}{}", tail.stdout, tail.stderr).lines().count(), 2);

    // Piped: psql reads a script, without prompts.
    let piped = with_input(
        sandbox.command(&["db", "psql", "--test"]),
        "SELECT current_database() || ':' || 40 + 2;\n",
    );
    assert!(piped.status.success(), "{piped:?}");
    let piped = String::from_utf8_lossy(&piped.stdout);
    assert!(piped.contains("nelo_it_test:42"), "{piped}");
    assert!(
        !piped.contains("=#"),
        "a prompt without a terminal:\n{piped}"
    );
    // A piped script stops at its first error and fails, as it must in CI.
    let failing = with_input(
        sandbox.command(&["db", "psql", "--test"]),
        "CREATE TABLE it_before_error (v int);\nSELECT no_such_function();\n\
         CREATE TABLE it_after_error (v int);\n",
    );
    assert!(!failing.status.success(), "{failing:?}");
    assert!(
        String::from_utf8_lossy(&failing.stderr).contains("no_such_function"),
        "{failing:?}"
    );
    let after: bool = common::query_one(
        &sandbox.test_database_url(),
        "SELECT to_regclass('it_after_error') IS NULL AND to_regclass('it_before_error') IS NOT NULL",
    );
    assert!(after, "the script went on after its error");
    // In a terminal: the interactive psql, with its greeting and prompt.
    let interactive = with_input(
        in_a_terminal(&sandbox, "db psql"),
        "SELECT 40 + 2 AS answer;\n\\q\n",
    );
    assert!(interactive.status.success(), "{interactive:?}");
    let interactive = String::from_utf8_lossy(&interactive.stdout);
    assert!(
        interactive.contains("Type \"help\" for help.") && interactive.contains("nelo_it=#"),
        "{interactive}"
    );
    assert!(interactive.contains("42"), "{interactive}");

    sandbox.run(&["db", "down"]).assert_success();
    let down = sandbox.run(&["db", "status"]);
    assert_eq!(down.code, Some(1));
    assert!(down.stdout.contains("exited"), "{}", down.stdout);
}

#[test]
fn status_says_in_json_that_the_engine_is_unreachable_with_exit_2() {
    let sandbox = Sandbox::new();
    let host = "unix:///nonexistent/docker.sock";
    let output = sandbox
        .command(&["db", "status", "--json"])
        .env("DOCKER_HOST", host)
        .output()
        .unwrap();
    let run = common::Run::from(output);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let status: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", run.stdout));
    assert_eq!(status["engine"], "unreachable");
    assert_eq!(status["docker_host"], host);
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach the Docker daemon"),
        "{status}"
    );
    let human = sandbox
        .command(&["db", "status"])
        .env("DOCKER_HOST", host)
        .output()
        .unwrap();
    assert_eq!(human.status.code(), Some(2));
    // A reader that closed the pipe (`| head -c 10`): the same exit code, no panic.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let piped = sandbox
        .command(&["db", "status", "--json"])
        .env("DOCKER_HOST", host)
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert_eq!(piped.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn image_build_keeps_an_existing_image_without_force() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["image", "build", "--tag", &sandbox.image]);
    run.assert_success();
    assert!(run.stderr.contains("exists; keeping it"), "{}", run.stderr);
}
