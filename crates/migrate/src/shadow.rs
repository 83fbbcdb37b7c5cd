//! Shadow databases: throwaway databases on a server where `diff` materialises a side (a
//! migrations folder, a schema file, an empty database) or checks a generated script.
//!
//! A shadow is named `nelo_shadow_<purpose>_<created, unix seconds>_<host tag>_<pid>_<n>`,
//! always dropped `WITH (FORCE)` after use (explicitly, or by its guard), and a shadow whose
//! creator died is swept by the next run: its host tag is this host's and its pid is gone, or
//! it is older than [`LEFTOVER_AGE`].

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::diff::DiffError;
use crate::template::{self, Template, TemplateRequest};
use crate::{DatabaseUrl, Error, postgres};

pub const SHADOW_PREFIX: &str = "nelo_shadow_";

/// A shadow of another host (whose processes cannot be checked) older than this is a leftover.
pub const LEFTOVER_AGE: Duration = Duration::from_secs(6 * 60 * 60);

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// The name of a shadow database.
pub fn shadow_name(purpose: &str, created_unix_secs: u64, host: &str, pid: u32, n: u32) -> String {
    format!("{SHADOW_PREFIX}{purpose}_{created_unix_secs}_{host}_{pid}_{n}")
}

/// (created, host tag, pid) of a name [`shadow_name`] made.
pub fn parse_shadow_name(name: &str) -> Option<(u64, &str, u32)> {
    let rest = name.strip_prefix(SHADOW_PREFIX)?;
    let parts: Vec<&str> = rest.split('_').collect();
    let [purpose, created, host, pid, n] = parts.as_slice() else {
        return None;
    };
    if purpose.is_empty() || !purpose.bytes().all(|byte| byte.is_ascii_lowercase()) {
        return None;
    }
    n.parse::<u32>().ok()?;
    Some((created.parse().ok()?, host, pid.parse().ok()?))
}

/// Whether the shadow `name` is a leftover to drop: made on this host by a process that is
/// gone, or older than [`LEFTOVER_AGE`]. Names nelo did not make are never leftovers.
pub fn is_leftover(
    name: &str,
    now_unix_secs: u64,
    this_host: &str,
    process_alive: impl Fn(u32) -> bool,
) -> bool {
    let Some((created, host, pid)) = parse_shadow_name(name) else {
        return false;
    };
    if host == this_host {
        return !process_alive(pid);
    }
    now_unix_secs.saturating_sub(created) > LEFTOVER_AGE.as_secs()
}

/// This boot, machine and pid namespace, as 8 hex digits (`unknown` where `/proc` cannot tell,
/// which then never matches a live host).
pub fn host_tag() -> String {
    known_host_tag().unwrap_or_else(|| "unknown".to_string())
}

