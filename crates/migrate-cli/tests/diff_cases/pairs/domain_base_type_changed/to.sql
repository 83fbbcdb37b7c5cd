CREATE DOMAIN code AS varchar(5);
