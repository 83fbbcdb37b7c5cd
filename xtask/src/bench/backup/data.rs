//! The bench database: Nelo-like scenes with prose from a pool of sentences, numbers and
//! timestamps, and 1536-dimension embeddings, generated in the server with `generate_series`.

use anyhow::Context as _;
use sqlx::PgConnection;

use crate::ui;

/// Generates Nelo-like rows until the database reaches `target` bytes: scenes with prose from
/// a pool of sentences (compressible like text), numbers and timestamps, and 1536-dimension
/// embeddings (hardly compressible), about a third of the size.
pub(super) async fn ensure_data(conn: &mut PgConnection, target: u64) -> anyhow::Result<u64> {
    let size = database_size(conn).await?;
    if size >= target {
        return Ok(size);
    }
    let bar = ui::spinner(format!("generating {} of data", ui::bytes(target)));
    sqlx::raw_sql(SCHEMA)
        .execute(&mut *conn)
        .await
        .context("cannot create the bench schema")?;
    let mut scenes = 0i64;
    let mut embeddings = 0i64;
    loop {
        let size = database_size(conn).await?;
        bar.set_message(format!(
            "generating data: {} of {}",
            ui::bytes(size),
            ui::bytes(target)
        ));
        if size >= target {
            break;
        }
        // Two thirds scenes, one third embeddings, in batches.
        let statement = if embeddings * 6_200 * 2 < scenes * 600 {
            let batch = format!(
                "INSERT INTO embedding SELECT i, 1 + i % 500, (SELECT array_agg((random() * 0.2 - 0.1)::real) \
                 FROM generate_series(1, 1536) WHERE i > 0)::vector FROM generate_series({}, {}) AS i",
                embeddings + 1,
                embeddings + 10_000
            );
            embeddings += 10_000;
            batch
        } else {
            let batch = format!(
                "{SCENES} FROM generate_series({}, {}) AS i {SCENE_JOINS}",
                scenes + 1,
                scenes + 200_000
            );
            scenes += 200_000;
            batch
        };
        sqlx::raw_sql(&statement)
            .execute(&mut *conn)
            .await
            .context("cannot generate rows")?;
    }
    bar.set_message("vacuum freeze analyze");
    sqlx::raw_sql("VACUUM (FREEZE, ANALYZE)")
        .execute(&mut *conn)
        .await?;
    ui::done(
        &bar,
        format!("generated {scenes} scenes and {embeddings} embeddings"),
    );
    database_size(conn).await
}

async fn database_size(conn: &mut PgConnection) -> anyhow::Result<u64> {
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(conn)
        .await?;
    Ok(size as u64)
}

const SCHEMA: &str = "
SET synchronous_commit = off;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS sentence (id int PRIMARY KEY, text text NOT NULL);
INSERT INTO sentence
SELECT id, initcap(string_agg(word, ' ')) || '.'
FROM (
    SELECT id, (ARRAY['the', 'a', 'she', 'he', 'they', 'walked', 'into', 'room', 'light', 'dark',
        'morning', 'evening', 'letter', 'window', 'garden', 'silence', 'voice', 'remembered',
        'whispered', 'said', 'never', 'always', 'again', 'slowly', 'quietly', 'house', 'river',
        'city', 'train', 'station', 'rain', 'sun', 'cold', 'warm', 'old', 'young', 'friend',
        'mother', 'father', 'sister', 'brother', 'stranger', 'door', 'table', 'chair', 'book',
        'page', 'ink', 'story', 'chapter', 'scene', 'and', 'but', 'because', 'when', 'while',
        'before', 'after', 'under', 'over', 'through', 'without', 'within', 'across', 'toward',
        'her', 'his', 'their', 'of', 'in', 'on', 'at', 'with', 'for', 'from', 'was', 'were',
        'had', 'could', 'would', 'should', 'might', 'nothing', 'everything', 'something',
        'nobody', 'someone', 'answer', 'question', 'promise', 'secret', 'truth', 'lie', 'dream',
        'memory', 'shadow', 'fire', 'snow', 'wind', 'sea', 'mountain', 'road', 'bridge'])
        [1 + floor(random() * 104)::int] AS word
    FROM generate_series(0, 19999) AS id, generate_series(1, 6 + id % 11)
) AS words
GROUP BY id
ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS scene (
    id bigint PRIMARY KEY,
    project_id int NOT NULL,
    chapter_id int NOT NULL,
    \"order\" int NOT NULL,
    title text NOT NULL,
    content text NOT NULL,
    word_count int NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS embedding (
    scene_id bigint PRIMARY KEY,
    project_id int NOT NULL,
    embedding vector(1536) NOT NULL
);";

const SCENES: &str = "
INSERT INTO scene
SELECT i, 1 + i % 500, 1 + i % 20000, i % 100, 'Scene ' || i,
       s1.text || ' ' || s2.text || ' ' || s3.text || ' ' || s4.text || ' ' || s5.text || ' ' || s6.text,
       length(s1.text || s2.text || s3.text || s4.text || s5.text || s6.text) / 6,
       (ARRAY['draft', 'revised', 'final'])[1 + i % 3],
       timestamptz '2025-01-01' + i * interval '17 seconds',
       timestamptz '2025-06-01' + i * interval '13 seconds'";

const SCENE_JOINS: &str = "
JOIN sentence s1 ON s1.id = (i * 7) % 20000
JOIN sentence s2 ON s2.id = (i * 13 + 1) % 20000
JOIN sentence s3 ON s3.id = (i * 31 + 2) % 20000
JOIN sentence s4 ON s4.id = (i * 101 + 3) % 20000
JOIN sentence s5 ON s5.id = (i * 211 + 4) % 20000
JOIN sentence s6 ON s6.id = (i * 307 + 5) % 20000";
