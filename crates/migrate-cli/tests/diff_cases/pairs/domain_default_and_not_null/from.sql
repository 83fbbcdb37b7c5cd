CREATE DOMAIN d AS integer;
CREATE TABLE t (x d);
