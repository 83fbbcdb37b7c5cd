//! Template databases: what deploying a list of migrations builds, kept on the server as a
//! template so that the next database needing it is a `CREATE DATABASE ... TEMPLATE` clone
//! (tens of milliseconds) instead of a replay (seconds at a few hundred migrations).
//! `diff`'s shadows of a migrations folder, drift's replay and `nelo_db`'s test databases
//! use them.
//!
//! ```no_run
//! # async fn example() -> Result<(), nelo_migrate::Error> {
//! use nelo_migrate::template::{self, Slot, TemplateRequest};
//! use nelo_migrate::{DatabaseUrl, lint::LintMode, postgres};
//! let server = DatabaseUrl::parse("postgresql://postgres:pw@localhost:5432/postgres")?;
//! let folder = std::path::Path::new("migrations").canonicalize().unwrap();
//! let migrations = nelo_migrate::load(&folder)?;
//! let request = TemplateRequest {
//!     folder: &folder,
//!     migrations: &migrations,
//!     schema: "public",
//!     slot: Slot::Full,
//!     lint: LintMode::Warn,
//! };
//! let template = template::ensure_template(&server, postgres::CONNECT_TIMEOUT, &request).await?;
//! println!("clone `{}`", template.name);
//! # Ok(()) }
//! ```
//!
//! Rules:
//! - **Key.** A template is `nelo_tpl_<key>`, the key a hash of the format version, the
//!   target schema and every migration's name and checksum in order ([`template_key`]), so a
//!   template is never reused for anything that would build something else.
//! - **Finished means `datistemplate`.** A template is built under its final name as an
//!   ordinary database and made a template (`IS_TEMPLATE true`, no connections) as the last
//!   step. A crashed build leaves an ordinary database, which is never cloned: the next
//!   build of that key drops it, and every build sweeps such leftovers.
//! - **One builder.** Builds and sweeps run under a server-wide session-level advisory lock
//!   ([`TEMPLATE_LOCK_KEY`]); a waiter looks again once it holds the lock, so concurrent
//!   requests for one key build it once.
//! - **Incremental.** A build starts from the longest finished template whose migrations are
//!   a prefix of the requested ones (whichever folder it came from: the key says what it
//!   holds) and deploys only the rest. Should that fail (the base was built by a role whose
//!   objects this one cannot alter), it builds from an empty database instead.
//! - **Sweeping.** After a build, the templates this host built for the same folder and
//!   [`Slot`], and those of folders that no longer exist, are dropped
//!   ([`is_superseded_template`]); only databases the current role owns are touched.

mod naming;
mod store;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::lint::LintMode;
use crate::shadow::known_host_tag;
use crate::{DatabaseUrl, Error, Migration, Migrator, postgres};
pub use naming::{
    Slot, TEMPLATE_FORMAT, TEMPLATE_PREFIX, is_superseded_template, prefix_keys, template_comment,
    template_key, template_name,
};
pub use store::TEMPLATE_LOCK_KEY;

/// What a template is built from.
#[derive(Debug, Clone, Copy)]
pub struct TemplateRequest<'a> {
    /// The folder the migrations were read from, canonical: recorded in the template's
    /// comment, and what a newer template of the same folder supersedes it by.
    pub folder: &'a Path,
    /// The migrations deployed, in order.
    pub migrations: &'a [Migration],
    /// The schema they are deployed into (the URL's `?schema=`; `public` without one).
    pub schema: &'a str,
    pub slot: Slot,
    /// The lint before the deploy of a build (the result does not depend on it).
    pub lint: LintMode,
}

impl TemplateRequest<'_> {
    /// The key of the template ([`template_key`]).
    pub fn key(&self) -> String {
        template_key(self.schema, self.pairs())
    }

    /// `nelo_tpl_<key>`.
    pub fn name(&self) -> String {
        template_name(&self.key())
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.migrations
            .iter()
            .map(|migration| (migration.name.as_str(), migration.checksum.as_str()))
    }
}

/// How [`ensure_template`] got the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Built {
    /// It was there already.
    Existing,
    /// Deployed into an empty database.
    FromEmpty,
    /// Cloned from the template `base`, which held the first `reused` migrations, and the
    /// rest deployed.
    FromPrefix { base: String, reused: usize },
}

/// A finished template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// `nelo_tpl_<key>`.
    pub name: String,
    pub built: Built,
}

