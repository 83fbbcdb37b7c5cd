//! The schema contract (the migrations guide's `schema-validation.test`): after a deploy, the
//! catalog must match the spec written out below, and the planner must use the indexes.
//! The spec is written by hand on purpose: a migration that drops or changes any table,
//! column, key, index or delete rule makes these tests fail until the spec is updated too.

use std::collections::BTreeSet;

mod common;

use common::{DropOnExit, admin, server_url};
use nelo_db::testing::{self, TestDatabase, names};
use sqlx::{Connection, Executor, PgConnection};

/// Every column of every table: (table, column, type, nullable, default).
const COLUMNS: &[(&str, &str, &str, bool, Option<&str>)] = &[
    ("User", "id", "text", false, None),
    ("User", "email", "text", false, None),
    ("User", "name", "text", true, None),
    (
        "User",
        "createdAt",
        "timestamp(3) without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    (
        "User",
        "updatedAt",
        "timestamp(3) without time zone",
        false,
        None,
    ),
    ("Project", "id", "text", false, None),
    ("Project", "userId", "text", false, None),
    ("Project", "title", "text", false, None),
    ("Project", "description", "text", true, None),
    (
        "Project",
        "createdAt",
        "timestamp(3) without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    (
        "Project",
        "updatedAt",
        "timestamp(3) without time zone",
        false,
        None,
    ),
    ("Chapter", "id", "text", false, None),
    ("Chapter", "projectId", "text", false, None),
    ("Chapter", "title", "text", false, None),
    ("Chapter", "order", "integer", false, None),
    (
        "Chapter",
        "createdAt",
        "timestamp(3) without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    (
        "Chapter",
        "updatedAt",
        "timestamp(3) without time zone",
        false,
        None,
    ),
    ("Scene", "id", "text", false, None),
    ("Scene", "projectId", "text", false, None),
    ("Scene", "chapterId", "text", true, None),
    ("Scene", "index", "integer", false, None),
    ("Scene", "order", "integer", false, None),
    ("Scene", "title", "text", true, None),
    ("Scene", "contentMd", "text", false, Some("''::text")),
    ("Scene", "wordCount", "integer", false, Some("0")),
    (
        "Scene",
        "createdAt",
        "timestamp(3) without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    (
        "Scene",
        "updatedAt",
        "timestamp(3) without time zone",
        false,
        None,
    ),
    ("Entity", "id", "text", false, None),
    ("Entity", "projectId", "text", false, None),
    ("Entity", "type", "\"EntityType\"", false, None),
    ("Entity", "name", "text", false, None),
    (
        "Entity",
        "aliases",
        "text[]",
        false,
        Some("ARRAY[]::text[]"),
    ),
    ("Entity", "description", "text", true, None),
    (
        "Entity",
        "createdAt",
        "timestamp(3) without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    (
        "Entity",
        "updatedAt",
        "timestamp(3) without time zone",
        false,
        None,
    ),
    ("SceneEntity", "sceneId", "text", false, None),
    ("SceneEntity", "entityId", "text", false, None),
    ("SceneEntity", "mentionCount", "integer", false, Some("1")),
    (
        "SceneEntity",
        "createdAt",
        "timestamp(3) without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    ("SceneEmbedding", "sceneId", "text", false, None),
    ("SceneEmbedding", "model", "text", false, None),
    ("SceneEmbedding", "contentHash", "text", false, None),
    ("SceneEmbedding", "embedding", "vector(1536)", false, None),
    (
        "SceneEmbedding",
        "createdAt",
        "timestamp(3) without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    (
        "SceneEmbedding",
        "updatedAt",
        "timestamp(3) without time zone",
        false,
        None,
    ),
    ("EntityEmbedding", "entityId", "text", false, None),
    ("EntityEmbedding", "model", "text", false, None),
    ("EntityEmbedding", "contentHash", "text", false, None),
    ("EntityEmbedding", "embedding", "vector(1536)", false, None),
    (
        "EntityEmbedding",
        "createdAt",
        "timestamp(3) without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    (
        "EntityEmbedding",
        "updatedAt",
        "timestamp(3) without time zone",
        false,
        None,
    ),
];

/// Every foreign key: (name, table, columns, referenced table, columns, on delete, on update).
const FOREIGN_KEYS: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "Project_userId_fkey",
        "Project",
        "userId",
        "User",
        "id",
        "RESTRICT",
        "CASCADE",
    ),
    (
        "Chapter_projectId_fkey",
        "Chapter",
        "projectId",
        "Project",
        "id",
        "CASCADE",
        "CASCADE",
    ),
    (
        "Scene_projectId_fkey",
        "Scene",
        "projectId",
        "Project",
        "id",
        "CASCADE",
        "CASCADE",
    ),
    (
        "Scene_chapterId_fkey",
        "Scene",
        "chapterId",
        "Chapter",
        "id",
        "SET NULL",
        "CASCADE",
    ),
    (
        "Entity_projectId_fkey",
        "Entity",
        "projectId",
        "Project",
        "id",
        "CASCADE",
        "CASCADE",
    ),
    (
        "SceneEntity_sceneId_fkey",
        "SceneEntity",
        "sceneId",
        "Scene",
        "id",
        "CASCADE",
        "CASCADE",
    ),
    (
        "SceneEntity_entityId_fkey",
        "SceneEntity",
        "entityId",
        "Entity",
        "id",
        "CASCADE",
        "CASCADE",
    ),
    (
        "SceneEmbedding_sceneId_fkey",
        "SceneEmbedding",
        "sceneId",
        "Scene",
        "id",
        "CASCADE",
        "CASCADE",
    ),
    (
        "EntityEmbedding_entityId_fkey",
        "EntityEmbedding",
        "entityId",
        "Entity",
        "id",
        "CASCADE",
        "CASCADE",
    ),
];

