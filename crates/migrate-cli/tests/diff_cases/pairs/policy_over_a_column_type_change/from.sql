CREATE TABLE doc (id int PRIMARY KEY, level int NOT NULL);
CREATE POLICY doc_level ON doc USING (level > 0);
