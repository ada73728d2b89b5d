#!/usr/bin/env bash
# make demo: start a throwaway PostgreSQL from the local server binaries, load
# the sample SaaS schema and data from examples/, run the purge as a dry run
# and then for real, print the report and the receipt of one erased user,
# and stop the server. Needs nothing but PostgreSQL's server binaries and Go.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-postgres.sh
BINDIR=$(bash scripts/pg-bindir.sh)
LETHE=${LETHE:-./bin/lethe}
go build -o "$LETHE" .

WORK=$(mktemp -d /tmp/lethe-demo.XXXXXX)
RUNAS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$WORK"
  RUNAS=(runuser -u postgres --)
fi
PORT=$(( 20000 + RANDOM % 20000 ))
stop() {
  "${RUNAS[@]}" "$BINDIR/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap stop EXIT

echo "==> starting a throwaway PostgreSQL on port $PORT ($BINDIR)"
"${RUNAS[@]}" "$BINDIR/initdb" -D "$WORK/data" -U postgres -A trust --no-sync >/dev/null
"${RUNAS[@]}" "$BINDIR/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w \
  -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
PSQL=("$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE demo"
echo "==> loading examples/schema.sql and examples/data.sql (1000 users)"
"${PSQL[@]}" -d demo -f examples/schema.sql
"${PSQL[@]}" -d demo -v users=1000 -f examples/data.sql

export LETHE_DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/demo?sslmode=disable"
export LETHE_POLICY=examples/policy.yaml
export LETHE_SUBJECT_HASH_KEY=demo-only-not-a-secret
export LETHE_LOG_FORMAT=${LETHE_LOG_FORMAT:-text}

echo
echo "==> lethe check: the policy against the live schema, and the plan"
"$LETHE" check
echo
echo "==> lethe --job purge --dry-run"
"$LETHE" --job purge --dry-run --summary
echo
echo "==> lethe --job purge"
"$LETHE" --job purge --summary
echo
echo "==> lethe --job purge again: nothing left to do"
"$LETHE" --job purge --summary
echo
ERASED=$(printf '%s' user10 | md5sum | cut -c1-32 | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/')
ERASED=$(printf '%s' user20 | md5sum | cut -c1-32 | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/')
echo "==> lethe receipt --subject $ERASED"
"$LETHE" receipt --subject "$ERASED"
