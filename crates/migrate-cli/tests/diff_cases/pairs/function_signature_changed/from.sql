CREATE FUNCTION area(w int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT w * w';
CREATE VIEW squares AS SELECT area(2) AS a;
CREATE TABLE plot (w int CHECK (area(w) < 1000) DEFAULT area(3));
