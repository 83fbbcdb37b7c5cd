CREATE TABLE t (id int PRIMARY KEY, secret text);
CREATE VIEW v AS SELECT id FROM t;
GRANT UPDATE (secret) ON t TO pg_write_all_data WITH GRANT OPTION;
GRANT SELECT (id) ON v TO pg_read_all_data;
