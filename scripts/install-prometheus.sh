#!/usr/bin/env bash
# install-prometheus.sh makes promtool and prometheus-pushgateway available
# for the alert rule tests, from Debian's packages.
#
# It is idempotent: when both commands are already there it does nothing.
# Otherwise it installs the Debian packages `prometheus` (which ships
# promtool) and `prometheus-pushgateway` without recommended packages, and
# without leaving their services running: a temporary policy-rc.d forbids
# starting services during the install, and any unit that was started anyway
# is stopped and disabled. Must run as root on Debian or Ubuntu.
set -euo pipefail

log() { printf 'install-prometheus: %s\n' "$*" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

if have promtool && have prometheus-pushgateway; then
	log "promtool already installed: $(promtool --version 2>&1 | head -n1)"
	log "prometheus-pushgateway already installed: $(command -v prometheus-pushgateway)"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	log "must run as root to install Debian packages"
	exit 1
fi
if ! have apt-get; then
	log "apt-get not found: this script installs Debian packages"
	exit 1
fi

policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	log "writing $policy so the packages' services are not started"
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	created_policy=1
fi
cleanup() {
	if [ "$created_policy" -eq 1 ]; then
		rm -f "$policy"
	fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
apt-get update
log "apt-get install --no-install-recommends prometheus prometheus-pushgateway"
apt-get install -y --no-install-recommends prometheus prometheus-pushgateway

# On a machine with systemd the units may have been enabled; make sure
# nothing is left running or starts at the next boot.
for unit in prometheus prometheus-pushgateway; do
	if have systemctl && [ -d /run/systemd/system ]; then
		systemctl stop "$unit" >/dev/null 2>&1 || true
		systemctl disable "$unit" >/dev/null 2>&1 || true
	elif have service; then
		service "$unit" stop >/dev/null 2>&1 || true
	fi
done

for cmd in promtool prometheus-pushgateway; do
	if ! have "$cmd"; then
		log "$cmd is still missing after the install"
		exit 1
	fi
done
log "installed: $(promtool --version 2>&1 | head -n1)"