/// The template of every migration of `dir` deployed into `server`'s schema (its
/// `?schema=`, else `public`): what `diff --from-migrations DIR` and a drift check of a fully
/// migrated database clone. `cargo xtask db up` builds it as the server's superuser, so that
/// a role that cannot install `vector` (not a trusted extension) still gets shadows.
///
/// # Errors
/// As [`ensure_template`]; [`Error::FolderMissing`] and the folder's errors when `dir`
/// cannot be read.
pub async fn ensure_folder_template(
    server: &DatabaseUrl,
    connect_timeout: Duration,
    dir: &Path,
) -> Result<Template, Error> {
    let folder = canonical_folder(dir)?;
    let migrations = crate::load(&folder)?;
    let request = TemplateRequest {
        folder: &folder,
        migrations: &migrations,
        schema: server.schema().unwrap_or("public"),
        slot: Slot::Full,
        lint: LintMode::Off,
    };
    ensure_template(server, connect_timeout, &request).await
}

/// Whether the finished template `name` exists (an unfinished build does not count).
///
/// # Errors
/// [`Error::Database`] when the look-up fails.
pub async fn template_exists(conn: &mut PgConnection, name: &str) -> Result<bool, Error> {
    store::database_is_template(conn, name)
        .await
        .map(|is_template| is_template == Some(true))
        .map_err(at("looking up a template database"))
}

/// The template of `request` on the server of `server` (a URL of any database there; the
/// role needs CREATEDB), built if it does not exist yet. Opens connections of its own: the
/// lock is released with the session, whatever happens.
///
/// # Errors
/// [`Error::TemplateDeploy`] when the migrations cannot be deployed (nothing is left
/// behind); connection errors; [`Error::Database`] for the statements about databases (a
/// role without CREATEDB gets SQLSTATE `42501` there).
pub async fn ensure_template(
    server: &DatabaseUrl,
    connect_timeout: Duration,
    request: &TemplateRequest<'_>,
) -> Result<Template, Error> {
    let name = request.name();
    let mut conn = postgres::connect(server, connect_timeout).await?;
    let outcome = ensure_on(&mut conn, server, connect_timeout, request, &name).await;
    let _ = conn.close().await;
    outcome
}

async fn ensure_on(
    conn: &mut PgConnection,
    server: &DatabaseUrl,
    connect_timeout: Duration,
    request: &TemplateRequest<'_>,
    name: &str,
) -> Result<Template, Error> {
    let existing = Template {
        name: name.to_string(),
        built: Built::Existing,
    };
    if template_exists(conn, name).await? {
        return Ok(existing);
    }
    store::lock_templates(conn)
        .await
        .map_err(at("taking the template lock"))?;
    let outcome = async {
        // Another process may have built it while this one waited.
        if template_exists(conn, name).await? {
            return Ok::<_, Error>(existing);
        }
        let built = build(conn, server, connect_timeout, request, name).await?;
        sweep(conn, request, name).await?;
        Ok(Template {
            name: name.to_string(),
            built,
        })
    }
    .await;
    let unlocked = store::unlock_templates(conn)
        .await
        .map_err(at("releasing the template lock"));
    let template = outcome?;
    unlocked?;
    Ok(template)
}

/// Runs under the template lock.
async fn build(
    conn: &mut PgConnection,
    server: &DatabaseUrl,
    connect_timeout: Duration,
    request: &TemplateRequest<'_>,
    name: &str,
) -> Result<Built, Error> {
    // A database of that name that is not a template is what a crashed build left.
    postgres::drop_database(conn, name)
        .await
        .map_err(at("dropping an unfinished template database"))?;
    let url = deploy_url(server, name, request.schema)?;
    let mut built = Built::FromEmpty;
    if let Some((base, reused)) = longest_prefix_template(conn, request).await? {
        create(conn, name, Some(&base)).await?;
        if deploy(&url, request, connect_timeout).await.is_ok() {
            built = Built::FromPrefix { base, reused };
        } else {
            drop_database(conn, name).await?;
        }
    }
    if built == Built::FromEmpty {
        create(conn, name, None).await?;
        if let Err(source) = deploy(&url, request, connect_timeout).await {
            drop_database(conn, name).await.ok();
            return Err(Error::TemplateDeploy {
                template: name.to_string(),
                folder: request.folder.to_path_buf(),
                source: Box::new(source),
            });
        }
    }
    let folder_text = request.folder.to_string_lossy();
    let comment = template_comment(known_host_tag().as_deref(), &folder_text, request.slot);
    store::make_template(conn, name, &comment)
        .await
        .map_err(at("making a database a template"))?;
    Ok(built)
}

