CREATE FUNCTION allowed(text) RETURNS int LANGUAGE sql STABLE AS 'SELECT CASE WHEN $1 = current_user THEN 1 ELSE 0 END';
CREATE TABLE note (id int PRIMARY KEY, owner text NOT NULL DEFAULT current_user, body text);
CREATE POLICY note_allowed ON note USING (allowed(owner) = 1);
