//! The image's entrypoint, started the way users start the official image: arguments that
//! begin with `-` are the server's.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{CreateContainerOptionsBuilder, StartContainerOptions};
use common::{PASSWORD, Sandbox};

#[test]
fn flags_alone_start_the_server_with_them() {
    let sandbox = Sandbox::new();
    let (name, image, port) = (
        sandbox.container.clone(),
        sandbox.image.clone(),
        sandbox.port,
    );
    common::block_on(move || async move {
        let docker = common::docker();
        let body = ContainerCreateBody {
            image: Some(image),
            env: Some(vec![format!("POSTGRES_PASSWORD={PASSWORD}")]),
            cmd: Some(
                ["-c", "fsync=off", "-c", "work_mem=7MB"]
                    .map(String::from)
                    .to_vec(),
            ),
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([(
                    "5432/tcp".to_string(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".to_string()),
                        host_port: Some(port.to_string()),
                    }]),
                )])),
                tmpfs: Some(HashMap::from([(
                    "/var/lib/postgresql/data".to_string(),
                    String::new(),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        docker.create_container(Some(options), body).await.unwrap();
        docker
            .start_container(&name, None::<StartContainerOptions>)
            .await
            .unwrap();
    });

    let url = format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres");
    let deadline = Instant::now() + Duration::from_secs(60);
    let settings: (String, String) = common::block_on(move || async move {
        use sqlx::Connection;
        loop {
            match sqlx::PgConnection::connect(&url).await {
                Ok(mut conn) => {
                    return sqlx::query_as(
                        "SELECT current_setting('fsync'), current_setting('work_mem')",
                    )
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                }
                Err(error) if Instant::now() > deadline => {
                    panic!("the server never accepted connections: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    assert_eq!(settings, ("off".to_string(), "7MB".to_string()));
}
