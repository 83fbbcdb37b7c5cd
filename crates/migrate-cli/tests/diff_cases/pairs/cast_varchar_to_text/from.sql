CREATE TABLE t (id int PRIMARY KEY, code varchar(20)[]);
