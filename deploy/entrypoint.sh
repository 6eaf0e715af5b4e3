#!/bin/sh
# The roles of the luigi-ufo image (deploy/compose.yaml):
#   spark-master | spark-worker [MASTER_URL] | luigid | luigi-worker TASK [ARGS]
# (a task of luigi_ufo.ufo, or of another --module); any other command runs as given.
# Starts as root only to read the mounted PostgreSQL password secret (PGPASSWORD_FILE) into a
# private .pgpass on a tmpfs; every role then runs as the unprivileged user ufo.
set -eu

if [ "$(id -u)" = 0 ]; then
  if [ -n "${PGPASSWORD_FILE:-}" ]; then
    # libpq's .pgpass format: any host, port, database and user; ':' and '\' escaped.
    pgpass=/run/luigi-ufo/pgpass
    install -d -m 700 -o ufo -g ufo /run/luigi-ufo  # a tmpfs mounts root's, 0755
    umask 077
    printf '*:*:*:*:%s\n' "$(sed 's/[\\:]/\\&/g' "$PGPASSWORD_FILE")" >"$pgpass"
    chown ufo:ufo "$pgpass"
    export PGPASSFILE="$pgpass"
    unset PGPASSWORD_FILE
  fi
  exec setpriv --reuid=ufo --regid=ufo --init-groups "$0" "$@"
fi

role=${1:-}
[ $# -eq 0 ] || shift
case $role in
  spark-master)
    exec spark-class org.apache.spark.deploy.master.Master \
      --host "$(hostname)" --port 7077 --webui-port 8080 "$@" ;;
  spark-worker)
    # SPARK_WORKER_CORES and SPARK_WORKER_MEMORY size it (compose.yaml sets them).
    exec spark-class org.apache.spark.deploy.worker.Worker \
      --work-dir /tmp/spark-work "${1:-spark://spark-master:7077}" ;;
  luigid)
    exec luigid --address 0.0.0.0 --port 8082 --state-path /var/lib/luigid/state.pickle "$@" ;;
  luigi-worker)
    [ $# -gt 0 ] || { echo "usage: luigi-worker TASK [--date D ...]" >&2; exit 2; }
    exec luigi --module luigi_ufo.ufo "$@" ;;
  '')
    echo "usage: spark-master | spark-worker [MASTER_URL] | luigid | luigi-worker TASK [ARGS]" >&2
    exit 2 ;;
  *)
    exec "$role" "$@" ;;
esac
