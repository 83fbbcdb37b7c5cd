CREATE TYPE pair AS (b text, a bigint, c text COLLATE "C");
