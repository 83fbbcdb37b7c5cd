CREATE TABLE note (id int PRIMARY KEY, owner text NOT NULL DEFAULT current_user, body text);
CREATE POLICY note_p ON note AS RESTRICTIVE FOR UPDATE USING (owner = current_user) WITH CHECK (body IS NOT NULL);
