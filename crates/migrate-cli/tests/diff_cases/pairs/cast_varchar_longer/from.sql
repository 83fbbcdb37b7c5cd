CREATE TABLE t (id int PRIMARY KEY, code varchar(20));
CREATE VIEW codes AS SELECT code FROM t;