/// Every index, primary keys and unique keys included, as `pg_get_indexdef` prints it.
const INDEXES: &[(&str, &str)] = &[
    (
        "User_pkey",
        r#"CREATE UNIQUE INDEX "User_pkey" ON public."User" USING btree (id)"#,
    ),
    (
        "Project_pkey",
        r#"CREATE UNIQUE INDEX "Project_pkey" ON public."Project" USING btree (id)"#,
    ),
    (
        "Chapter_pkey",
        r#"CREATE UNIQUE INDEX "Chapter_pkey" ON public."Chapter" USING btree (id)"#,
    ),
    (
        "Scene_pkey",
        r#"CREATE UNIQUE INDEX "Scene_pkey" ON public."Scene" USING btree (id)"#,
    ),
    (
        "Entity_pkey",
        r#"CREATE UNIQUE INDEX "Entity_pkey" ON public."Entity" USING btree (id)"#,
    ),
    (
        "SceneEntity_pkey",
        r#"CREATE UNIQUE INDEX "SceneEntity_pkey" ON public."SceneEntity" USING btree ("sceneId", "entityId")"#,
    ),
    (
        "SceneEmbedding_pkey",
        r#"CREATE UNIQUE INDEX "SceneEmbedding_pkey" ON public."SceneEmbedding" USING btree ("sceneId")"#,
    ),
    (
        "EntityEmbedding_pkey",
        r#"CREATE UNIQUE INDEX "EntityEmbedding_pkey" ON public."EntityEmbedding" USING btree ("entityId")"#,
    ),
    (
        "User_email_key",
        r#"CREATE UNIQUE INDEX "User_email_key" ON public."User" USING btree (email)"#,
    ),
    (
        "Chapter_projectId_order_key",
        r#"CREATE UNIQUE INDEX "Chapter_projectId_order_key" ON public."Chapter" USING btree ("projectId", "order")"#,
    ),
    (
        "Project_userId_idx",
        r#"CREATE INDEX "Project_userId_idx" ON public."Project" USING btree ("userId")"#,
    ),
    (
        "SceneEntity_entityId_idx",
        r#"CREATE INDEX "SceneEntity_entityId_idx" ON public."SceneEntity" USING btree ("entityId")"#,
    ),
    (
        "scene_project_index",
        r#"CREATE INDEX scene_project_index ON public."Scene" USING btree ("projectId", index)"#,
    ),
    (
        "scene_chapter_order",
        r#"CREATE INDEX scene_chapter_order ON public."Scene" USING btree ("chapterId", "order")"#,
    ),
    (
        "entity_project_type",
        r#"CREATE INDEX entity_project_type ON public."Entity" USING btree ("projectId", type)"#,
    ),
    (
        "scene_content_search",
        r#"CREATE INDEX scene_content_search ON public."Scene" USING gin (to_tsvector('english'::regconfig, "contentMd"))"#,
    ),
    (
        "SceneEmbedding_embedding_idx",
        r#"CREATE INDEX "SceneEmbedding_embedding_idx" ON public."SceneEmbedding" USING hnsw (embedding vector_cosine_ops)"#,
    ),
    (
        "EntityEmbedding_embedding_idx",
        r#"CREATE INDEX "EntityEmbedding_embedding_idx" ON public."EntityEmbedding" USING hnsw (embedding vector_cosine_ops)"#,
    ),
];

