//! Dropping what killed runs left behind: the decision is [`names::is_leftover`].

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use nelo_migrate::postgres;
use sqlx::PgConnection;

use super::{Error, Server, admin, at, names, now_unix_secs, server};

/// Drops the test databases that runs on this host left behind when they were killed, and
/// those of any host older than [`names::LEFTOVER_AGE`]. Returns their names.
pub async fn sweep_leftovers(server_url: &str) -> Result<Vec<String>, Error> {
    let server = Server::parse(server_url)?;
    admin::run(async move {
        let mut admin = server.admin().await?;
        sweep(&server, &mut admin).await
    })
    .await
}

/// The first test database of a process sweeps leftovers; later ones skip it.
pub async fn sweep_once(server: &Server) -> Result<(), Error> {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if !SWEPT.swap(true, Ordering::Relaxed) {
        let mut admin = server.admin().await?;
        sweep(server, &mut admin).await?;
    }
    Ok(())
}

async fn sweep(server: &Server, admin: &mut PgConnection) -> Result<Vec<String>, Error> {
    let databases = server::databases_with_prefix(admin, names::TEST_DATABASE_PREFIX)
        .await
        .map_err(at("list the test databases"))?;
    let now = now_unix_secs();
    let mut swept = Vec::new();
    for name in databases {
        if names::is_leftover(&name, now, server.host_tag(), process_alive) {
            postgres::drop_database(admin, &name)
                .await
                .map_err(at("drop a leftover test database"))?;
            swept.push(name);
        }
    }
    Ok(swept)
}

fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}
