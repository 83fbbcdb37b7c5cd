CREATE TABLE parent (id int, a text);
CREATE TABLE child (b int) INHERITS (parent);
