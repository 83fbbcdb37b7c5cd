//! What the benchmarks share: the server they run on and scratch databases on it.

use anyhow::Context as _;
use sqlx::PgConnection;

use crate::config::DatabaseUrl;
use nelo_migrate::postgres;

/// `--server-url`, `NELO_BENCH_SERVER_URL`, then `NELO_TEST_SERVER_URL`.
pub fn server_url(flag: Option<&str>) -> anyhow::Result<DatabaseUrl> {
    let fallback = std::env::var("NELO_TEST_SERVER_URL").ok();
    let text = flag.or(fallback.as_deref()).context(
        "no server to benchmark on: set NELO_BENCH_SERVER_URL (or NELO_TEST_SERVER_URL, or pass \
         --server-url) to a superuser URL of a server's `postgres` database",
    )?;
    Ok(DatabaseUrl::parse(text)?)
}

/// A new database on `server` with a unique name: its name and URL.
pub async fn create_scratch(
    admin: &mut PgConnection,
    server: &DatabaseUrl,
) -> anyhow::Result<(String, DatabaseUrl)> {
    let name = format!("nelo_bench_{}", uuid::Uuid::new_v4().simple());
    postgres::create_database(admin, &name, None)
        .await
        .with_context(|| format!("cannot create scratch database `{name}`"))?;
    let url = server.with_database(&name);
    Ok((name, url))
}

/// Drops a database made by [`create_scratch`], closing its sessions.
pub async fn drop_scratch(admin: &mut PgConnection, name: &str) -> anyhow::Result<()> {
    postgres::drop_database(admin, name)
        .await
        .with_context(|| format!("cannot drop scratch database `{name}`"))?;
    Ok(())
}
