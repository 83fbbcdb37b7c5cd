CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO pg_read_all_data;
