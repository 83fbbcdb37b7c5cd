CREATE TABLE t (id int, note text);
COPY t (id, note) FROM stdin;
1	semi;colon
2	\N
\.
SELECT setval('s', 2); -- done
