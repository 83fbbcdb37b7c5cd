CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TABLE t (id int, span floatrange);
COMMENT ON TYPE floatrange IS 'spans';
