//! Each side of a diff in a database: a shadow built from the source (or the live database),
//! read with the introspector.

use std::time::Duration;

use sqlx::Connection;

use super::model::SchemaModel;
use super::schema_file::{apply_schema, schema_files};
use super::{DiffError, Source, catalog};
use crate::folder::Migration;
use crate::lint::LintMode;
use crate::shadow::{Shadow, ShadowServer};
use crate::{DatabaseUrl, Error, Migrator, connect};

pub(super) struct Context {
    pub server: ShadowServer,
    pub search_path: String,
    /// The one schema compared, when a live side's URL names one (`?schema=`).
    pub scope: Option<String>,
    pub connect_timeout: Duration,
}

impl Context {
    /// The model of `source`.
    pub(super) async fn model(
        &self,
        source: &Source,
        side: &'static str,
    ) -> Result<SchemaModel, Error> {
        if let Source::Url(url) = source {
            return self.introspect(url).await;
        }
        let shadow = self.server.create(side).await?;
        let outcome = self.build_and_read(&shadow, source, side).await;
        let removed = shadow.remove().await;
        let model = outcome?;
        removed?;
        Ok(model)
    }

    async fn build_and_read(
        &self,
        shadow: &Shadow,
        source: &Source,
        side: &'static str,
    ) -> Result<SchemaModel, Error> {
        self.materialise(shadow, source)
            .await
            .map_err(|error| DiffError::Materialise {
                side,
                source_text: source.to_string(),
                source: Box::new(error),
            })?;
        self.introspect(&shadow.url).await
    }

    /// The model of what `migrations` build, deployed in order into a new shadow database
    /// (not linted: they are applied migrations being replayed).
    pub(super) async fn replay(&self, migrations: &[Migration]) -> Result<SchemaModel, Error> {
        let shadow = self.server.create("drift").await?;
        let outcome = async {
            Migrator::new(".")
                .connect_timeout(self.connect_timeout)
                .lint(LintMode::Off)
                .deploy_loaded(&self.shadow_url(&shadow)?, migrations, |_| {})
                .await?;
            self.introspect(&shadow.url).await
        }
        .await;
        let removed = shadow.remove().await;
        let model = outcome?;
        removed?;
        Ok(model)
    }

    pub(super) async fn introspect(&self, url: &str) -> Result<SchemaModel, Error> {
        let mut conn = connect::connect(url, self.connect_timeout).await?;
        let model = catalog::introspect(&mut conn, &self.search_path).await;
        let _ = conn.close().await;
        let mut model = model?;
        if let Some(schema) = &self.scope {
            model.retain_schema(schema);
        }
        Ok(model)
    }

    /// Puts `source` into the empty database `shadow`.
    pub(super) async fn materialise(&self, shadow: &Shadow, source: &Source) -> Result<(), Error> {
        match source {
            Source::Empty | Source::Url(_) => Ok(()),
            Source::Migrations(dir) => Migrator::new(dir)
                .connect_timeout(self.connect_timeout)
                .deploy(&self.shadow_url(shadow)?, |_| {})
                .await
                .map(drop),
            Source::Schema(path) => {
                let files = schema_files(path)?;
                let mut conn = connect::connect(&shadow.url, self.connect_timeout).await?;
                let outcome = apply_schema(&mut conn, &files).await;
                let _ = conn.close().await;
                outcome
            }
        }
    }

    /// The shadow's URL with the target schema as `?schema=` (deploy creates it).
    fn shadow_url(&self, shadow: &Shadow) -> Result<String, Error> {
        DatabaseUrl::parse(&shadow.url)?;
        let mut url = url::Url::parse(&shadow.url).expect("a DatabaseUrl is a URL");
        if self.search_path != "public" && connect::url_schema(&shadow.url).is_none() {
            url.query_pairs_mut()
                .append_pair("schema", &self.search_path);
        }
        Ok(url.to_string())
    }
}
