CREATE DOMAIN email AS text NOT NULL CHECK (VALUE ~ '@');
CREATE TABLE t (id int, contact email);