/// [`host_tag`], `None` where `/proc` cannot tell.
pub fn known_host_tag() -> Option<String> {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let digest = Sha256::new()
        .chain_update(boot_id.trim())
        .chain_update("\n")
        .chain_update(namespace.to_string_lossy().as_bytes())
        .finalize();
    Some(hex::encode(&digest[..4]))
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn now_unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// `url` pointing at database `database`, keeping its other parts.
pub fn url_with_database(url: &str, database: &str) -> Result<String, Error> {
    Ok(DatabaseUrl::parse(url)?
        .with_database(database)
        .as_str()
        .to_string())
}

/// A server where shadows are created, through the URL of any database on it.
#[derive(Debug, Clone)]
pub struct ShadowServer {
    admin_url: String,
    connect_timeout: Duration,
}

impl ShadowServer {
    /// The server of `admin_url` (a URL of any database on it), whose shadows put unqualified
    /// names in `schema`, the diff's target schema: connections to them set it as their
    /// `search_path` (`?schema=`), whatever schema `admin_url` names.
    pub fn new(admin_url: &str, schema: &str, connect_timeout: Duration) -> Result<Self, Error> {
        let url = DatabaseUrl::parse(admin_url)?;
        let admin_url = if url.schema().unwrap_or("public") == schema {
            admin_url.to_string()
        } else {
            url.with_schema(schema).as_str().to_string()
        };
        Ok(Self {
            admin_url,
            connect_timeout,
        })
    }

    async fn connect(&self) -> Result<PgConnection, Error> {
        postgres::connect(&DatabaseUrl::parse(&self.admin_url)?, self.connect_timeout).await
    }

    /// Drops the shadows that dead runs left behind; returns their names.
    pub async fn sweep(&self) -> Result<Vec<String>, Error> {
        let mut conn = self.connect().await?;
        let names: Vec<(String,)> = sqlx::query_as(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'nelo\\_shadow\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(|source| Error::Database {
            action: "listing shadow databases",
            source,
        })?;
        let (now, host) = (now_unix_secs(), host_tag());
        let mut dropped = Vec::new();
        for (name,) in names {
            if is_leftover(&name, now, &host, process_alive) {
                drop_database(&mut conn, &name).await?;
                dropped.push(name);
            }
        }
        let _ = conn.close().await;
        Ok(dropped)
    }

    /// A new, empty shadow database for `purpose` (lowercase letters: `from`, `to`, `verify`).
    pub async fn create(&self, purpose: &str) -> Result<Shadow, Error> {
        self.create_from(purpose, None).await
    }

    /// A new shadow database for `purpose`, a clone of `template` when given.
    pub async fn create_from(
        &self,
        purpose: &str,
        template: Option<&str>,
    ) -> Result<Shadow, Error> {
        let name = shadow_name(
            purpose,
            now_unix_secs(),
            &host_tag(),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed),
        );
        let mut conn = self.connect().await?;
        let created = postgres::create_database(&mut conn, &name, template).await;
        let _ = conn.close().await;
        if let Err(source) = created {
            return Err(self.not_permitted_or(Error::Database {
                action: "creating a shadow database",
                source,
            }));
        }
        Ok(Shadow {
            url: url_with_database(&self.admin_url, &name)?,
            name,
            server: self.clone(),
            dropped: false,
        })
    }

    /// The template of `request` on this server, built if need be
    /// ([`template::ensure_template`]).
    pub async fn ensure_template(&self, request: &TemplateRequest<'_>) -> Result<Template, Error> {
        let url = DatabaseUrl::parse(&self.admin_url)?;
        template::ensure_template(&url, self.connect_timeout, request)
            .await
            .map_err(|error| self.not_permitted_or(error))
    }

    /// A new shadow for `purpose` holding what `request`'s migrations build: a clone of
    /// their template, built first if need be.
    pub async fn create_from_template(
        &self,
        purpose: &str,
        request: &TemplateRequest<'_>,
    ) -> Result<Shadow, Error> {
        let template = self.ensure_template(request).await?;
        match self.create_from(purpose, Some(&template.name)).await {
            // Another run dropped the template (it superseded it) between the two steps:
            // build it again, under the same name.
            Err(Error::Database { source, .. }) if has_sqlstate(&source, "3D000") => {
                let template = self.ensure_template(request).await?;
                self.create_from(purpose, Some(&template.name)).await
            }
            created => created,
        }
    }

    /// [`DiffError::ShadowNotPermitted`] when `error` is the server refusing to create a
    /// database (SQLSTATE `42501`), else `error`.
    fn not_permitted_or(&self, error: Error) -> Error {
        let denied = match &error {
            Error::Database { source, .. } => has_sqlstate(source, "42501"),
            _ => false,
        };
        match DatabaseUrl::parse(&self.admin_url) {
            Ok(target) if denied => DiffError::ShadowNotPermitted {
                role: target.user(),
                server: target.server(),
            }
            .into(),
            _ => error,
        }
    }
}

fn has_sqlstate(error: &sqlx::Error, sqlstate: &str) -> bool {
    error
        .as_database_error()
        .and_then(|error| error.code())
        .is_some_and(|code| code == sqlstate)
}

async fn drop_database(conn: &mut PgConnection, name: &str) -> Result<(), Error> {
    postgres::drop_database(conn, name)
        .await
        .map_err(|source| Error::Database {
            action: "dropping a shadow database",
            source,
        })
}

/// A shadow database; dropped by [`Shadow::remove`], or by its guard when that was not called.
#[derive(Debug)]
pub struct Shadow {
    pub name: String,
    pub url: String,
    server: ShadowServer,
    dropped: bool,
}

impl Shadow {
    /// Drops the database now.
    pub async fn remove(mut self) -> Result<(), Error> {
        self.dropped = true;
        let mut conn = self.server.connect().await?;
        let outcome = drop_database(&mut conn, &self.name).await;
        let _ = conn.close().await;
        outcome
    }
}

impl Drop for Shadow {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Drop cannot be async: drop the database from a thread with its own runtime.
        let (server, name) = (self.server.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = server.connect().await.ok()?;
                let outcome = drop_database(&mut conn, &name).await.ok();
                let _ = conn.close().await;
                outcome
            })
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_fit_postgres() {
        let name = shadow_name(
            "verify",
            1_790_000_000,
            "0a1b2c3d",
            4_194_304,
            4_000_000_000,
        );
        assert!(name.len() <= 63, "{name}");
        assert_eq!(
            parse_shadow_name(&name),
            Some((1_790_000_000, "0a1b2c3d", 4_194_304))
        );
        assert_eq!(parse_shadow_name("nelo_shadow_from_x_h_1_1"), None);
        assert_eq!(parse_shadow_name("nelo_test_1_h_1_1"), None);
    }

    #[test]
    fn leftovers_are_dead_local_runs_or_old_foreign_ones() {
        let now = 1_790_000_000;
        let name = |host: &str, created: u64| shadow_name("from", created, host, 42, 0);
        assert!(is_leftover(&name("here", now), now, "here", |_| false));
        assert!(!is_leftover(&name("here", now), now, "here", |_| true));
        assert!(!is_leftover(&name("there", now - 60), now, "here", |_| {
            false
        }));
        assert!(is_leftover(
            &name("there", now - 7 * 3600),
            now,
            "here",
            |_| true
        ));
        assert!(!is_leftover("nelo_shadow_manual", now, "here", |_| false));
    }
}
