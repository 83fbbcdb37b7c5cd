//! The demo project, loaded in one transaction.
//!
//! [`seed`] deletes the demo project (everything under it cascades), upserts the demo user and
//! inserts the project again from [`demo`], with fixed ids and timestamps: running it twice
//! leaves byte-identical tables, and a failure at any step rolls everything back.

mod demo;
mod text;

use std::fmt;

use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, Postgres, Transaction};

use crate::embedding::{PSEUDO_MODEL, pseudo_embedding, vector_literal};

pub use demo::{PROJECT_ID, USER_ID};

/// Serialises concurrent seeds, which would otherwise race on the fixed ids.
const SEED_LOCK_KEY: i64 = 0x6e65_6c6f_7365_6564; // "neloseed"

/// Why the seed failed; the transaction was rolled back, nothing of it remains.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("failed to {step}")]
    Database {
        step: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

/// The rows the seed wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub users: u64,
    pub projects: u64,
    pub chapters: u64,
    pub scenes: u64,
    pub entities: u64,
    pub mentions: u64,
    pub embeddings: u64,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seeded `{}`: {} user, {} project, {} chapters, {} scenes, {} entities, \
             {} mentions, {} embeddings",
            demo::PROJECT_TITLE,
            self.users,
            self.projects,
            self.chapters,
            self.scenes,
            self.entities,
            self.mentions,
            self.embeddings
        )
    }
}

/// Loads (or reloads) the demo project into the migrated database behind `conn`.
pub async fn seed(conn: &mut PgConnection) -> Result<SeedReport, Error> {
    let mut tx = conn
        .begin()
        .await
        .map_err(at("begin the seed transaction"))?;
    let report = seed_in(&mut tx).await?;
    tx.commit()
        .await
        .map_err(at("commit the seed transaction"))?;
    Ok(report)
}

async fn seed_in(tx: &mut Transaction<'_, Postgres>) -> Result<SeedReport, Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEED_LOCK_KEY)
        .execute(&mut **tx)
        .await
        .map_err(at("take the seed lock"))?;
    sqlx::query(r#"DELETE FROM "Project" WHERE "id" = $1"#)
        .bind(demo::PROJECT_ID)
        .execute(&mut **tx)
        .await
        .map_err(at("delete the previous demo project"))?;

    let mut report = SeedReport {
        users: 1,
        projects: 1,
        chapters: 0,
        scenes: 0,
        entities: 0,
        mentions: 0,
        embeddings: 0,
    };
    insert_user_and_project(tx).await?;
    report.chapters = insert_chapters(tx).await?;
    report.scenes = insert_scenes(tx).await?;
    report.entities = insert_entities(tx).await?;
    report.mentions = insert_mentions(tx).await?;
    report.embeddings = insert_embeddings(tx).await?;
    Ok(report)
}

async fn insert_user_and_project(tx: &mut Transaction<'_, Postgres>) -> Result<(), Error> {
    sqlx::query(
        r#"INSERT INTO "User" ("id", "email", "name", "createdAt", "updatedAt")
           VALUES ($1, $2, $3, $4::timestamp(3), $4::timestamp(3))
           ON CONFLICT ("id") DO UPDATE
           SET "email" = EXCLUDED."email", "name" = EXCLUDED."name",
               "createdAt" = EXCLUDED."createdAt", "updatedAt" = EXCLUDED."updatedAt""#,
    )
    .bind(demo::USER_ID)
    .bind(demo::USER_EMAIL)
    .bind(demo::USER_NAME)
    .bind(demo::SEEDED_AT)
    .execute(&mut **tx)
    .await
    .map_err(at("upsert the demo user"))?;
    sqlx::query(
        r#"INSERT INTO "Project" ("id", "userId", "title", "description", "createdAt", "updatedAt")
           VALUES ($1, $2, $3, $4, $5::timestamp(3), $5::timestamp(3))"#,
    )
    .bind(demo::PROJECT_ID)
    .bind(demo::USER_ID)
    .bind(demo::PROJECT_TITLE)
    .bind(demo::PROJECT_DESCRIPTION)
    .bind(demo::SEEDED_AT)
    .execute(&mut **tx)
    .await
    .map_err(at("insert the demo project"))?;
    Ok(())
}

async fn insert_chapters(tx: &mut Transaction<'_, Postgres>) -> Result<u64, Error> {
    for (order, chapter) in (1..).zip(demo::CHAPTERS) {
        sqlx::query(
            r#"INSERT INTO "Chapter" ("id", "projectId", "title", "order", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, $4, $5::timestamp(3), $5::timestamp(3))"#,
        )
        .bind(chapter.id)
        .bind(demo::PROJECT_ID)
        .bind(chapter.title)
        .bind(order)
        .bind(demo::SEEDED_AT)
        .execute(&mut **tx)
        .await
        .map_err(at("insert the demo chapters"))?;
    }
    Ok(demo::CHAPTERS.len() as u64)
}

async fn insert_scenes(tx: &mut Transaction<'_, Postgres>) -> Result<u64, Error> {
    for (index, scene) in (1..).zip(demo::SCENES) {
        // Its position among the scenes of its chapter (or among the unplaced ones), from 1.
        let order_in_chapter = demo::SCENES[..index as usize]
            .iter()
            .filter(|earlier| earlier.chapter_id == scene.chapter_id)
            .count() as i32;
        sqlx::query(
            r#"INSERT INTO "Scene" ("id", "projectId", "chapterId", "index", "order", "title",
                                    "contentMd", "wordCount", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamp(3), $9::timestamp(3))"#,
        )
        .bind(scene.id)
        .bind(demo::PROJECT_ID)
        .bind(scene.chapter_id)
        .bind(index)
        .bind(order_in_chapter)
        .bind(scene.title)
        .bind(scene.content_md)
        .bind(text::word_count(scene.content_md))
        .bind(demo::SEEDED_AT)
        .execute(&mut **tx)
        .await
        .map_err(at("insert the demo scenes"))?;
    }
    Ok(demo::SCENES.len() as u64)
}

