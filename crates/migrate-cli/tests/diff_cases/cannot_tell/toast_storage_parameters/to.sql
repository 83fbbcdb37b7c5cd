CREATE TABLE t (id int, body text) WITH (toast.autovacuum_enabled = false);
