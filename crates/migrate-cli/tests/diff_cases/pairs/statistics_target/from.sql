CREATE TABLE t (a int, b int);
CREATE STATISTICS t_ab (dependencies) ON a, b FROM t;
