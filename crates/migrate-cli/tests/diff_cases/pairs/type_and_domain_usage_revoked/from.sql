CREATE TYPE mood AS ENUM ('calm');
CREATE DOMAIN email AS text;
CREATE TYPE pair AS (a int);
