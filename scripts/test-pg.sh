#!/usr/bin/env bash
# Runs a command (by default the whole test suite) against a throwaway
# PostgreSQL: initdb into a temporary directory, a server listening only on
# a Unix socket in that directory, and WHAPIDESK_TEST_DATABASE_URL pointing
# at it, from which internal/testdb gives every test a fresh schema of its
# own. The server is stopped and the directory removed however the command
# ends. No Docker: the server binaries of the `postgresql` package (Debian
# puts them in /usr/lib/postgresql/<version>/bin, off the PATH) or any on
# the PATH.
#
#   scripts/test-pg.sh                      go test -race -count=1 ./...
#   scripts/test-pg.sh go test -run X ./models
#
# Without PostgreSQL it says so and exits 0 (skipped), unless CI=true, when
# a missing PostgreSQL fails the run.
set -euo pipefail

find_bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
		if [[ -x $d/initdb && -x $d/pg_ctl ]]; then echo "$d"; return; fi
	done
	if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(command -v initdb)"; return
	fi
	if command -v pg_config >/dev/null && [[ -x $(pg_config --bindir)/initdb ]]; then
		pg_config --bindir; return
	fi
}

bindir=$(find_bindir || true)
if [[ -z $bindir ]]; then
	if [[ ${CI:-} == true ]]; then
		echo "test-pg: PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)" >&2
		exit 1
	fi
	echo "test-pg: skipped: PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)" >&2
	exit 0
fi

if [[ $# -eq 0 ]]; then
	set -- go test -race -count=1 ./...
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/whapidesk-pg.XXXXXX")
# PostgreSQL refuses to run as root: as root, the server runs as the
# postgres user (the package makes it) or nobody.
as=()
if [[ $(id -u) == 0 ]]; then
	user=postgres
	getent passwd postgres >/dev/null || user=nobody
	chown "$user" "$dir"
	as=(runuser -u "$user" --)
fi

stop() {
	"${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

"${as[@]}" "$bindir/initdb" -D "$dir/data" -U whapidesk -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }
# Durability is not needed for a throwaway server: fsync off makes it fast.
"${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
	"-c listen_addresses= -k $dir -c unix_socket_permissions=0777 -c max_connections=500 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null ||
	{ cat "$dir/server.log" >&2; exit 1; }

export WHAPIDESK_TEST_DATABASE_URL="postgres://whapidesk@/postgres?host=$dir&sslmode=disable"
echo "test-pg: PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') on $dir" >&2
"$@"