async fn insert_entities(tx: &mut Transaction<'_, Postgres>) -> Result<u64, Error> {
    for entity in demo::ENTITIES {
        sqlx::query(
            r#"INSERT INTO "Entity" ("id", "projectId", "type", "name", "aliases", "description",
                                     "createdAt", "updatedAt")
               VALUES ($1, $2, $3::"EntityType", $4, $5, $6, $7::timestamp(3), $7::timestamp(3))"#,
        )
        .bind(entity.id)
        .bind(demo::PROJECT_ID)
        .bind(entity.kind)
        .bind(entity.name)
        .bind(entity.aliases)
        .bind(entity.description)
        .bind(demo::SEEDED_AT)
        .execute(&mut **tx)
        .await
        .map_err(at("insert the demo entities"))?;
    }
    Ok(demo::ENTITIES.len() as u64)
}

async fn insert_mentions(tx: &mut Transaction<'_, Postgres>) -> Result<u64, Error> {
    let mut mentions = 0;
    for scene in demo::SCENES {
        for entity in demo::ENTITIES {
            let forms: Vec<&str> = std::iter::once(entity.name)
                .chain(entity.aliases.iter().copied())
                .collect();
            let count = text::mention_count(scene.content_md, &forms);
            if count == 0 {
                continue;
            }
            sqlx::query(
                r#"INSERT INTO "SceneEntity" ("sceneId", "entityId", "mentionCount", "createdAt")
                   VALUES ($1, $2, $3, $4::timestamp(3))"#,
            )
            .bind(scene.id)
            .bind(entity.id)
            .bind(count)
            .bind(demo::SEEDED_AT)
            .execute(&mut **tx)
            .await
            .map_err(at("insert the demo mentions"))?;
            mentions += 1;
        }
    }
    Ok(mentions)
}

async fn insert_embeddings(tx: &mut Transaction<'_, Postgres>) -> Result<u64, Error> {
    for scene in demo::SCENES {
        let embedded_text = format!("{}\n\n{}", scene.title, scene.content_md);
        insert_embedding(tx, "SceneEmbedding", "sceneId", scene.id, &embedded_text).await?;
    }
    for entity in demo::ENTITIES {
        let embedded_text = format!(
            "{} ({})\n{}",
            entity.name,
            entity.aliases.join(", "),
            entity.description
        );
        insert_embedding(tx, "EntityEmbedding", "entityId", entity.id, &embedded_text).await?;
    }
    Ok((demo::SCENES.len() + demo::ENTITIES.len()) as u64)
}

/// `table` and `owner_column` are one of the two fixed pairs above, never input.
async fn insert_embedding(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    owner_column: &str,
    owner_id: &str,
    embedded_text: &str,
) -> Result<(), Error> {
    let statement = format!(
        r#"INSERT INTO "{table}" ("{owner_column}", "model", "contentHash", "embedding",
                                  "createdAt", "updatedAt")
           VALUES ($1, $2, $3, $4::vector, $5::timestamp(3), $5::timestamp(3))"#
    );
    sqlx::query(&statement)
        .bind(owner_id)
        .bind(PSEUDO_MODEL)
        .bind(hex::encode(Sha256::digest(embedded_text.as_bytes())))
        .bind(vector_literal(&pseudo_embedding(embedded_text)))
        .bind(demo::SEEDED_AT)
        .execute(&mut **tx)
        .await
        .map_err(at("insert the demo embeddings"))?;
    Ok(())
}

fn at(step: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database { step, source }
}
