#!/usr/bin/env bash
# GET throughput of the real binary under load (wrk, 2 threads, 32
# connections, 10 s per URL) and its memory when idle and after the load.
# Prints Markdown table rows.
set -euo pipefail
bin=${1:-./nuttx-feed}
dur=${DURATION:-10s}
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
base=https://nuttx-feed.org
# --rate-limit 0: wrk is one client, far past the default per-client limit
"$bin" serve --data "$dir" --base-url $base --listen 127.0.0.1:0 --rate-limit 0 --log-format text 2>"$dir/serve.log" &
pid=$!
# The kernel picks the port; the "nuttx-feed started" line says which.
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/.* msg="nuttx-feed started" .* listen=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$dir/serve.log")
	[ -n "$port" ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
[ -n "$port" ] || { echo "bench: serve did not start:" >&2; cat "$dir/serve.log" >&2; exit 1; }
curl -sf http://127.0.0.1:$port/health >/dev/null
# The posts, made while it runs (post needs the database serve made).
for i in $(seq 1 25); do "$bin" post --data "$dir" "post $i: rv-virt:citest failed #NuttX" >/dev/null; done
note=$("$bin" post --data "$dir" "the note we fetch" | sed "s|$base||")
rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' /proc/$pid/status; }
sleep 3
for u in /users/nuttx_build "/.well-known/webfinger?resource=acct:nuttx_build@nuttx-feed.org"; do curl -s -o /dev/null -H 'Accept: application/activity+json' "http://127.0.0.1:$port$u"; done
sleep 1
idle=$(rss)
rate() { # url, accept
	wrk -t2 -c32 -d"$dur" -H "Accept: $2" "http://127.0.0.1:$port$1" | awk '/Requests\/sec/ {printf "%.0f", $2} /Non-2xx/ {print " (ERRORS: " $0 ")"}'
}
echo "| GET WebFinger, requests per second | $(rate '/.well-known/webfinger?resource=acct:nuttx_build@nuttx-feed.org' 'application/jrd+json') /s |"
echo "| GET actor (application/activity+json) | $(rate /users/nuttx_build application/activity+json) /s |"
echo "| GET note (application/activity+json) | $(rate "$note" application/activity+json) /s |"
echo "| GET outbox first page (20 Creates) | $(rate '/users/nuttx_build/outbox?page=true' application/activity+json) /s |"
echo "| GET profile page (HTML, 20 posts) | $(rate /@nuttx_build text/html) /s |"
echo "| server RSS idle / after the load | $idle MB (target < 30 MB) / $(rss) MB; peak $(awk '/^VmHWM/ {printf "%.1f", $2/1024}' /proc/$pid/status) MB |"
