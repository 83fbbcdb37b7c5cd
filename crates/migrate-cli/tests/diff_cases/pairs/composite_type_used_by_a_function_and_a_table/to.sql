CREATE TYPE money_amount AS (amount numeric(12,2), currency char(3));
CREATE FUNCTION total(m money_amount) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT m.amount';
CREATE TABLE t (id int, price money_amount);
