CREATE FUNCTION allowed(text) RETURNS boolean LANGUAGE sql STABLE AS 'SELECT $1 = current_user';
CREATE TABLE note (id int PRIMARY KEY, owner text NOT NULL DEFAULT current_user, body text);
CREATE POLICY note_allowed ON note USING (allowed(owner));
