//! The data volume: nelo never removes one it did not create and uses one only when told to;
//! a volume of nelo's whose first start was interrupted (no data) is recognised and recreated.

mod common;

use common::{Sandbox, query_one};

const DATA: &str = "/var/lib/postgresql/data";

#[test]
fn a_volume_of_another_tool_is_neither_used_nor_removed() {
    let sandbox = Sandbox::new();
    sandbox.create_volume(&[("com.example.tool", "other")]);
    sandbox.run_in_volume(&format!("echo precious > {DATA}/keep.txt"));

    let up = sandbox.run(&["db", "up"]);
    up.assert_failure_mentions("was not created by nelo");
    assert!(up.stderr.contains("--adopt-volume"), "{}", up.stderr);
    assert!(
        up.stderr.contains("com.example.tool=other"),
        "what was found is not said: {}",
        up.stderr
    );
    assert_eq!(sandbox.container_state(), None);

    let destroy = sandbox.run(&["db", "destroy", "--force"]);
    destroy.assert_failure_mentions("never removes a volume it did not create");
    assert!(sandbox.volume_exists());
    assert_eq!(
        sandbox
            .run_in_volume(&format!("cat {DATA}/keep.txt"))
            .trim(),
        "precious"
    );
}

#[test]
fn an_unlabelled_volume_is_adopted_only_with_the_flag_and_never_removed() {
    let sandbox = Sandbox::new();
    sandbox.create_volume(&[]);
    sandbox
        .run(&["db", "up"])
        .assert_failure_mentions("--adopt-volume");
    assert_eq!(sandbox.container_state(), None);

    let adopted = sandbox.run(&["db", "up", "--adopt-volume"]);
    adopted.assert_success();
    assert!(
        adopted.stderr.contains("adopting volume") && adopted.stderr.contains("no labels"),
        "{}",
        adopted.stderr
    );
    let one: i32 = query_one(&sandbox.database_url(), "SELECT 1");
    assert_eq!(one, 1);

    let destroy = sandbox.run(&["db", "destroy", "--force"]);
    destroy.assert_failure_mentions("never removes a volume it did not create");
    assert!(sandbox.volume_exists());
    assert_eq!(sandbox.container_state().as_deref(), Some("running"));
}

/// The volume as a first start leaves it when it is killed: nelo's labels, and initdb's
/// work cut short by `state`.
fn interrupted_first_start(state: &str) -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.create_volume(&[("dev.nelo.managed", "true")]);
    sandbox.run_in_volume(state);
    sandbox
}

#[test]
fn a_first_start_killed_part_way_is_recognised_and_its_volume_recreated() {
    let states = [
        // initdb has made its folders and written PG_VERSION, its first file.
        format!(
            "mkdir -p {DATA}/base {DATA}/global {DATA}/pg_wal && echo 17 > {DATA}/PG_VERSION \
             && chown -R postgres:postgres {DATA}"
        ),
        // initdb has not written PG_VERSION yet.
        format!("mkdir -p {DATA}/base {DATA}/global && chown -R postgres:postgres {DATA}"),
        // initdb finished, but the entrypoint was killed before it completed its setup.
        format!(
            "chown postgres:postgres {DATA} && echo pw > /tmp/pw && chmod 644 /tmp/pw && \
             setpriv --reuid=postgres --regid=postgres --init-groups \
             initdb -D {DATA} --username=nelo --pwfile=/tmp/pw >/dev/null && echo done"
        ),
    ];
    for state in &states {
        let sandbox = interrupted_first_start(state);
        let up = sandbox.run(&["db", "up"]);
        up.assert_success();
        assert!(
            up.stderr.contains("interrupted") && up.stderr.contains("holds no data"),
            "{}",
            up.stderr
        );
        let one: i32 = query_one(&sandbox.database_url(), "SELECT 1");
        assert_eq!(one, 1);
        // The new initialisation is marked whole.
        let marker = sandbox.run_in_volume(&format!("cat {DATA}/.nelo-initialised"));
        assert_eq!(marker.trim(), "user=nelo");
    }
}

#[test]
fn a_volume_with_data_is_never_taken_for_an_interrupted_one() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    common::execute(
        &sandbox.database_url(),
        "CREATE TABLE it_kept (v int); INSERT INTO it_kept VALUES (7)",
    );
    sandbox.run(&["db", "down"]).assert_success();
    // As a volume initialised before the marker existed.
    sandbox.run_in_volume(&format!("rm {DATA}/.nelo-initialised"));
    sandbox.run(&["db", "up"]).assert_success();
    let kept: i32 = query_one(&sandbox.database_url(), "SELECT v FROM it_kept");
    assert_eq!(kept, 7);
}

#[test]
fn a_first_start_killed_by_docker_is_recovered_by_the_next_up() {
    let sandbox = Sandbox::new();
    let mut first = sandbox
        .command(&["db", "up", "--no-backup"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while sandbox.container_state().as_deref() != Some("running") {
        assert!(
            first.try_wait().unwrap().is_none(),
            "db up ended before its container ran"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the container never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let name = sandbox.container.clone();
    common::block_on(move || async move {
        let _ = common::docker()
            .kill_container(
                &name,
                None::<bollard::query_parameters::KillContainerOptions>,
            )
            .await;
    });
    first.wait().unwrap();

    let second = sandbox.run(&["db", "up", "--no-backup"]);
    second.assert_success();
    let one: i32 = query_one(&sandbox.database_url(), "SELECT 1");
    assert_eq!(one, 1);
}
