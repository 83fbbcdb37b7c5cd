CREATE TABLE doc (id int PRIMARY KEY, secret boolean);
CREATE POLICY doc_public ON doc USING (NOT secret);
