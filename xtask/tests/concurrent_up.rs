//! Two `db up` at the same moment (two terminals) converge on one container, one volume and
//! one set of databases, and both succeed.

mod common;

use common::{Run, Sandbox, migration_count, query_one};

#[test]
fn two_db_up_started_at_the_same_moment_both_succeed_on_one_container() {
    let sandbox = Sandbox::new();
    let children: Vec<_> = (0..2)
        .map(|_| {
            sandbox
                .command(&["db", "up"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("cannot run the xtask binary")
        })
        .collect();
    let runs: Vec<Run> = children
        .into_iter()
        .map(|child| Run::from(child.wait_with_output().unwrap()))
        .collect();
    for run in &runs {
        run.assert_success();
    }
    let created = runs
        .iter()
        .filter(|run| run.stderr.contains("created container"))
        .count();
    assert_eq!(
        created, 1,
        "exactly one run creates the container:\n{}\n---\n{}",
        runs[0].stderr, runs[1].stderr
    );
    assert_eq!(sandbox.container_state().as_deref(), Some("running"));
    assert!(sandbox.volume_exists());
    let server = sandbox.database_url().replace("/nelo_it", "/postgres");
    let databases: i64 = query_one(
        &server,
        "SELECT count(*) FROM pg_database WHERE datname IN ('nelo_it', 'nelo_it_test')",
    );
    assert_eq!(databases, 2);
    for url in [sandbox.database_url(), sandbox.test_database_url()] {
        let vector: i64 = query_one(
            &url,
            "SELECT count(*) FROM pg_extension WHERE extname = 'vector'",
        );
        assert_eq!(vector, 1, "{url}");
        // Each migration applied once, not once per run.
        let rows: i64 = query_one(&url, "SELECT count(*) FROM _prisma_migrations");
        assert_eq!(rows, migration_count(), "{url}");
    }
    // And a third run finds everything done.
    let again = sandbox.run(&["db", "up"]);
    again.assert_success();
    assert!(again.stderr.contains("nothing to do"), "{}", again.stderr);
}
