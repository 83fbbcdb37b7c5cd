CREATE FUNCTION is_slug(text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT $1 ~ '^[a-z-]+$' $$;
CREATE TABLE page (id int PRIMARY KEY, slug text CHECK (is_slug(slug)));