const ENTITY_TYPES: &[&str] = &[
    "CHARACTER",
    "LOCATION",
    "ITEM",
    "ORGANIZATION",
    "EVENT",
    "CONCEPT",
];

/// The migration engine's history table is not part of Nelo's schema.
const HISTORY_TABLE: &str = "_prisma_migrations";

fn difference<T: Ord + std::fmt::Debug + Clone>(
    expected: &BTreeSet<T>,
    actual: &BTreeSet<T>,
) -> String {
    let missing: Vec<&T> = expected.difference(actual).collect();
    let unexpected: Vec<&T> = actual.difference(expected).collect();
    format!("\nmissing or changed: {missing:#?}\nunexpected: {unexpected:#?}")
}

#[tokio::test]
async fn tables_and_columns_match_the_spec() {
    let db = TestDatabase::new().await;
    let actual: BTreeSet<(String, String, String, bool, Option<String>)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
                NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND c.relname <> $1 AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(HISTORY_TABLE)
    .fetch_all(db.pool())
    .await
    .unwrap()
    .into_iter()
    .collect();
    let expected: BTreeSet<(String, String, String, bool, Option<String>)> = COLUMNS
        .iter()
        .map(|(table, column, data_type, nullable, default)| {
            (
                table.to_string(),
                column.to_string(),
                data_type.to_string(),
                *nullable,
                default.map(str::to_string),
            )
        })
        .collect();
    assert!(
        actual == expected,
        "columns differ from the spec:{}",
        difference(&expected, &actual)
    );
}

#[tokio::test]
async fn foreign_keys_and_their_rules_match_the_spec() {
    let db = TestDatabase::new().await;
    let query = format!(
        "SELECT con.conname::text, source.relname::text, {source_columns}, target.relname::text,
                {target_columns}, {on_delete}, {on_update}
         FROM pg_constraint con
         JOIN pg_class source ON source.oid = con.conrelid
         JOIN pg_class target ON target.oid = con.confrelid
         JOIN pg_namespace n ON n.oid = source.relnamespace
         WHERE con.contype = 'f' AND n.nspname = 'public'",
        source_columns = column_names_sql("con.conrelid", "con.conkey"),
        target_columns = column_names_sql("con.confrelid", "con.confkey"),
        on_delete = rule_sql("con.confdeltype"),
        on_update = rule_sql("con.confupdtype"),
    );
    let actual: BTreeSet<(String, String, String, String, String, String, String)> =
        sqlx::query_as(&query)
            .fetch_all(db.pool())
            .await
            .unwrap()
            .into_iter()
            .collect();
    let expected: BTreeSet<(String, String, String, String, String, String, String)> = FOREIGN_KEYS
        .iter()
        .map(
            |(name, table, columns, target, target_columns, on_delete, on_update)| {
                (
                    name.to_string(),
                    table.to_string(),
                    columns.to_string(),
                    target.to_string(),
                    target_columns.to_string(),
                    on_delete.to_string(),
                    on_update.to_string(),
                )
            },
        )
        .collect();
    assert!(
        actual == expected,
        "foreign keys differ from the spec:{}",
        difference(&expected, &actual)
    );
}

