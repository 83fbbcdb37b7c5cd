CREATE TABLE t (id int PRIMARY KEY);
GRANT SELECT ON t TO pg_read_all_data;
