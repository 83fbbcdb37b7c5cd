CREATE TABLE note (id int PRIMARY KEY, owner text NOT NULL DEFAULT current_user, body text);
CREATE VIEW owners AS SELECT DISTINCT owner FROM note;
CREATE TABLE tag (owner text);
CREATE POLICY tag_owner ON tag USING (owner IN (SELECT owner FROM owners));
