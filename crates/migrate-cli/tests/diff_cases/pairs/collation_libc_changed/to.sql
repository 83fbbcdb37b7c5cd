CREATE COLLATION plain (provider = libc, locale = 'POSIX');
