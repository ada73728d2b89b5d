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
# make demo has just built a versioned bin/lethe: never overwrite it with an
# unversioned build. Run alone, the script builds it the way make does.
if [ ! -x "$LETHE" ]; then
  make build
  LETHE=./bin/lethe
fi
echo "==> $("$LETHE" version)"

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

uuid() { printf '%s' "$1" | md5sum | cut -c1-32 | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/'; }
UPLOADS="$WORK/uploads"
echo "==> writing upload files for user1..user40 under $UPLOADS/<user id>/"
for i in $(seq 1 40); do
  mkdir -p "$UPLOADS/$(uuid "user$i")/2026"
  echo "avatar of user$i" > "$UPLOADS/$(uuid "user$i")/avatar.png"
  echo "invoice scan of user$i" > "$UPLOADS/$(uuid "user$i")/2026/scan.pdf"
done
# The example policy's file:// location points at /var/lib/app/uploads;
# the demo runs a copy that points at the temporary directory instead.
sed "s|file:///var/lib/app/uploads/|file://$UPLOADS/|" examples/policy.yaml > "$WORK/policy.yaml"
uploads() { find "$UPLOADS" -mindepth 1 -maxdepth 1 -type d | wc -l; }

export LETHE_DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/demo?sslmode=disable"
export LETHE_POLICY="$WORK/policy.yaml"
export LETHE_SUBJECT_HASH_KEY=demo-only-not-a-secret
export LETHE_LOG_FORMAT=${LETHE_LOG_FORMAT:-text}

echo
echo "==> lethe check: the policy against the live schema, and the plan"
"$LETHE" check
echo
echo "==> upload directories before the purge: $(uploads)"
echo "==> lethe --job purge --dry-run"
"$LETHE" --job purge --dry-run --summary
echo
echo "==> lethe --job purge"
"$LETHE" --job purge --summary
echo
echo "==> upload directories: $(uploads) of 40 left; user20, user30 and user40 asked for deletion 45 days ago, user10 is on legal hold"
for u in user10 user20 user21 user30 user40; do
  if [ -d "$UPLOADS/$(uuid "$u")" ]; then echo "  $u: $(find "$UPLOADS/$(uuid "$u")" -type f | wc -l) file(s) kept"; else echo "  $u: directory removed"; fi
done
echo
echo "==> lethe --job purge again: nothing left to do"
"$LETHE" --job purge --summary
echo
ERASED=$(printf '%s' user10 | md5sum | cut -c1-32 | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/')
ERASED=$(printf '%s' user20 | md5sum | cut -c1-32 | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/')
echo "==> lethe receipt --subject $ERASED"
"$LETHE" receipt --subject "$ERASED"
