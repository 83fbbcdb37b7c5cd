CREATE TABLE t (id int PRIMARY KEY, name text);
GRANT SELECT (name) ON t TO pg_read_all_data;
