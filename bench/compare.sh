#!/usr/bin/env bash
# Measures this tree against an earlier commit in one run, alternating the
# two for each measure so that both see the same machine: the fan-out
# ratio, GET throughput, inbox Follows, the poll cost and the web pages of
# docs/BENCHMARKS.md. Usage: bench/compare.sh OLD_REV (e.g. bench/compare.sh
# 5c6f182); MEASURES="pages" (a list of fanout gets inbox poll latency pages)
# runs some only. Writes bench/out/compare.md. Needs what bench/run.sh needs;
# takes about 25 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:${PATH}"
old_rev=${1:?usage: bench/compare.sh OLD_REV}
new=$PWD
old=$(mktemp -d)/old
trap 'git worktree remove --force "$old" >/dev/null 2>&1 || true' EXIT
git worktree add -q --detach "$old" "$old_rev"
mkdir -p bench/out
(cd "$old" && CGO_ENABLED=0 go build -trimpath -o "$new/bench/out/nuttx-feed-old" .)
CGO_ENABLED=0 go build -trimpath -o bench/out/nuttx-feed-new .
if ! command -v wrk >/dev/null; then
	sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
	"${sudo[@]}" apt-get install -y -q wrk >/dev/null
fi

# Each measure runs from a tree ($1) with its binary ($2) and prints rows.
fanout() { (cd "$1" && go run ./bench/fanout -bin "$2"); }
gets() { (cd "$1" && ./bench/gets.sh "$2"); }
inbox() {
	(cd "$1" && go test -run '^$' -bench 'BenchmarkInboxFollow$' -benchtime 3000x ./activitypub/ |
		awk '/^BenchmarkInboxFollow/ {for (i=1;i<=NF;i++) {if ($i=="follows/s") f=$(i-1); if ($i=="rsa-verify/s") v=$(i-1)}
		     printf "| inbox: verified Follows per second, key cached, one at a time | %.0f /s (a plain rsa.VerifyPKCS1v15 loop: %.0f /s) |\n", f, v}')
}
poll() {
	(cd "$1" && go test -run '^$' -bench 'BenchmarkPoll' -benchmem -benchtime 5x ./feed/ |
		awk '/^BenchmarkPoll/ {name=($1 ~ /First/) ? "first poll (all 2,000 new: one digest)" : "steady poll (nothing new)";
		     printf "| feed: one poll with 2,000 targets failing, %s | %.0f ms, %.1f MB and %d allocations per poll |\n", name, $3/1e6, $5/1e6, $7}')
}
latency() { (cd "$1" && go run ./bench/feedlatency -bin "$2" -runs 5 -intervals 1s); }
# The pages are measured on one database: the old tree builds it (with its
# schema; bench/pages is copied there when it has none), the new binary
# gets a copy, which it migrates.
pages() {
	side=${2##*-}
	[ -d "$old/bench/pages" ] || cp -r bench/pages "$old/bench/"
	[ "$side" = old ] || [ -d "$new/bench/out/pages-new" ] || cp -r "$new/bench/out/pages-old" "$new/bench/out/pages-new"
	(cd "$1" && go run ./bench/pages -bin "$2" -data "$new/bench/out/pages-$side" -duration "${PAGES_DURATION:-10s}")
}
rm -rf bench/out/pages-old bench/out/pages-new

out=bench/out/compare.md
{
	echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(go version | cut -d' ' -f3): old = $(git -C "$old" rev-parse --short HEAD), new = $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
	for m in ${MEASURES:-fanout gets inbox poll latency pages}; do
		echo
		echo "### $m"
		echo
		echo "| tree | measure | figure |"
		echo "|---|---|---|"
		# The in-process benchmarks are short and noisy: alternate them
		# ROUNDS times (3) and compare the medians.
		rounds=1
		case $m in inbox | poll | pages) rounds=${ROUNDS:-3} ;; esac
		for _ in $(seq "$rounds"); do
			for side in old new; do
				if [ $side = old ]; then tree=$old; else tree=$new; fi
				$m "$tree" "$new/bench/out/nuttx-feed-$side" | sed "s/^| /| $side | /"
			done
		done
	done
} | tee "$out"
