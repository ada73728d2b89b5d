#!/usr/bin/env bash
# Prints the directory that holds PostgreSQL's server binaries (initdb,
# pg_ctl, postgres, psql), newest major version first.
set -euo pipefail
if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; exit 0; fi
dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; exit 0; fi
if command -v initdb >/dev/null 2>&1; then
  dir=$(dirname "$(readlink -f "$(command -v initdb)")")
  echo "$dir"; exit 0
fi
echo "PostgreSQL server binaries not found: install Debian's postgresql package (apt-get install postgresql)" >&2
exit 1
