//! Each side of a diff in a database: a shadow built from the source (or the live database),
//! read with the introspector.

use std::path::Path;
use std::time::Duration;

use sqlx::Connection;

use super::model::SchemaModel;
use super::schema_file::{apply_schema, schema_files};
use super::{DiffError, Source, catalog};
use crate::folder::{self, Migration};
use crate::lint::LintMode;
use crate::shadow::{Shadow, ShadowServer};
use crate::store::ensure_schema;
use crate::template::{Slot, TemplateRequest, canonical_folder};
use crate::{DatabaseUrl, Error, postgres};

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
        let shadow = self.shadow_holding(source, side, side).await?;
        let model = self.introspect(&shadow.url).await;
        let removed = shadow.remove().await;
        let model = model?;
        removed?;
        Ok(model)
    }

    /// A new shadow for `purpose` holding `source` (a live database's is empty): a clone of
    /// the template of a migrations folder, else a new database the source is applied to.
    /// Failures to build the source are [`DiffError::Materialise`] of `side`.
    pub(super) async fn shadow_holding(
        &self,
        source: &Source,
        purpose: &'static str,
        side: &'static str,
    ) -> Result<Shadow, Error> {
        let materialise_error = |error: Error| -> Error {
            DiffError::Materialise {
                side,
                source_text: source.to_string(),
                source: Box::new(error),
            }
            .into()
        };
        if let Source::Migrations(dir) = source {
            let loaded = canonical_folder(dir).and_then(|folder| {
                let migrations = folder::load(&folder)?;
                Ok((folder, migrations))
            });
            let (folder, migrations) = loaded.map_err(materialise_error)?;
            let request = self.template_request(&folder, &migrations, Slot::Full, LintMode::Warn);
            return self
                .server
                .create_from_template(purpose, &request)
                .await
                .map_err(|error| match error {
                    Error::TemplateDeploy { source, .. } => materialise_error(*source),
                    other => other,
                });
        }
        let shadow = self.server.create(purpose).await?;
        self.materialise(&shadow, source)
            .await
            .map_err(materialise_error)?;
        Ok(shadow)
    }

    /// The model of what `migrations` (read from `folder`) build, deployed in order into a
    /// new shadow database: a clone of their template (not linted: they are applied
    /// migrations being replayed).
    pub(super) async fn replay(
        &self,
        folder: &Path,
        migrations: &[Migration],
        slot: Slot,
    ) -> Result<SchemaModel, Error> {
        let request = self.template_request(folder, migrations, slot, LintMode::Off);
        let shadow = self
            .server
            .create_from_template("drift", &request)
            .await
            .map_err(|error| match error {
                Error::TemplateDeploy { source, .. } => *source,
                other => other,
            })?;
        let model = self.introspect(&shadow.url).await;
        let removed = shadow.remove().await;
        let model = model?;
        removed?;
        Ok(model)
    }

    /// The template of `migrations` deployed into the target schema.
    pub(super) fn template_request<'a>(
        &'a self,
        folder: &'a Path,
        migrations: &'a [Migration],
        slot: Slot,
        lint: LintMode,
    ) -> TemplateRequest<'a> {
        TemplateRequest {
            folder,
            migrations,
            schema: &self.search_path,
            slot,
            lint,
        }
    }

    pub(super) async fn introspect(&self, url: &str) -> Result<SchemaModel, Error> {
        let mut conn = postgres::connect(&DatabaseUrl::parse(url)?, self.connect_timeout).await?;
        let model = catalog::introspect(&mut conn, &self.search_path).await;
        let _ = conn.close().await;
        let mut model = model?;
        if let Some(schema) = &self.scope {
            model.retain_schema(schema);
        }
        Ok(model)
    }

    /// Puts `source` into the empty database `shadow` (a migrations folder goes through its
    /// template instead, see [`Context::shadow_holding`]).
    async fn materialise(&self, shadow: &Shadow, source: &Source) -> Result<(), Error> {
        match source {
            Source::Empty | Source::Url(_) | Source::Migrations(_) => Ok(()),
            Source::Schema(path) => {
                let files = schema_files(path)?;
                let mut conn =
                    postgres::connect(&DatabaseUrl::parse(&shadow.url)?, self.connect_timeout)
                        .await?;
                // As deploy does for the migrations, the URL's schema exists before the
                // file runs: the file's unqualified names go there.
                let outcome = match ensure_schema(&mut conn, &self.search_path).await {
                    Ok(()) => apply_schema(&mut conn, &files).await,
                    Err(error) => Err(error),
                };
                let _ = conn.close().await;
                outcome
            }
        }
    }
}
