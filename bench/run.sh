#!/usr/bin/env bash
# Runs every benchmark of docs/BENCHMARKS.md in one go, on this machine,
# and writes the table to bench/out/results.md. Needs ./nuttx-feed (make
# build) and wrk (installed here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:${PATH}"
if ! command -v wrk >/dev/null; then
	sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
	"${sudo[@]}" apt-get install -y -q wrk >/dev/null
fi
mkdir -p bench/out
out=bench/out/results.md
{
	echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD)"
	echo
	echo "| measure | figure |"
	echo "|---|---|"
	go run ./bench/fanout -bin ./nuttx-feed
	./bench/gets.sh ./nuttx-feed
	go test -run '^$' -bench 'BenchmarkInboxFollow$' -benchtime 3000x ./activitypub/ |
		awk '/^BenchmarkInboxFollow/ {for (i=1;i<=NF;i++) {if ($i=="follows/s") f=$(i-1); if ($i=="rsa-verify/s") v=$(i-1)}
		     printf "| inbox: verified Follows per second, key cached, one at a time | %.0f /s (a plain rsa.VerifyPKCS1v15 loop: %.0f /s) |\n", f, v}'
} | tee "$out"