/// The finished template holding the most of `request`'s first migrations (not all, not
/// none), with how many it holds.
async fn longest_prefix_template(
    conn: &mut PgConnection,
    request: &TemplateRequest<'_>,
) -> Result<Option<(String, usize)>, Error> {
    let keys = prefix_keys(request.schema, request.pairs());
    let count = request.migrations.len();
    if count < 2 {
        return Ok(None);
    }
    let names: Vec<String> = keys[1..count]
        .iter()
        .map(|key| template_name(key))
        .collect();
    let existing = store::existing_templates(conn, &names)
        .await
        .map_err(at("looking up template databases"))?;
    Ok((1..count)
        .rev()
        .map(|reused| (names[reused - 1].clone(), reused))
        .find(|(name, _)| existing.contains(name)))
}

/// Drops what the build of `name` makes obsolete; runs under the template lock, so an
/// ordinary database with the template prefix is a crashed build's.
async fn sweep(
    conn: &mut PgConnection,
    request: &TemplateRequest<'_>,
    name: &str,
) -> Result<(), Error> {
    let candidates = store::owned_with_prefix(conn, TEMPLATE_PREFIX)
        .await
        .map_err(at("listing template databases"))?;
    let host = known_host_tag();
    let folder_text = request.folder.to_string_lossy();
    for candidate in candidates.into_iter().filter(|c| c.name != name) {
        let superseded = candidate.comment.as_deref().is_some_and(|comment| {
            is_superseded_template(
                comment,
                host.as_deref(),
                &folder_text,
                request.slot,
                |folder| Path::new(folder).is_dir(),
            )
        });
        if !candidate.is_template || superseded {
            postgres::drop_template(conn, &candidate.name)
                .await
                .map_err(at("dropping a superseded template database"))?;
        }
    }
    Ok(())
}

async fn deploy(
    url: &str,
    request: &TemplateRequest<'_>,
    connect_timeout: Duration,
) -> Result<(), Error> {
    Migrator::new(request.folder)
        .connect_timeout(connect_timeout)
        .lint(request.lint)
        .deploy_loaded(url, request.migrations, |_| {})
        .await
        .map(drop)
}

async fn create(conn: &mut PgConnection, name: &str, template: Option<&str>) -> Result<(), Error> {
    postgres::create_database(conn, name, template)
        .await
        .map_err(at("creating a template database"))
}

async fn drop_database(conn: &mut PgConnection, name: &str) -> Result<(), Error> {
    postgres::drop_database(conn, name)
        .await
        .map_err(at("dropping an unfinished template database"))
}

/// The URL of database `database` on `server`, with `?schema=` naming `schema` unless it is
/// `public` (the default deploy schema).
pub fn deploy_url(server: &DatabaseUrl, database: &str, schema: &str) -> Result<String, Error> {
    let url = server.with_database(database);
    let mut url = url::Url::parse(url.as_str()).expect("a DatabaseUrl is a URL");
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "schema")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.set_query(None);
    if !kept.is_empty() || schema != "public" {
        let mut pairs = url.query_pairs_mut();
        pairs.extend_pairs(kept);
        if schema != "public" {
            pairs.append_pair("schema", schema);
        }
    }
    Ok(DatabaseUrl::parse(url.as_str())?.as_str().to_string())
}

fn at(action: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database { action, source }
}

/// The folder `dir` as templates record it: canonical, so that two spellings of one folder
/// supersede each other's templates.
///
/// # Errors
/// [`Error::FolderMissing`] when it does not exist.
pub fn canonical_folder(dir: &Path) -> Result<PathBuf, Error> {
    dir.canonicalize().map_err(|_| Error::FolderMissing {
        path: dir.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_urls_name_the_schema_unless_public() {
        let server =
            DatabaseUrl::parse("postgresql://u:p@h:5432/postgres?sslmode=disable").expect("a URL");
        let public = deploy_url(&server, "nelo_tpl_1", "public").unwrap();
        assert_eq!(public, "postgresql://u:p@h:5432/nelo_tpl_1?sslmode=disable");
        let app = deploy_url(&server, "nelo_tpl_1", "app").unwrap();
        assert_eq!(
            app,
            "postgresql://u:p@h:5432/nelo_tpl_1?sslmode=disable&schema=app"
        );
        let with_schema =
            DatabaseUrl::parse("postgresql://u:p@h:5432/postgres?schema=x").expect("a URL");
        let replaced = deploy_url(&with_schema, "d", "public").unwrap();
        assert_eq!(replaced, "postgresql://u:p@h:5432/d");
    }
}
