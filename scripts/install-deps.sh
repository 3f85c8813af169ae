#!/usr/bin/env bash
# Installs what the tests need on Debian, when it is missing:
#   gcc                       go test -race needs cgo
#   chromium                  browser tests of the web pages
#   prometheus, pushgateway   the feed's tests run a real Prometheus
#   prometheus-alertmanager   the Alertmanager receiver's test runs a real Alertmanager
#   openssl                   checks the published key with a second parser
#   postgresql                the Mastodon import's tests run a real PostgreSQL
#   systemd                   systemd-analyze verifies the deployment units (docs/deploy)
# It changes nothing when everything is there already.
set -euo pipefail

need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v git >/dev/null 2>&1 || need+=(git)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: missing ${need[*]} and no apt-get to install them; install them by hand" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root (or sudo) to install ${need[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
# Debian starts the packaged services; the tests start their own instances.
for svc in prometheus prometheus-pushgateway prometheus-alertmanager prometheus-node-exporter; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
		"${sudo[@]}" systemctl stop "$svc" || true
	fi
done
# PostgreSQL: the tests run initdb and pg_ctl in a folder of their own, so
# Debian's cluster (main, on port 5432) is stopped and kept from starting.
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet postgresql 2>/dev/null; then
	"${sudo[@]}" systemctl disable --now postgresql || true
fi
if command -v pg_lsclusters >/dev/null 2>&1; then
	pg_lsclusters --no-header 2>/dev/null | while read -r version cluster _ status _; do
		if [ "$status" = online ]; then
			"${sudo[@]}" pg_ctlcluster "$version" "$cluster" stop || true
		fi
	done
fi
