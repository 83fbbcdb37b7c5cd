CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE t (id int);
