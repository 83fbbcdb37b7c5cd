CREATE TABLE note (id int PRIMARY KEY, owner text NOT NULL DEFAULT current_user, body text);
CREATE POLICY note_p ON note FOR SELECT USING (true);
