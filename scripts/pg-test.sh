#!/bin/sh
# A throwaway PostgreSQL 15 cluster for the store tests (tests/unit/test_store_pg.c).
#
#   eval "$(sh scripts/pg-test.sh start)"   # exports PSKPROV_TEST_PG and PSKPROV_PG_DIR
#   ./build/test_store_pg
#   sh scripts/pg-test.sh stop              # or: stop DIR
#
#   sh scripts/pg-test.sh run CMD [ARG...]  # start, run CMD with the two variables set,
#                                           # stop (also on failure); CMD's exit status
#
# The cluster lives in a fresh 0700 directory /tmp/pskprov-pg.XXXXXX: initdb into
# DIR/data, a Unix socket in DIR/sock and a TCP port on 127.0.0.1 only (no other
# address). Run as root, the server runs as the `postgres` user; else as the current
# user. The socket (the directory is private) trusts local connections; TCP needs the
# superuser's random password, kept in DIR/pgpass (0600) and never in the conninfo:
# PSKPROV_TEST_PG names the socket, the port, the database and the user.
# Only lines for `eval` go to standard output; progress and errors go to stderr.
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DB=pskprov_test
MARK=.pskprov-pg-test

say() { echo "pg-test: $*" >&2; }
die() {
	say "$*"
	exit 1
}

# Runs a command as the cluster's owner.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	[ -x "$PGBIN/initdb" ] || die "no PostgreSQL 15 in $PGBIN (install postgresql-15)"
	dir=$(mktemp -d /tmp/pskprov-pg.XXXXXX)
	chmod 0700 "$dir"
	: >"$dir/$MARK"
	mkdir -m 0700 "$dir/sock"
	if [ "$(id -u)" -eq 0 ]; then
		getent passwd postgres >/dev/null || die "running as root needs a 'postgres' user"
		chown -R postgres: "$dir"
		user=postgres
	else
		user=$(id -un)
	fi
	# The superuser's password, for TCP only; written before initdb reads it.
	pw=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
	(umask 077 && printf '%s\n' "$pw" >"$dir/pwfile")
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pwfile"
	if ! as_owner "$PGBIN/initdb" -D "$dir/data" -U "$user" --pwfile="$dir/pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
		--no-instructions >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		rm -rf "$dir"
		die "initdb failed"
	fi
	rm -f "$dir/pwfile"

	# A free loopback port: try a few from a random start.
	base=$(( ($(od -An -tu2 -N2 /dev/urandom | tr -d ' ') % 2000) + 55000 ))
	port=""
	i=0
	while [ $i -lt 20 ]; do
		p=$((base + i))
		if as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
			-o "-c listen_addresses=127.0.0.1 -p $p -k $dir/sock -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=40" \
			start >/dev/null 2>&1; then
			port=$p
			break
		fi
		i=$((i + 1))
	done
	if [ -z "$port" ]; then
		cat "$dir/server.log" >&2 2>/dev/null || true
		rm -rf "$dir"
		die "could not start PostgreSQL on a loopback port"
	fi
	(umask 077 && printf '127.0.0.1:%s:*:%s:%s\n' "$port" "$user" "$pw" >"$dir/pgpass")
	if ! as_owner "$PGBIN/createdb" -h "$dir/sock" -p "$port" -U "$user" "$DB" >&2; then
		stop_dir "$dir"
		die "createdb failed"
	fi
	say "PostgreSQL 15 on $dir/sock and 127.0.0.1:$port (database $DB, user $user)"
	echo "PSKPROV_PG_DIR='$dir'; export PSKPROV_PG_DIR;"
	echo "PSKPROV_TEST_PG='host=$dir/sock port=$port dbname=$DB user=$user'; export PSKPROV_TEST_PG;"
}

stop_dir() {
	dir=$1
	case "$dir" in
	/tmp/pskprov-pg.*) ;;
	*) die "refusing to remove '$dir': not a pg-test directory" ;;
	esac
	[ -f "$dir/$MARK" ] || die "refusing to remove '$dir': no $MARK marker"
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			say "pg_ctl stop failed; removing anyway"
	fi
	rm -rf "$dir"
	say "stopped and removed $dir"
}

cmd=${1:-}
case "$cmd" in
start)
	start
	;;
stop)
	d=${2:-${PSKPROV_PG_DIR:-}}
	[ -n "$d" ] || die "usage: pg-test.sh stop DIR (or set PSKPROV_PG_DIR)"
	stop_dir "$d"
	;;
run)
	shift
	[ $# -ge 1 ] || die "usage: pg-test.sh run CMD [ARG...]"
	env_lines=$(start)
	eval "$env_lines"
	trap 'stop_dir "$PSKPROV_PG_DIR"' EXIT INT TERM
	rc=0
	"$@" || rc=$?
	exit $rc
	;;
*)
	die "usage: pg-test.sh start | stop [DIR] | run CMD [ARG...]"
	;;
esac
