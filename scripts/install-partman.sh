#!/usr/bin/env bash
# Installs pg_partman for the PostgreSQL server binaries lethe's tests use
# (Debian's postgresql-MAJOR-partman), when it is missing. Idempotent.
# The retention job's partman test and bench/retention use it; both skip it
# with a message when it is absent.
set -euo pipefail
bindir=$(bash "$(dirname "$0")/pg-bindir.sh")
major=$("$bindir/pg_config" --version 2>/dev/null | sed -E 's/^PostgreSQL ([0-9]+).*/\1/' || true)
if [ -z "$major" ]; then
  major=$("$bindir/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')
fi
sharedir="/usr/share/postgresql/$major/extension"
if [ -f "$sharedir/pg_partman.control" ]; then
  echo "pg_partman is installed for PostgreSQL $major"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "pg_partman is missing. Install it with: sudo apt-get install postgresql-$major-partman" >&2
  exit 1
fi
echo "==> installing Debian's postgresql-$major-partman package"
export DEBIAN_FRONTEND=noninteractive
# Do not start a packaged cluster if the package pulls the server in.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "postgresql-$major-partman" >/dev/null
test -f "$sharedir/pg_partman.control"
echo "pg_partman is installed for PostgreSQL $major"
