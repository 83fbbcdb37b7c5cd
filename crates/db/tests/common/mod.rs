//! What the integration tests share: the server, and a guard for databases made by hand.

use sqlx::{Connection, PgConnection};

pub fn server_url() -> String {
    std::env::var(nelo_db::testing::SERVER_URL_VAR)
        .expect("NELO_TEST_SERVER_URL is not set; run the tests with `cargo xtask test`")
}

pub async fn admin() -> PgConnection {
    PgConnection::connect(&server_url())
        .await
        .expect("connect to the test server")
}

/// Drops the databases (templates too) a test made by hand, even when the test fails.
pub struct DropOnExit(pub Vec<String>);

impl Drop for DropOnExit {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.0);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = admin().await;
                for name in names {
                    nelo_migrate::postgres::drop_template(&mut admin, &name)
                        .await
                        .unwrap();
                }
            });
        })
        .join()
        .unwrap();
    }
}
