CREATE TABLE event (id int, at date) PARTITION BY RANGE (at);
