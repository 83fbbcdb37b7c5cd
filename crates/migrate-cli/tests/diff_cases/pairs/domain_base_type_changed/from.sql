CREATE DOMAIN code AS varchar(3);
