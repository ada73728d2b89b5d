#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries (and pg_partman, for the
# retention job's tests) when they are missing. Idempotent. Never leaves a
# system cluster running: lethe's tests and demo start their own.
set -euo pipefail
ensure_user() {
  # initdb refuses to run as root: tests and the demo run the server as the
  # postgres system user, which Debian's package creates.
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "==> creating the postgres system user"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  fi
}
if bash "$(dirname "$0")/pg-bindir.sh" >/dev/null 2>&1; then
  ensure_user
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server binaries are missing. Install them with: sudo apt-get install postgresql" >&2
  exit 1
fi
echo "==> installing Debian's postgresql package"
export DEBIAN_FRONTEND=noninteractive
# Do not start the packaged cluster (and leave an existing policy alone).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null
ensure_user
bash "$(dirname "$0")/pg-bindir.sh"
