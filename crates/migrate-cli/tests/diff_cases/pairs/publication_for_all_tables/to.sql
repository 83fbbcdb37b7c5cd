CREATE TABLE t (id int PRIMARY KEY);
CREATE PUBLICATION nelo_case_all FOR ALL TABLES WITH (publish_via_partition_root = true);
