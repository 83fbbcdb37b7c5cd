-- Nelo's database schema, declared: what the migrations in migrations/ build, table by table.
--
-- This file is the source of a schema change (README, "Changing the schema"): edit it, then
-- `cargo xtask db migrate create --name NAME --from-schema schema.sql` writes the migration that
-- takes the database from what migrations/ builds to what this file declares. The test suite
-- fails while the two disagree (crates/db/tests/schema_file.rs).
--
-- Deliberate choices:
--   * deleting a User is RESTRICTed while they own projects: manuscripts are never removed as a
--     side effect; everything below a Project cascades with it;
--   * a Scene survives the deletion of its Chapter ("chapterId" becomes NULL: unplaced draft);
--   * scene order within a chapter is indexed (scene_chapter_order) but not unique, so that
--     reordering scenes is a plain UPDATE; chapter order within a project is unique;
--   * embeddings live in their own tables (one row per scene or entity, with the model and a
--     hash of the embedded text) so that Scene stays narrow and stale vectors are detectable.

CREATE EXTENSION IF NOT EXISTS "vector";

CREATE TYPE "EntityType" AS ENUM ('CHARACTER', 'LOCATION', 'ITEM', 'ORGANIZATION', 'EVENT', 'CONCEPT');

-- A writer.
CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

-- A manuscript, owned by one writer.
CREATE TABLE "Project" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "description" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Project_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "Project_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "Project_userId_idx" ON "Project"("userId");

CREATE TABLE "Chapter" (
    "id" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "order" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Chapter_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "Chapter_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "Chapter_projectId_order_key" ON "Chapter"("projectId", "order");

-- The text itself, in Markdown; "index" is its place in the project, "order" in its chapter.
CREATE TABLE "Scene" (
    "id" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "chapterId" TEXT,
    "index" INTEGER NOT NULL,
    "order" INTEGER NOT NULL,
    "title" TEXT,
    "contentMd" TEXT NOT NULL DEFAULT '',
    "wordCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Scene_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "Scene_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Scene_chapterId_fkey" FOREIGN KEY ("chapterId") REFERENCES "Chapter"("id") ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE INDEX "scene_project_index" ON "Scene"("projectId", "index");
CREATE INDEX "scene_chapter_order" ON "Scene"("chapterId", "order");
-- Text search; queries must use the same expression, to_tsvector('english', "contentMd").
CREATE INDEX "scene_content_search" ON "Scene" USING gin(to_tsvector('english', "contentMd"));

-- Characters, places, things... that the scenes mention.
CREATE TABLE "Entity" (
    "id" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "type" "EntityType" NOT NULL,
    "name" TEXT NOT NULL,
    "aliases" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "description" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Entity_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "Entity_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "entity_project_type" ON "Entity"("projectId", "type");

CREATE TABLE "SceneEntity" (
    "sceneId" TEXT NOT NULL,
    "entityId" TEXT NOT NULL,
    "mentionCount" INTEGER NOT NULL DEFAULT 1,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "SceneEntity_pkey" PRIMARY KEY ("sceneId", "entityId"),
    CONSTRAINT "SceneEntity_sceneId_fkey" FOREIGN KEY ("sceneId") REFERENCES "Scene"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "SceneEntity_entityId_fkey" FOREIGN KEY ("entityId") REFERENCES "Entity"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "SceneEntity_entityId_idx" ON "SceneEntity"("entityId");

-- One embedding per scene and per entity, with the model and a hash of the embedded text.
-- Nearest-neighbour search by cosine distance (`ORDER BY "embedding" <=> $1`) uses HNSW.
CREATE TABLE "SceneEmbedding" (
    "sceneId" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "contentHash" TEXT NOT NULL,
    "embedding" vector(1536) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "SceneEmbedding_pkey" PRIMARY KEY ("sceneId"),
    CONSTRAINT "SceneEmbedding_sceneId_fkey" FOREIGN KEY ("sceneId") REFERENCES "Scene"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "SceneEmbedding_embedding_idx" ON "SceneEmbedding" USING hnsw ("embedding" vector_cosine_ops);

CREATE TABLE "EntityEmbedding" (
    "entityId" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "contentHash" TEXT NOT NULL,
    "embedding" vector(1536) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "EntityEmbedding_pkey" PRIMARY KEY ("entityId"),
    CONSTRAINT "EntityEmbedding_entityId_fkey" FOREIGN KEY ("entityId") REFERENCES "Entity"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "EntityEmbedding_embedding_idx" ON "EntityEmbedding" USING hnsw ("embedding" vector_cosine_ops);
