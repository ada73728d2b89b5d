#!/usr/bin/env bash
# Installs the MinIO server that the objstore tests run against
# (internal/miniotest), by building it from source with the Go toolchain.
# Idempotent: does nothing when minio is already on PATH or in
# $(go env GOPATH)/bin. The build takes a few minutes on 2 cores.
#
# MINIO_VERSION is pinned: a module version that builds with this repo's Go.
set -euo pipefail

MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"

gobin="$(go env GOPATH | cut -d: -f1)/bin"

if command -v minio >/dev/null 2>&1; then
	echo "install-minio: minio already on PATH at $(command -v minio)"
	exit 0
fi
if [ -x "$gobin/minio" ]; then
	echo "install-minio: minio already installed at $gobin/minio"
	exit 0
fi

echo "install-minio: building github.com/minio/minio@${MINIO_VERSION} (a few minutes)"
# Run outside the repository so its go.mod is not touched.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && GOBIN="$gobin" GOFLAGS=-buildvcs=false go install "github.com/minio/minio@${MINIO_VERSION}"); then
	echo "install-minio: go install of minio ${MINIO_VERSION} failed" >&2
	exit 1
fi
if [ ! -x "$gobin/minio" ]; then
	echo "install-minio: build finished but $gobin/minio is missing" >&2
	exit 1
fi
echo "install-minio: installed $gobin/minio"
