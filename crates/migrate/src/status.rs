//! `status`: read the folder while one query reads the history, then classify.

use sqlx::Connection;

use crate::database_url::url_schema;
use crate::folder::{self, Migration};
use crate::plan::{self, StatusReport};
use crate::store::{self, HistoryTable};
use crate::{Error, Migrator};

impl Migrator {
    /// The state of every migration in the folder and in the history table. Takes no lock.
    pub async fn status(&self, database_url: &str) -> Result<StatusReport, Error> {
        Ok(self.status_and_folder(database_url).await?.0)
    }

    /// [`Migrator::status`], with the migrations it read from the folder (for a caller that
    /// needs them too, instead of reading the folder again).
    pub(crate) async fn status_and_folder(
        &self,
        database_url: &str,
    ) -> Result<(StatusReport, Vec<Migration>), Error> {
        let dir = self.migrations_dir().to_path_buf();
        let local = tokio::task::spawn_blocking(move || folder::load(&dir));
        let rows = async {
            let mut conn = self.connect(database_url).await?;
            // In the URL's schema, `public` without one (as Prisma, and as the session's
            // pinned search_path): a database whose own search_path leaves it out changes
            // nothing.
            let schema = url_schema(database_url).unwrap_or_else(|| "public".to_string());
            let table = HistoryTable::in_schema(&schema);
            let rows = store::read_rows_if_table_exists(&mut conn, &table).await;
            let _ = conn.close().await;
            rows
        };
        let (local, rows) = tokio::join!(local, rows);
        let local = local.expect("reading the migrations folder panicked")?;
        let report = plan::classify(&local, &rows?.unwrap_or_default());
        Ok((report, local))
    }
}
