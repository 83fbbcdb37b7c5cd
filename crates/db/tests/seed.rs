//! The demo seed: idempotent, all-or-nothing, and leaving other projects alone.

use nelo_db::embedding::{DIMENSIONS, pseudo_embedding, vector_literal};
use nelo_db::seed::{self, SeedReport};
use nelo_db::testing::TestDatabase;
use sqlx::PgConnection;

const TABLES: &[&str] = &[
    "User",
    "Project",
    "Chapter",
    "Scene",
    "Entity",
    "SceneEntity",
    "SceneEmbedding",
    "EntityEmbedding",
];

/// Row counts and an md5 over every row of every table, in a stable order.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    counts: Vec<(&'static str, i64)>,
    checksum: String,
}

async fn snapshot(conn: &mut PgConnection) -> Snapshot {
    let mut counts = Vec::new();
    let mut checksums = Vec::new();
    for table in TABLES {
        let (count, checksum): (i64, String) = sqlx::query_as(&format!(
            r#"SELECT count(*), coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '')
               FROM "{table}" t"#
        ))
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        counts.push((*table, count));
        checksums.push(checksum);
    }
    Snapshot {
        counts,
        checksum: checksums.join(":"),
    }
}

fn count(snapshot: &Snapshot, table: &str) -> i64 {
    snapshot
        .counts
        .iter()
        .find(|(name, _)| *name == table)
        .unwrap()
        .1
}

/// Makes the last step of the seed fail, after every other row was written.
async fn break_entity_embeddings(conn: &mut PgConnection) {
    sqlx::raw_sql(
        r#"CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'embeddings are refused'; END $$;
           CREATE TRIGGER refuse BEFORE INSERT ON "EntityEmbedding"
               FOR EACH ROW EXECUTE FUNCTION refuse();"#,
    )
    .execute(conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn seeding_twice_leaves_the_same_rows() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await.unwrap();
    let first_report = seed::seed(&mut conn).await.unwrap();
    let first = snapshot(&mut conn).await;
    let second_report = seed::seed(&mut conn).await.unwrap();
    let second = snapshot(&mut conn).await;
    assert_eq!(first_report, second_report);
    assert_eq!(first, second);

    let SeedReport {
        users,
        projects,
        chapters,
        scenes,
        entities,
        mentions,
        embeddings,
        ..
    } = first_report;
    assert_eq!(count(&first, "User") as u64, users);
    assert_eq!(count(&first, "Project") as u64, projects);
    assert_eq!(count(&first, "Chapter") as u64, chapters);
    assert_eq!(count(&first, "Scene") as u64, scenes);
    assert_eq!(count(&first, "Entity") as u64, entities);
    assert_eq!(count(&first, "SceneEntity") as u64, mentions);
    assert_eq!(
        (count(&first, "SceneEmbedding") + count(&first, "EntityEmbedding")) as u64,
        embeddings
    );
    assert!(
        chapters >= 3 && scenes >= 6 && mentions >= scenes,
        "{first_report:?}"
    );
}

#[tokio::test]
async fn the_demo_is_a_real_project() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await.unwrap();
    seed::seed(&mut conn).await.unwrap();

    let entity_types: i64 = sqlx::query_scalar(r#"SELECT count(DISTINCT "type") FROM "Entity""#)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(entity_types, 6, "every entity type is represented");
    let with_aliases: i64 =
        sqlx::query_scalar(r#"SELECT count(*) FROM "Entity" WHERE cardinality("aliases") > 0"#)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(with_aliases >= 6);
    let (min_words, paragraphs_ok): (i32, bool) = sqlx::query_as(
        r#"SELECT min("wordCount"), bool_and("contentMd" LIKE E'%\n\n%') FROM "Scene""#,
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(min_words >= 60 && paragraphs_ok);

    let norms: Vec<(i32, f64)> = sqlx::query_as(
        r#"SELECT vector_dims("embedding"), vector_norm("embedding") FROM "SceneEmbedding"
           UNION ALL SELECT vector_dims("embedding"), vector_norm("embedding") FROM "EntityEmbedding""#,
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (dims, norm) in norms {
        assert_eq!(dims as usize, DIMENSIONS);
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
}

#[tokio::test]
async fn a_scene_is_its_own_nearest_neighbour() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await.unwrap();
    seed::seed(&mut conn).await.unwrap();
    let (id, title, content): (String, String, String) = sqlx::query_as(
        r#"SELECT "id", "title", "contentMd" FROM "Scene" ORDER BY "index" LIMIT 1"#,
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let query = vector_literal(&pseudo_embedding(&format!("{title}\n\n{content}")));
    let nearest: String = sqlx::query_scalar(
        r#"SELECT "sceneId" FROM "SceneEmbedding" ORDER BY "embedding" <=> $1::vector LIMIT 1"#,
    )
    .bind(query)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(nearest, id);
}

#[tokio::test]
async fn a_failing_seed_leaves_nothing() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await.unwrap();
    break_entity_embeddings(&mut conn).await;
    let error = seed::seed(&mut conn).await.unwrap_err();
    assert!(error.to_string().contains("embeddings"), "{error}");
    let after = snapshot(&mut conn).await;
    assert!(
        after.counts.iter().all(|(_, count)| *count == 0),
        "{:?}",
        after.counts
    );
}

#[tokio::test]
async fn a_failing_reseed_keeps_the_previous_seed() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await.unwrap();
    seed::seed(&mut conn).await.unwrap();
    let before = snapshot(&mut conn).await;
    break_entity_embeddings(&mut conn).await;
    seed::seed(&mut conn).await.unwrap_err();
    assert_eq!(snapshot(&mut conn).await, before);
}

#[tokio::test]
async fn seeding_leaves_other_projects_alone() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await.unwrap();
    // Another writer's project, and (after the first seed) one of the demo user's own.
    sqlx::raw_sql(
        r#"INSERT INTO "User" ("id", "email", "updatedAt") VALUES ('someone', 'someone@example.com', now());
           INSERT INTO "Project" ("id", "userId", "title", "updatedAt")
               VALUES ('their-novel', 'someone', 'Their Novel', now())"#,
    )
    .execute(&mut conn)
    .await
    .unwrap();
    seed::seed(&mut conn).await.unwrap();
    sqlx::raw_sql(
        r#"INSERT INTO "Project" ("id", "userId", "title", "updatedAt")
               VALUES ('demo-users-own', 'demo-user', 'Written by the demo user', now())"#,
    )
    .execute(&mut conn)
    .await
    .unwrap();
    seed::seed(&mut conn).await.unwrap();
    let projects: Vec<String> = sqlx::query_scalar(r#"SELECT "id" FROM "Project" ORDER BY "id""#)
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(projects, ["demo-project", "demo-users-own", "their-novel"]);
}

#[tokio::test]
async fn nelo_seed_seeds_database_url_and_prints_one_line() {
    let db = TestDatabase::new().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_nelo-seed"))
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("seeded `The Keeper of Greyhaven Light`"),
        "{stdout}"
    );
    let scenes: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "Scene""#)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(scenes > 0);
}
