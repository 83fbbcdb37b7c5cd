//! The template database of a migrations folder: [`nelo_migrate::template`] builds it once
//! per version of the folder (under its server-wide lock) and every test clones it.

use std::path::{Path, PathBuf};

use nelo_migrate::lint::LintMode;
use nelo_migrate::template::{self, Slot, TemplateRequest};
use nelo_migrate::{Migration, postgres};

use super::{Error, Server};

/// A migrations folder, read: where it is and what it holds.
#[derive(Debug, Clone)]
pub struct MigrationsFolder {
    /// Canonical.
    pub path: PathBuf,
    pub migrations: Vec<Migration>,
}

impl MigrationsFolder {
    pub fn read(dir: &Path) -> Result<MigrationsFolder, Error> {
        let path = dir.canonicalize().map_err(|source| Error::Folder {
            path: dir.to_path_buf(),
            source: Box::new(source),
        })?;
        let migrations = nelo_migrate::load(&path).map_err(|source| Error::Folder {
            path: path.clone(),
            source: Box::new(source),
        })?;
        Ok(MigrationsFolder { path, migrations })
    }

    /// Every migration, deployed into `public`, as test databases have them.
    fn request(&self) -> TemplateRequest<'_> {
        TemplateRequest {
            folder: &self.path,
            migrations: &self.migrations,
            schema: "public",
            slot: Slot::Full,
            lint: LintMode::Warn,
        }
    }

    /// `nelo_tpl_<key>`, whether it exists yet or not.
    pub fn template_name(&self) -> String {
        self.request().name()
    }
}

/// The name of the template of `folder`, built and deployed if it does not exist yet (which
/// drops the templates it supersedes). Runs on the admin runtime.
pub async fn ensure_template(server: &Server, folder: &MigrationsFolder) -> Result<String, Error> {
    let name = folder.template_name();
    let mut admin = server.admin().await?;
    let exists = template::template_exists(&mut admin, &name)
        .await
        .map_err(|source| Error::Template { source })?;
    // Back to the pool before a possibly long wait for the lock: others need it to drop.
    drop(admin);
    if exists {
        return Ok(name);
    }
    let built =
        template::ensure_template(&server.url, postgres::CONNECT_TIMEOUT, &folder.request())
            .await
            .map_err(|error| match error {
                nelo_migrate::Error::TemplateDeploy { folder, source, .. } => Error::Deploy {
                    path: folder,
                    source,
                },
                source => Error::Template { source },
            })?;
    Ok(built.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_a_folder_keys_it_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, sql: &str| {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join("migration.sql"), sql).unwrap();
        };
        let name = || MigrationsFolder::read(dir.path()).unwrap().template_name();
        write("20250817000000_baseline", "CREATE TABLE a (id int);");
        let first = name();
        assert!(first.starts_with(template::TEMPLATE_PREFIX), "{first}");
        assert_eq!(first, name());
        write("20250817000000_baseline", "CREATE TABLE a (id bigint);");
        let edited = name();
        assert_ne!(first, edited);
        write("20250901000000_more", "CREATE TABLE b (id int);");
        assert_ne!(edited, name());
    }
}
