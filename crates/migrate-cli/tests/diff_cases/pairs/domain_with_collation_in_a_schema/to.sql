CREATE SCHEMA app;
CREATE DOMAIN app.label AS text COLLATE "C" CHECK (length(VALUE) < 64);
CREATE TABLE app.item (id int, name app.label);
