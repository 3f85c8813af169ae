#!/usr/bin/env bash
# Runs every benchmark of docs/BENCHMARKS.md in one go, on this machine,
# and writes the table to bench/out/results.md. Needs ./nuttx-feed (make
# build), wrk (installed here if missing), prometheus and
# prometheus-pushgateway (make deps). Takes about 25 minutes.
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
	go run ./bench/fanout -bin ./nuttx-feed -fairness
	./bench/gets.sh ./nuttx-feed
	go test -run '^$' -bench 'BenchmarkInboxFollow$' -benchtime 3000x ./activitypub/ |
		awk '/^BenchmarkInboxFollow/ {for (i=1;i<=NF;i++) {if ($i=="follows/s") f=$(i-1); if ($i=="rsa-verify/s") v=$(i-1)}
		     printf "| inbox: verified Follows per second, key cached, one at a time | %.0f /s (a plain rsa.VerifyPKCS1v15 loop: %.0f /s) |\n", f, v}'
	go run ./bench/inboxload -bin ./nuttx-feed
	go run ./bench/followflood
	go run ./bench/feedlatency -bin ./nuttx-feed -runs 5 -intervals 1s,30s
	go run ./bench/pages -bin ./nuttx-feed
	go run ./bench/api -bin ./nuttx-feed
	go test -run '^$' -bench 'BenchmarkPoll' -benchmem -benchtime 5x ./feed/ |
		awk '/^BenchmarkPoll/ {name=($1 ~ /First/) ? "first poll (all 2,000 new: one digest)" : "steady poll (nothing new)";
		     printf "| feed: one poll with 2,000 targets failing, %s | %.0f ms, %.1f MB and %d allocations per poll |\n", name, $3/1e6, $5/1e6, $7}'
	go test -run '^$' -bench 'BenchmarkFanout$' -benchtime 1000x ./feed/ |
		awk '/^BenchmarkFanout/ {for (i=1;i<=NF;i++) {m[$i]=$(i-1)}
		     printf "| feed accounts: one failure'"'"'s transaction, 2,008 accounts followed vs none | %.1f ms vs %.1f ms (ratio %.2f); %d vs %d deliveries queued |\n",
		       m["µs/action-accounts"]/1000, m["µs/action-no-accounts"]/1000, m["ratio"], m["deliveries/action-accounts"], m["deliveries/action-no-accounts"]}'
} | tee "$out"
