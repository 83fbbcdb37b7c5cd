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
# An empty data directory is initialised once; afterwards the server starts as it is. The
# initialisation is complete or absent: its marker is written last, and a data directory
# that an interrupted first start left (initdb began, no server ever ran on it, so it holds
# no data) is refused with exit code 3, for `cargo xtask db up` to recreate its volume.
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

MARKER="$PGDATA/.nelo-initialised"

# The data directory is whole: this entrypoint finished initialising it (its marker), or a
# server has run on it (postmaster.opts), or it predates the marker and its initialisation
# finished (this entrypoint and the official image's append the `host all all all` line to
# pg_hba.conf once initdb has succeeded).
initialised() {
	[ -e "$MARKER" ] || [ -e "$PGDATA/postmaster.opts" ] ||
		grep -qs '^host all all all ' "$PGDATA/pg_hba.conf"
}

# Everything in the data directory is what initdb creates before it writes PG_VERSION.
only_initdb_skeleton() {
	for entry in "$PGDATA"/* "$PGDATA"/.[!.]*; do
		[ -e "$entry" ] || continue
		case "${entry##*/}" in
		base | global | pg_commit_ts | pg_dynshmem | pg_logical | pg_multixact | pg_notify | \
			pg_replslot | pg_serial | pg_snapshots | pg_stat | pg_stat_tmp | pg_subtrans | \
			pg_tblspc | pg_twophase | pg_wal | pg_xact | postgresql.conf | \
			postgresql.auto.conf | pg_hba.conf | pg_ident.conf) ;;
		*) return 1 ;;
		esac
	done
}

if [ -n "$(ls -A "$PGDATA")" ] && ! initialised &&
	{ [ -e "$PGDATA/PG_VERSION" ] || only_initdb_skeleton; }; then
	echo "nelo: $PGDATA holds an interrupted initialisation: initdb began but never finished and no server ever ran on it, so it holds no data" >&2
	echo "      remove the volume and start again (\`cargo xtask db up\` does this for the volumes it created)" >&2
	exit 3
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
	# Last: the marker says the initialisation is whole, and with which user.
	printf 'user=%s\n' "$POSTGRES_USER" >"$MARKER.tmp"
	sync "$MARKER.tmp"
	mv "$MARKER.tmp" "$MARKER"
	sync "$PGDATA"
	echo "initialised $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
fi

exec postgres -c listen_addresses='*' "$@"
