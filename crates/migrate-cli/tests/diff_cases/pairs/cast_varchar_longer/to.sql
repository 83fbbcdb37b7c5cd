CREATE TABLE t (id int PRIMARY KEY, code varchar(40));
CREATE VIEW codes AS SELECT code FROM t;
