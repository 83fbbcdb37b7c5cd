CREATE TABLE a (id int PRIMARY KEY, x int, y int);
CREATE TABLE b (id int PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY);
CREATE PUBLICATION nelo_case_members FOR TABLE a (id, x), b;
