#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries (and pg_partman, for the
# retention job's tests) when they are missing. Idempotent. Never leaves a
# system cluster running: lethe's tests and demo start their own.
set -euo pipefail
if bash "$(dirname "$0")/pg-bindir.sh" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server binaries are missing. Install them with: sudo apt-get install postgresql" >&2
  exit 1
fi
echo "==> installing Debian's postgresql package"
export DEBIAN_FRONTEND=noninteractive
# Do not start the packaged cluster.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null
bash "$(dirname "$0")/pg-bindir.sh"
