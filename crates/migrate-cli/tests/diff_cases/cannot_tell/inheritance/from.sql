CREATE TABLE parent (id int, a text);