/// The names of the columns `keys` (an attnum array) of `table`, in key order.
fn column_names_sql(table: &str, keys: &str) -> String {
    format!(
        "(SELECT string_agg(a.attname, ', ' ORDER BY k.position)
          FROM unnest({keys}) WITH ORDINALITY AS k(attnum, position)
          JOIN pg_attribute a ON a.attrelid = {table} AND a.attnum = k.attnum)"
    )
}

/// A referential action as the SQL that declares it.
fn rule_sql(column: &str) -> String {
    format!(
        "CASE {column} WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' \
         WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END"
    )
}

#[tokio::test]
async fn indexes_and_unique_keys_match_the_spec() {
    let db = TestDatabase::new().await;
    let actual: BTreeSet<(String, String)> = sqlx::query_as(
        "SELECT index.relname::text, pg_get_indexdef(i.indexrelid)
         FROM pg_index i
         JOIN pg_class index ON index.oid = i.indexrelid
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = 'public' AND t.relname <> $1",
    )
    .bind(HISTORY_TABLE)
    .fetch_all(db.pool())
    .await
    .unwrap()
    .into_iter()
    .collect();
    let expected: BTreeSet<(String, String)> = INDEXES
        .iter()
        .map(|(name, definition)| (name.to_string(), definition.to_string()))
        .collect();
    assert!(
        actual == expected,
        "indexes differ from the spec:{}",
        difference(&expected, &actual)
    );
}

#[tokio::test]
async fn entity_type_enum_matches_the_spec() {
    let db = TestDatabase::new().await;
    let labels: Vec<String> = sqlx::query_scalar(
        "SELECT e.enumlabel::text FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
         WHERE t.typname = 'EntityType' ORDER BY e.enumsortorder",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(labels, ENTITY_TYPES);
}

/// The migration itself creates `vector`: deploy into a database made from `template0`, which
/// no init script can have touched.
#[tokio::test]
async fn deploy_into_an_empty_database_creates_the_vector_extension() {
    let db = EmptyDatabase::create().await;
    nelo_migrate::Migrator::new(nelo_db::migrations_dir())
        .deploy(&db.url, |_event| {})
        .await
        .unwrap();
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let version: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            .fetch_optional(&mut conn)
            .await
            .unwrap();
    assert!(
        version.is_some(),
        "the `vector` extension is missing after deploy"
    );
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> $1",
    )
    .bind(HISTORY_TABLE)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        tables as usize,
        COLUMNS
            .iter()
            .map(|column| column.0)
            .collect::<BTreeSet<_>>()
            .len()
    );
}

#[tokio::test]
async fn full_text_search_uses_scene_content_search() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await.unwrap();
    insert_scenes(&mut conn, 5_000).await;
    let plan = explain(
        &mut conn,
        r#"SELECT "id" FROM "Scene"
           WHERE to_tsvector('english', "contentMd") @@ plainto_tsquery('english', $1)"#,
        "lighthouse keeper",
    )
    .await;
    let used = index_names(&plan);
    assert!(
        used.contains(&"scene_content_search".to_string()),
        "plan uses {used:?}:\n{plan:#}"
    );
}

