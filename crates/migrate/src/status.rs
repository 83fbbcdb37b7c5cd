//! `status`: one query, then the pure classification.

use sqlx::Connection;

use crate::plan::{self, StatusReport};
use crate::{Error, Migrator, folder, store};

impl Migrator {
    /// The state of every migration in the folder and in the history table. Takes no lock.
    pub async fn status(&self, database_url: &str) -> Result<StatusReport, Error> {
        let local = folder::load(self.migrations_dir())?;
        let mut conn = self.connect(database_url).await?;
        let rows = store::read_rows_if_table_exists(&mut conn).await;
        let _ = conn.close().await;
        Ok(plan::classify(&local, &rows?))
    }
}
