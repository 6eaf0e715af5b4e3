#!/bin/bash
# The official postgres image's contract on Debian's server: POSTGRES_USER (postgres),
# POSTGRES_PASSWORD, POSTGRES_DB (= user), POSTGRES_HOST_AUTH_METHOD, POSTGRES_INITDB_ARGS,
# PGDATA, *.sql / *.sh in /docker-entrypoint-initdb.d; arguments after "postgres" go to the server.
# Each POSTGRES_* may come from a file named by POSTGRES_*_FILE (a secret), read as root.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
  for var in POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB POSTGRES_INITDB_ARGS; do
    file_var=${var}_FILE
    if [ -n "${!file_var:-}" ]; then
      [ -z "${!var:-}" ] || { echo "error: both $var and $file_var are set" >&2; exit 1; }
      export "$var=$(<"${!file_var}")"
      unset "$file_var"
    fi
  done
  mkdir -p "$PGDATA" /run/postgresql
  chown postgres:postgres "$PGDATA" /run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
[ "${1:-}" = postgres ] && shift
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
auth=${POSTGRES_HOST_AUTH_METHOD:-}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ -z "$auth" ]; then
    echo "error: database is uninitialized and no superuser password is set;" \
      "set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections" >&2
    exit 1
  fi
  pwfile=()
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    printf '%s\n' "$POSTGRES_PASSWORD" >/run/postgresql/pwfile
    pwfile=(--pwfile=/run/postgresql/pwfile)
  fi
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list, as in the official image
  initdb --username="$user" "${pwfile[@]}" ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f /run/postgresql/pwfile
  printf 'local all all trust\nhost all all all %s\n' "${auth:-scram-sha-256}" >"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$db" != postgres ]; then
    createdb --username="$user" "$db"
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sql) psql -v ON_ERROR_STOP=1 --username="$user" --dbname="$db" -f "$f" ;;
      *.sh) . "$f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi
exec postgres -c listen_addresses='*' "$@"
