#!/bin/bash
# Idle auto-stop, run every minute by crawl4ai-health.timer (after healthcheck.sh): powers the VM off after
# IDLE_STOP_MINUTES without a crawl request, so an unused crawler stops costing compute.
# A guest power-off ends compute billing on AWS (the instance is launched with
# InstanceInitiatedShutdownBehavior=stop) and on GCP (the instance goes TERMINATED); the disk
# and a static address are still billed. The next tool call starts it again (or `start`).
#
# "Activity" is any of, read each minute:
#   1. Crawl4AI's own request counter (/metrics, http_requests_total) moved, not counting
#      /health, /metrics and /monitor/*: `status` and health checks do not keep the VM up.
#   2. A TCP connection to Crawl4AI is open: a request is in flight (a long crawl).
#   3. Crawl4AI's container is busy (/monitor/health cpu_percent >= IDLE_BUSY_CPU):
#      a background job (/crawl/job) runs without any connection open.
# Crawl4AI's own figures are used, not a proxy's access log, because tunnel mode has no proxy
# log (cloudflared logs no requests) and both network modes reach Crawl4AI on 127.0.0.1:11235.
# If Crawl4AI does not answer, nothing counts as activity: a broken VM stops too.
set -euo pipefail

CONFIG=${IDLE_STOP_CONFIG:-/etc/crawl4ai/settings.env}
IDLE_STOP_MINUTES=0
IDLE_BUSY_CPU=10
CRAWL4AI_URL=http://127.0.0.1:11235
CRAWL4AI_ENV_FILE=/etc/crawl4ai/crawl4ai.env
# On tmpfs: a fresh boot starts with no state, and that first run counts as activity, so a VM
# woken by a tool call is not stopped before the call reaches it.
STATE_DIR=/run/crawl4ai-mcp/idle
# shellcheck source=/dev/null
[ -r "$CONFIG" ] && . "$CONFIG"

# 0 = off (minutes are checked when rendered; a bad value fails the arithmetic below)
[ "${IDLE_STOP_MINUTES:-0}" != 0 ] || exit 0

mkdir -p "$STATE_DIR"
now=$(date +%s)
port=${CRAWL4AI_URL##*:}

# The token reaches curl on stdin (-K -), never in argv.
c4ai() {
  printf 'header = "Authorization: Bearer %s"\n' "$(sed -n 's/^CRAWL4AI_API_TOKEN=//p' "$CRAWL4AI_ENV_FILE")" |
    curl -fsS -m 10 -K - "$CRAWL4AI_URL$1" 2>/dev/null
}

last=$STATE_DIR/last-activity
count=$STATE_DIR/requests
[ -s "$last" ] || echo "$now" >"$last"

active=""
# requests served, without /health, /metrics and /monitor/*
if served=$(c4ai /metrics | awk '/^http_requests_total/ && !/handler="\/(health|metrics|monitor)/ { t += $NF } END { printf "%d", t }'); then
  # a counter that moved (or went back: Crawl4AI restarted) means requests were served
  [ -s "$count" ] && [ "$served" != "$(cat "$count")" ] && active=served
  echo "$served" >"$count"
fi
# a request in flight (a long crawl)
[ -z "$active" ] && [ "$(ss -Htn state established "( dport = :$port )" | wc -l)" -gt 0 ] && active=in-flight
# a background job working: Crawl4AI's own CPU figure
if [ -z "$active" ]; then
  cpu=$(c4ai /monitor/health | sed -n 's/.*"cpu_percent" *: *\([0-9.]*\).*/\1/p') || true
  [ -n "$cpu" ] && awk -v c="$cpu" -v t="$IDLE_BUSY_CPU" 'BEGIN { exit !(c >= t) }' && active=busy
fi

if [ -n "$active" ]; then
  echo "$now" >"$last"
  exit 0
fi
idle=$((now - $(cat "$last")))
if [ "$idle" -ge $((IDLE_STOP_MINUTES * 60)) ]; then
  # on the serial console too, so the cloud's console output says why the VM stopped
  echo "crawl4ai-mcp: idle $((idle / 60)) min: powering off" | tee /dev/console 2>/dev/null || true
  systemctl poweroff
fi