#[tokio::test]
async fn nearest_neighbours_use_the_hnsw_index() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await.unwrap();
    insert_scenes(&mut conn, 2_000).await;
    // A random vector per scene; the correlation on "index" makes it per row.
    conn.execute(
        r#"INSERT INTO "SceneEmbedding" ("sceneId", "model", "contentHash", "embedding", "updatedAt")
           SELECT "id", 'random', md5("id"),
                  (SELECT array_agg(random()::real) FROM generate_series(1, 1536) WHERE "index" > 0)::vector,
                  now()
           FROM "Scene";
           ANALYZE "SceneEmbedding";"#,
    )
    .await
    .unwrap();
    let query_vector =
        nelo_db::embedding::vector_literal(&nelo_db::embedding::pseudo_embedding("the sea"));
    let plan = explain(
        &mut conn,
        r#"SELECT "sceneId" FROM "SceneEmbedding" ORDER BY "embedding" <=> $1::vector LIMIT 10"#,
        &query_vector,
    )
    .await;
    let used = index_names(&plan);
    assert!(
        used.contains(&"SceneEmbedding_embedding_idx".to_string()),
        "plan uses {used:?}:\n{plan:#}"
    );
}

/// `count` scenes of a few paragraphs each in one project; one in 500 mentions the keeper.
async fn insert_scenes(conn: &mut PgConnection, count: i32) {
    conn.execute(
        r#"INSERT INTO "User" ("id", "email", "updatedAt") VALUES ('u', 'u@example.com', now());
           INSERT INTO "Project" ("id", "userId", "title", "updatedAt") VALUES ('p', 'u', 'P', now())"#,
    )
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO "Scene" ("id", "projectId", "index", "order", "contentMd", "wordCount", "updatedAt")
           SELECT 'scene-' || i, 'p', i, i,
                  CASE WHEN i % 500 = 0 THEN 'The lighthouse keeper counted the stairs. ' ELSE '' END
                  || repeat('The tide came in over the flats, and the gulls settled on the wall. ', 12)
                  || 'Scene number ' || i || '.',
                  150, now()
           FROM generate_series(1, $1) AS i;"#,
    )
    .bind(count)
    .execute(&mut *conn)
    .await
    .unwrap();
    conn.execute(r#"ANALYZE "Scene""#).await.unwrap();
}

async fn explain(conn: &mut PgConnection, query: &str, parameter: &str) -> serde_json::Value {
    let plan: serde_json::Value = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) {query}"))
        .bind(parameter)
        .fetch_one(conn)
        .await
        .unwrap();
    plan
}

/// Every "Index Name" anywhere in a JSON plan.
fn index_names(plan: &serde_json::Value) -> Vec<String> {
    let mut names = Vec::new();
    match plan {
        serde_json::Value::Object(node) => {
            for (key, value) in node {
                match (key.as_str(), value) {
                    ("Index Name", serde_json::Value::String(name)) => names.push(name.clone()),
                    _ => names.extend(index_names(value)),
                }
            }
        }
        serde_json::Value::Array(nodes) => names.extend(nodes.iter().flat_map(index_names)),
        _ => {}
    }
    names
}

/// A database made from `template0`, dropped with the guard; named like a test database so
/// that a killed run's copy is swept.
struct EmptyDatabase {
    url: String,
    _drop: DropOnExit,
}

impl EmptyDatabase {
    async fn create() -> EmptyDatabase {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let name = names::test_database_name(
            now.as_secs(),
            testing::this_host_tag(),
            std::process::id(),
            3_000_000_000 + now.subsec_micros(),
        );
        let guard = DropOnExit(vec![name.clone()]);
        nelo_migrate::postgres::create_database(&mut admin().await, &name, Some("template0"))
            .await
            .unwrap();
        let mut url = url::Url::parse(&server_url()).unwrap();
        url.set_path(&name);
        EmptyDatabase {
            url: url.to_string(),
            _drop: guard,
        }
    }
}
