#!/usr/bin/env bash
# install-prometheus.sh makes promtool and prometheus-pushgateway available
# for the alert rule tests, from Debian's packages.
#
# It installs only what is missing: the Debian package `prometheus` (which
# ships promtool) only when promtool is absent, `prometheus-pushgateway`
# only when that command is absent, so a system's own Prometheus is never
# upgraded, stopped or reconfigured. A temporary policy-rc.d forbids
# starting services during the install, and the units of the packages this
# script installed are disabled (so nothing starts at the next boot).
# Needs root on Debian or Ubuntu, and only when something is missing.
#
# POLICY_RC_D overrides /usr/sbin/policy-rc.d (for tests).
set -euo pipefail

log() { printf 'install-prometheus: %s\n' "$*" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

packages=()
units=()
if have promtool; then
	log "promtool already installed: $(promtool --version 2>&1 | head -n1)"
else
	packages+=(prometheus)
	units+=(prometheus)
fi
if have prometheus-pushgateway; then
	log "prometheus-pushgateway already installed: $(command -v prometheus-pushgateway)"
else
	packages+=(prometheus-pushgateway)
	units+=(prometheus-pushgateway)
fi
if [ ${#packages[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	log "must run as root to install Debian packages: ${packages[*]}"
	exit 1
fi
if ! have apt-get; then
	log "apt-get not found: install ${packages[*]} (Debian package names) another way"
	exit 1
fi

policy="${POLICY_RC_D:-/usr/sbin/policy-rc.d}"
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
apt-get update -qq
log "apt-get install --no-install-recommends ${packages[*]}"
apt-get install -y -qq --no-install-recommends "${packages[@]}"

# The packages enable their units even when policy-rc.d keeps them from
# starting: disable (and stop, if one started anyway) only what was just
# installed.
for unit in "${units[@]}"; do
	if have deb-systemd-helper; then
		deb-systemd-helper disable "$unit.service" >/dev/null 2>&1 || true
	fi
	if have systemctl; then
		systemctl disable "$unit.service" >/dev/null 2>&1 || true
		if [ -d /run/systemd/system ]; then
			systemctl stop "$unit.service" >/dev/null 2>&1 || true
		fi
	fi
done

for cmd in promtool prometheus-pushgateway; do
	if ! have "$cmd"; then
		log "$cmd is still missing after the install"
		exit 1
	fi
done
log "installed: ${packages[*]}"
