CREATE COLLATION plain (provider = libc, locale = 'C');
