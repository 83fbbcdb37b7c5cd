CREATE TABLE t (id int) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_enabled = true);
