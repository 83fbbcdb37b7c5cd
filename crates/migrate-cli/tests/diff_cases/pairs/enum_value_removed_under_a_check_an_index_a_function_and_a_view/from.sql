CREATE TYPE mood AS ENUM ('calm', 'sad', 'happy');
CREATE TABLE note (id int PRIMARY KEY, mood mood NOT NULL DEFAULT 'calm', CONSTRAINT not_sad CHECK (mood <> 'happy'));
CREATE INDEX note_calm ON note (id) WHERE mood = 'calm';
CREATE FUNCTION is_calm(m mood) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT m = 'calm' $$;
CREATE VIEW calm_notes AS SELECT id FROM note WHERE mood = 'calm';
