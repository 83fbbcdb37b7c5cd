//! The template database of a migrations folder: built once per version of the folder, under
//! a server-wide advisory lock, then cloned by every test.

use std::path::{Path, PathBuf};

use nelo_migrate::postgres;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};

use super::{Error, Server, at, names, server};

/// Bump when the way templates are built changes, so old templates are not reused.
const TEMPLATE_FORMAT: &str = "nelo-db template v1";

/// A migrations folder, read: where it is and the key of its template.
#[derive(Debug, Clone)]
pub struct MigrationsFolder {
    pub path: PathBuf,
    /// The first 16 hex digits of a SHA-256 over every migration's name and checksum.
    pub key: String,
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
        let migrations = migrations
            .iter()
            .map(|migration| (migration.name.as_str(), migration.checksum.as_str()));
        let key = template_key(migrations);
        Ok(MigrationsFolder { path, key })
    }
}

/// The key of the migrations `(name, checksum)`, in the folder's order.
pub fn template_key<'a>(migrations: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(TEMPLATE_FORMAT);
    for (name, checksum) in migrations {
        hasher.update(format!("\n{name}\0{checksum}"));
    }
    hex::encode(&hasher.finalize()[..8])
}

/// The name of the template of `folder`, built and deployed if it does not exist yet.
/// Once built, templates this host made from an older version of the same folder, or from a
/// folder that is gone, are dropped. Runs on the admin runtime.
pub async fn ensure_template(server: &Server, folder: &MigrationsFolder) -> Result<String, Error> {
    let name = names::template_name(&folder.key);
    let mut admin = server.admin().await?;
    let exists = server::database_is_template(&mut admin, &name)
        .await
        .map_err(at("look up the template"))?
        == Some(true);
    // Back to the pool before a possibly long wait for the lock: others need it to drop.
    drop(admin);
    if exists {
        return Ok(name);
    }
    // A connection of its own for the session-level lock: should anything fail before the
    // unlock, closing it releases the lock (a pooled one would keep it).
    let mut locked = server.connect_admin().await?;
    server::lock_templates(&mut locked)
        .await
        .map_err(at("take the template lock"))?;
    // Another process may have built it while this one waited.
    if server::database_is_template(&mut locked, &name)
        .await
        .map_err(at("look up the template"))?
        != Some(true)
    {
        build_template(server, &mut locked, folder, &name).await?;
    }
    server::unlock_templates(&mut locked)
        .await
        .map_err(at("release the template lock"))?;
    locked.close().await.ok();
    Ok(name)
}

/// Deploys `dir` into `database_url` on a blocking thread with a runtime of its own.
///
/// `Migrator::deploy`'s future is not `Send` (its event callback is not), and the admin
/// runtime only runs `Send` work.
async fn deploy(
    dir: &Path,
    database_url: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let migrator = nelo_migrate::Migrator::new(dir);
    let database_url = database_url.to_string();
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(migrator.deploy(&database_url, |_event| {}))?;
        Ok(())
    })
    .await?
}

/// Runs under the template lock.
async fn build_template(
    server: &Server,
    admin: &mut PgConnection,
    folder: &MigrationsFolder,
    name: &str,
) -> Result<(), Error> {
    // A database of that name that is not a template is what a crashed build left.
    postgres::drop_database(admin, name)
        .await
        .map_err(at("drop an unfinished template"))?;
    postgres::create_database(admin, name, None)
        .await
        .map_err(at("create the template database"))?;
    if let Err(source) = deploy(&folder.path, &server.database_url(name)).await {
        postgres::drop_database(admin, name).await.ok();
        return Err(Error::Deploy {
            path: folder.path.clone(),
            source,
        });
    }
    let folder_text = folder.path.to_string_lossy();
    let comment = names::template_comment(server.host_tag(), &folder_text);
    server::make_template(admin, name, &comment)
        .await
        .map_err(at("mark the template"))?;

    let templates = server::templates_with_prefix(admin, names::TEMPLATE_PREFIX)
        .await
        .map_err(at("list the templates"))?;
    for (template, comment) in templates {
        let superseded = comment.is_some_and(|comment| {
            names::is_superseded_template(&comment, server.host_tag(), &folder_text, |folder| {
                Path::new(folder).is_dir()
            })
        });
        if template != name && superseded {
            postgres::drop_template(admin, &template)
                .await
                .map_err(at("drop a superseded template"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_changes_with_any_name_or_checksum_and_with_order() {
        let base = template_key([
            ("20250817000000_baseline", "aa"),
            ("20250901000000_tags", "bb"),
        ]);
        assert_eq!(base.len(), 16);
        assert_eq!(
            base,
            template_key([
                ("20250817000000_baseline", "aa"),
                ("20250901000000_tags", "bb")
            ])
        );
        assert_ne!(
            base,
            template_key([
                ("20250817000000_baseline", "aa"),
                ("20250901000000_tags", "bc")
            ])
        );
        assert_ne!(
            base,
            template_key([
                ("20250817000000_baseline", "aa"),
                ("20250901000000_tag", "bb")
            ])
        );
        assert_ne!(base, template_key([("20250817000000_baseline", "aa")]));
        // The separators keep a name from absorbing the next checksum.
        assert_ne!(template_key([("a", "bc")]), template_key([("ab", "c")]));
    }

    #[test]
    fn reading_a_folder_keys_it_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, sql: &str| {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join("migration.sql"), sql).unwrap();
        };
        write("20250817000000_baseline", "CREATE TABLE a (id int);");
        let first = MigrationsFolder::read(dir.path()).unwrap();
        assert_eq!(first.key, MigrationsFolder::read(dir.path()).unwrap().key);
        write("20250817000000_baseline", "CREATE TABLE a (id bigint);");
        let edited = MigrationsFolder::read(dir.path()).unwrap();
        assert_ne!(first.key, edited.key);
        write("20250901000000_more", "CREATE TABLE b (id int);");
        assert_ne!(edited.key, MigrationsFolder::read(dir.path()).unwrap().key);
    }
}
