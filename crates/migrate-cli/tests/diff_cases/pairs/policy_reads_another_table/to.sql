CREATE TABLE member (name text PRIMARY KEY);
CREATE TABLE note (id int PRIMARY KEY, owner text NOT NULL DEFAULT current_user, body text);
ALTER TABLE note ENABLE ROW LEVEL SECURITY;
CREATE POLICY note_members ON note FOR SELECT USING (EXISTS (SELECT FROM member m WHERE m.name = note.owner));
