#!/bin/sh
# Entrypoint of nelo's locally built PostgreSQL 17 + pgvector image.
#
# It honours the variables of the official postgres image, so the same container spec works
# with either image:
#   POSTGRES_USER      superuser to create (default: postgres)
#   POSTGRES_PASSWORD  its password (required unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_DB        database to create (default: $POSTGRES_USER)
#   PGDATA             data directory (default: /var/lib/postgresql/data)
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD  as in the official image
#
# An empty data directory is initialised once; afterwards the server starts as it is.
set -eu

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
export PGDATA

# Flags alone are the server's (`docker run IMAGE -c fsync=off`), as in the official image.
case "${1:-}" in
-*) set -- postgres "$@" ;;
esac

# Anything other than the server (`docker run IMAGE psql ...`) runs as given.
if [ "${1:-postgres}" != postgres ]; then
	exec "$@"
fi
[ $# -gt 0 ] && shift

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	# Only fix ownership when it is wrong: a recursive chown of a large volume is slow.
	if [ "$(stat -c %u "$PGDATA")" != "$(id -u postgres)" ]; then
		chown -R postgres:postgres "$PGDATA"
	fi
	chown postgres:postgres /var/run/postgresql
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

quote_ident() {
	printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		echo "error: the database is uninitialised and POSTGRES_PASSWORD is not set" >&2
		echo "       set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust, for throwaway servers only)" >&2
		exit 1
	fi
	password_file=$(mktemp)
	printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$password_file"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of flags, as in the official image
	initdb --username="$POSTGRES_USER" --pwfile="$password_file" \
		--auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" \
		--encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} >/dev/null
	rm -f "$password_file"
	printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
	if [ "$POSTGRES_DB" != postgres ]; then
		echo "CREATE DATABASE $(quote_ident "$POSTGRES_DB");" |
			postgres --single -D "$PGDATA" postgres >/dev/null
	fi
	echo "initialised $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
fi

exec postgres -c listen_addresses='*' "$@"
