-- A schema that touches every kind `diff` compares (the "before" side).
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE SCHEMA audit;
CREATE TYPE "Role" AS ENUM ('READER', 'WRITER', 'ADMIN');
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE SEQUENCE ticket_seq AS integer START WITH 100 INCREMENT BY 5;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW."updatedAt" := now();
  RETURN NEW;
END
$$;
CREATE FUNCTION slug(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower($1) $$;
CREATE TABLE "User" (
  id serial PRIMARY KEY,
  email text COLLATE "C" NOT NULL,
  role "Role" NOT NULL DEFAULT 'READER',
  mood mood DEFAULT 'happy',
  moods mood[] NOT NULL DEFAULT ARRAY[]::mood[],
  age text,
  nickname text,
  "updatedAt" timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "User_email_key" UNIQUE NULLS NOT DISTINCT (email),
  CONSTRAINT age_check CHECK (length(age) < 4)
);
CREATE TABLE "Post" (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "authorId" int NOT NULL,
  title text NOT NULL,
  title_slug text GENERATED ALWAYS AS (lower(title)) STORED,
  body text NOT NULL DEFAULT '',
  embedding vector(3),
  during tstzrange,
  ticket int DEFAULT nextval('ticket_seq'),
  CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"(id)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  CONSTRAINT post_no_overlap EXCLUDE USING gist ("authorId" WITH =, during WITH &&)
);
CREATE UNLOGGED TABLE cache (key text PRIMARY KEY, value jsonb);
CREATE TABLE audit.log (id int PRIMARY KEY, at timestamptz DEFAULT now(), "userId" int);
ALTER TABLE audit.log ADD CONSTRAINT log_user_fkey FOREIGN KEY ("userId") REFERENCES "User"(id) NOT VALID;
CREATE INDEX post_title_trgm ON "Post" USING gin (title gin_trgm_ops);
CREATE INDEX post_body_fts ON "Post" USING gin (to_tsvector('english', body));
CREATE INDEX post_embedding_hnsw ON "Post" USING hnsw (embedding vector_cosine_ops) WITH (m = 16);
CREATE INDEX post_embedding_ivf ON "Post" USING ivfflat (embedding vector_l2_ops) WITH (lists = 10);
CREATE INDEX user_email_partial ON "User" (email) INCLUDE (role) WHERE nickname IS NOT NULL;
CREATE INDEX user_slug ON "User" (slug(email));
CREATE VIEW writers AS SELECT id, email, age FROM "User" WHERE role = 'WRITER';
CREATE VIEW writer_emails AS SELECT email FROM writers;
CREATE MATERIALIZED VIEW post_counts AS SELECT "authorId", count(*) AS n FROM "Post" GROUP BY 1;
CREATE UNIQUE INDEX post_counts_author ON post_counts ("authorId");
CREATE TRIGGER user_touch BEFORE UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER user_touch_age BEFORE UPDATE OF age ON "User" FOR EACH ROW EXECUTE FUNCTION touch();
CREATE PROCEDURE cleanup() LANGUAGE sql AS $$ DELETE FROM cache $$;
COMMENT ON TABLE "User" IS 'people';
COMMENT ON COLUMN "User".email IS 'login';
COMMENT ON VIEW writers IS 'who writes';
COMMENT ON FUNCTION slug(text) IS 'slugify';
