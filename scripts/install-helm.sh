#!/usr/bin/env bash
# install-helm.sh makes the helm CLI available for the chart tests.
#
# It is idempotent: when helm is already on PATH, or already built into
# $(go env GOPATH)/bin, it does nothing but say so. Otherwise it builds the
# pinned version from source with `go install` (needs only the Go toolchain
# and the Go module proxy; takes a few minutes on 2 cores).
#
# helm lands in $(go env GOPATH)/bin; the chart tests look there as well as
# on PATH, and for an interactive shell the script prints the PATH line to add.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"

log() { printf 'install-helm: %s\n' "$*" >&2; }

if command -v helm >/dev/null 2>&1; then
	log "helm already on PATH: $(command -v helm) ($(helm version --short 2>/dev/null || echo 'version unknown'))"
	exit 0
fi

if ! command -v go >/dev/null 2>&1; then
	log "go is not installed; it is needed to build helm"
	exit 1
fi

gobin="$(go env GOBIN)"
if [ -z "$gobin" ]; then
	gobin="$(go env GOPATH)/bin"
fi

if [ -x "$gobin/helm" ]; then
	log "helm already built: $gobin/helm ($("$gobin/helm" version --short 2>/dev/null || echo 'version unknown'))"
else
	log "building helm ${HELM_VERSION} with go install (a few minutes)"
	# Build outside any module so the project's go.mod is neither read nor changed.
	tmp="$(mktemp -d)"
	(cd "$tmp" && go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}")
	rmdir "$tmp"
	log "installed $gobin/helm ($("$gobin/helm" version --short))"
fi

case ":$PATH:" in
*":$gobin:"*) ;;
*) log "add it to PATH with: export PATH=\"$gobin:\$PATH\"" ;;
esac
