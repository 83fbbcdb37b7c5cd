//! What `db up` says when it cannot do its job: every message names the cause and the fix,
//! and nothing half-made is left behind.

mod common;

use std::net::TcpListener;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptionsBuilder;
use common::{Sandbox, block_on, docker};

#[test]
fn a_taken_port_is_reported_with_the_fix_and_no_container_is_left() {
    let sandbox = Sandbox::new();
    let _listener = TcpListener::bind(("127.0.0.1", sandbox.port)).unwrap();
    let run = sandbox.run(&["db", "up"]);
    run.assert_failure_mentions(&format!(
        "port {} on 127.0.0.1 is taken by another process; stop it or change the port in \
         DATABASE_URL",
        sandbox.port
    ));
    assert_eq!(sandbox.container_state(), None);
}

#[test]
fn an_unreachable_docker_daemon_is_named() {
    let sandbox = Sandbox::new();
    for host in ["tcp://127.0.0.1:1", "unix:///nonexistent.sock"] {
        let output = sandbox
            .command(&["db", "up"])
            .env("DOCKER_HOST", host)
            .output()
            .unwrap();
        let run = common::Run::from(output);
        run.assert_failure_mentions(&format!("cannot reach the Docker daemon at {host}"));
    }
}

#[test]
fn a_server_that_exits_at_start_shows_its_log() {
    let sandbox = Sandbox::new();
    // No password on a fresh volume: the entrypoint refuses to initialise.
    let url = format!("postgresql://nelo@127.0.0.1:{}/nelo_it", sandbox.port);
    let test_url = format!("postgresql://nelo@127.0.0.1:{}/nelo_it_test", sandbox.port);
    let output = sandbox
        .command(&["db", "up"])
        .env("DATABASE_URL", url)
        .env("TEST_DATABASE_URL", test_url)
        .output()
        .unwrap();
    let run = common::Run::from(output);
    run.assert_failure_mentions("POSTGRES_PASSWORD is not set");
    assert!(run.stderr.contains("exited with code 1"), "{}", run.stderr);
    assert_eq!(
        sandbox.container_state(),
        None,
        "the failed container was left behind"
    );
}

#[test]
fn a_container_of_that_name_not_made_by_nelo_is_left_alone() {
    let sandbox = Sandbox::new();
    let (name, image) = (sandbox.container.clone(), sandbox.image.clone());
    block_on(move || async move {
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        let body = ContainerCreateBody {
            image: Some(image),
            ..Default::default()
        };
        docker()
            .create_container(Some(options), body)
            .await
            .unwrap();
    });
    let run = sandbox.run(&["db", "up"]);
    run.assert_failure_mentions("was not created by nelo");
    assert_eq!(sandbox.container_state().as_deref(), Some("created"));
    sandbox
        .run(&["db", "destroy", "--force"])
        .assert_failure_mentions("not created by nelo");
}

#[test]
fn a_changed_password_or_user_is_named_with_the_fixes_that_keep_the_data_first() {
    let sandbox = Sandbox::new();
    sandbox.run(&["db", "up", "--no-backup"]).assert_success();
    let with_credentials = |user: &str, password: &str| {
        let url = |database: &str| {
            format!(
                "postgresql://{user}:{password}@127.0.0.1:{}/{database}",
                sandbox.port
            )
        };
        let output = sandbox
            .command(&["db", "up"])
            .env("DATABASE_URL", url("nelo_it"))
            .env("TEST_DATABASE_URL", url("nelo_it_test"))
            .output()
            .unwrap();
        common::Run::from(output)
    };
    let assert_fixes_in_order = |run: &common::Run| {
        let keep = run.stderr.find("To keep the data").expect(&run.stderr);
        let destroy = run.stderr.find("db destroy --force").expect(&run.stderr);
        assert!(keep < destroy, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "deleting every database in volume `{}`",
                sandbox.volume
            )),
            "{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("the container keeps"),
            "{}",
            run.stderr
        );
        for secret in [common::PASSWORD, "n3w-s3cret"] {
            assert!(
                !run.stderr.contains(secret),
                "a password leaked:\n{}",
                run.stderr
            );
        }
    };

    let password = with_credentials("nelo", "n3w-s3cret");
    password.assert_failure_mentions("the password for user `nelo` in DATABASE_URL");
    assert!(
        password.stderr.contains("\\password"),
        "{}",
        password.stderr
    );
    assert_fixes_in_order(&password);

    let user = with_credentials("writer", common::PASSWORD);
    user.assert_failure_mentions("DATABASE_URL names user `writer`");
    assert!(
        user.stderr.contains("initialised with user `nelo`"),
        "{}",
        user.stderr
    );
    assert_fixes_in_order(&user);

    // The data is untouched, and the old values still work.
    sandbox.run(&["db", "up"]).assert_success();
}
