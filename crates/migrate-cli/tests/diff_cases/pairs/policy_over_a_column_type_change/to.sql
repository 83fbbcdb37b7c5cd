CREATE TABLE doc (id int PRIMARY KEY, level bigint NOT NULL);
CREATE POLICY doc_level ON doc USING (level > 0);
