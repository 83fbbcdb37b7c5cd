CREATE TABLE t (id int PRIMARY KEY, price numeric(14,4));
