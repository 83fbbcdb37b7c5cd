CREATE TABLE t (a int, b text);
CREATE STATISTICS t_expr (mcv) ON a, lower(b) FROM t;
ALTER STATISTICS t_expr SET STATISTICS 200;
