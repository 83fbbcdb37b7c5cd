CREATE TABLE t (id int PRIMARY KEY, a bigint);
CREATE VIEW v AS SELECT id, a FROM t;
GRANT SELECT ON v TO pg_read_all_data;
