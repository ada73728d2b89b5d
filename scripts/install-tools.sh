#!/usr/bin/env bash
# Installs everything lethe's tests run against, on a fresh Debian machine
# with Go: PostgreSQL server binaries and pg_partman (Debian packages),
# MinIO and helm (built with go install, pinned), promtool and
# prometheus-pushgateway (Debian's prometheus packages), and staticcheck.
# Each step is idempotent and skips what is already there.
set -euo pipefail
cd "$(dirname "$0")"
STATICCHECK_VERSION=v0.8.2
bash install-postgres.sh
bash install-partman.sh
bash install-prometheus.sh
bash install-minio.sh
bash install-helm.sh
gobin="$(go env GOPATH | cut -d: -f1)/bin"
if ! command -v staticcheck >/dev/null 2>&1 && [ ! -x "$gobin/staticcheck" ]; then
  echo "==> installing staticcheck $STATICCHECK_VERSION"
  (cd "$(mktemp -d)" && GOFLAGS=-buildvcs=false go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION")
fi
