CREATE TABLE note (id int PRIMARY KEY, owner text NOT NULL DEFAULT current_user, body text);
ALTER TABLE note ENABLE ROW LEVEL SECURITY;
CREATE POLICY note_read ON note FOR SELECT USING (true);
