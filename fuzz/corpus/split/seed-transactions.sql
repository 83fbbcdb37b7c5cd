-- nelo:no-transaction
BEGIN;
ALTER TYPE "Role" ADD VALUE 'EDITOR';
COMMIT;
CREATE INDEX CONCURRENTLY "idx" ON "Doc" ("title");
VACUUM;
